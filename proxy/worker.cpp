// Worker: thread, session registry, acceptors.
#include "proxy/worker.hpp"

#include <exception>
#include <vector>

#include "proxy/base/log.hpp"
#include "proxy/listener.hpp"
#include "proxy/session.hpp"

namespace spliceproxy {

Worker::Worker(unsigned index, unsigned count, const config::SpliceSettings& splice,
               MirrorSet* mirrors)
    : index_(index),
      count_(count),
      mirrors_(mirrors),
      pipes_(splice.pipe_size, kMaxIdlePipes, stats_),
      guard_(io_.get_executor()) {}

Worker::~Worker() {
  join();
}

void Worker::start(std::function<void()> on_stopped) {
  thread_ = std::thread([this, on_stopped = std::move(on_stopped)] {
    // A handler that throws (bad_alloc) ends run() but not the worker: its listening sockets
    // still get their share of new connections, so it must go on serving them. Asio allows
    // run() again without restart().
    for (;;) {
      try {
        io_.run();
        break;
      } catch (const std::exception& error) {
        log::error("worker {}: a handler failed, serving on: {}", index_, error.what());
      }
    }
    on_stopped();
  });
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::add(std::uint64_t id, std::shared_ptr<Session> session) {
  sessions_.emplace(id, std::move(session));
  live_.store(sessions_.size(), std::memory_order_relaxed);
}

void Worker::remove(std::uint64_t id) {
  sessions_.erase(id);
  live_.store(sessions_.size(), std::memory_order_relaxed);
}

void Worker::open_listener(std::shared_ptr<const ListenerRoute> route, UniqueFd fd) {
  auto listener = std::make_shared<Listener>(*this, std::move(route), std::move(fd));
  listener->start();
  listeners_[listener->name()] = std::move(listener);
}

void Worker::set_route(std::shared_ptr<const ListenerRoute> route) {
  const auto it = listeners_.find(route->listener->name);
  if (it != listeners_.end()) it->second->set_route(std::move(route));
}

void Worker::close_listener(const std::string& name) {
  const auto it = listeners_.find(name);
  if (it == listeners_.end()) return;
  it->second->close();
  listeners_.erase(it);
}

void Worker::drain() {
  for (auto& [name, listener] : listeners_)
    listener->close();
  listeners_.clear();
  guard_.reset();
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
