// Worker: session registry.
#include "proxy/worker.hpp"

#include <vector>

#include "proxy/session.hpp"

namespace spliceproxy {

Worker::Worker(boost::asio::io_context& io, const config::SpliceSettings& splice)
    : io_(io), pipes_(splice.pipe_size, kMaxIdlePipes, stats_) {}

void Worker::add(std::uint64_t id, std::shared_ptr<Session> session) {
  sessions_.emplace(id, std::move(session));
}

void Worker::remove(std::uint64_t id) {
  sessions_.erase(id);
}

void Worker::stop_all_sessions() {
  std::vector<std::shared_ptr<Session>> live;
  live.reserve(sessions_.size());
  for (auto& [id, session] : sessions_)
    live.push_back(session);
  for (auto& session : live)
    session->stop(CloseReason::shutdown);
}

}  // namespace spliceproxy
