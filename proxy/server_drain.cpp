// Server, the end of a run: drain on SIGTERM/SIGINT, cut what outlives drain_timeout, stop.
//
//   signal ──▶ draining_ = true, every worker closes its acceptors ──▶ "listeners closed"
//          ──▶ sessions end by themselves ─────────────────────────────▶ all workers stopped
//          └─▶ drain_timeout (or a second signal) ──▶ close the rest (shutdown) ──┘
//   all workers stopped ──▶ stop health checks and signals: run() returns.
#include <boost/asio/post.hpp>

#include "config/units.hpp"
#include "proxy/log.hpp"
#include "proxy/server.hpp"

namespace spliceproxy {

void Server::begin_drain(int signal) {
  draining_.store(true, std::memory_order_release);
  for (const auto& worker : workers_)
    live_at_drain_ += worker->active_sessions();
  cut_before_drain_ = stats().closed(CloseReason::shutdown);
  const config::Duration timeout = config()->drain_timeout;
  log::info("signal {} received: draining, up to {} for {} live sessions", signal,
            config::format_duration(timeout), live_at_drain_);
  for (auto& worker : workers_) {
    boost::asio::post(worker->io(), [this, w = worker.get()] {
      w->drain();
      boost::asio::post(io_, [this] { on_listeners_closed(); });
    });
  }
  {
    const std::lock_guard lock(mutex_);
    for (const auto& [name, entry] : listeners_)
      remove_socket_file(entry.config);
  }
  if (timeout.count() == 0) return cut_sessions("drain_timeout is 0");
  drain_timer_.expires_after(timeout);
  drain_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) cut_sessions("drain_timeout passed");
  });
}

void Server::on_listeners_closed() {
  if (++workers_closed_ == workers_.size())
    log::info("draining: listeners closed on {} workers, new connections are refused",
              workers_.size());
}

// Closes every session still live, on every worker; once per drain.
void Server::cut_sessions(const char* why) {
  if (cut_) return;
  cut_ = true;
  drain_timer_.cancel();
  std::size_t live = 0;
  for (const auto& worker : workers_)
    live += worker->active_sessions();
  log::info("draining: {}: closing {} live sessions", why, live);
  for (auto& worker : workers_)
    boost::asio::post(worker->io(), [w = worker.get()] { w->stop_all_sessions(); });
}

void Server::on_worker_stopped() {
  if (++workers_stopped_ == workers_.size()) finish();
}

void Server::finish() {
  drain_timer_.cancel();
  boost::system::error_code ignored;
  signals_.cancel(ignored);
  for (auto& [name, checker] : checkers_)
    checker->stop();
  const std::uint64_t cut = stats().closed(CloseReason::shutdown) - cut_before_drain_;
  const std::uint64_t finished = live_at_drain_ > cut ? live_at_drain_ - cut : 0;
  log::info("drained: {} of {} sessions live at the signal finished, {} closed at shutdown",
            finished, live_at_drain_, cut);
}

}  // namespace spliceproxy
