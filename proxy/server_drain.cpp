// Server, the end of a run: drain on SIGTERM/SIGINT, cut what outlives drain_timeout, stop.
//
//   signal ──▶ draining_ = true, every worker closes its acceptors ──▶ "listeners closed"
//          ──▶ sessions end by themselves ─────────────────────────────▶ all workers stopped
//          └─▶ drain_timeout (or a second signal) ──▶ close the rest (shutdown) ──┘
//   all workers stopped ──▶ stop health checks and signals: run() returns.
#include <boost/asio/post.hpp>

#include "config/units.hpp"
#include "proxy/base/log.hpp"
#include "proxy/server.hpp"

namespace spliceproxy {
namespace {

// Sessions that ended by themselves so far: every close reason except a cut at shutdown and
// except those of clients closed before a session began (denied, a bad PROXY header).
std::uint64_t ended_by_themselves(const Stats& stats) {
  std::uint64_t ended = 0;
  for (std::size_t i = 0; i < static_cast<std::size_t>(CloseReason::count); ++i) {
    const auto reason = static_cast<CloseReason>(i);
    if (reason != CloseReason::shutdown && reason != CloseReason::denied &&
        reason != CloseReason::proxy_protocol_error)
      ended += stats.closed(reason);
  }
  return ended;
}

}  // namespace

void Server::begin_drain(int signal) {
  draining_.store(true, std::memory_order_release);
  // The counts before the live sessions: one that ends in between is then counted as
  // finished (not as live), never lost.
  const Stats before = stats();
  for (const auto& worker : workers_)
    live_at_drain_ += worker->active_sessions();
  cut_before_drain_ = before.closed(CloseReason::shutdown);
  ended_before_drain_ = ended_by_themselves(before);
  const config::Duration timeout = config()->drain_timeout;
  log::info("signal {} received: draining, up to {} for {} live sessions", signal,
            config::format_duration(timeout), live_at_drain_);
  for (auto& worker : workers_) {
    worker->post([this, w = worker.get()] {
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
    worker->post([w = worker.get()] { w->stop_all_sessions(); });
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
  // Counted by how they ended, not from the number live at the signal: sessions that a
  // worker accepted between the signal and the close of its listeners count too.
  const Stats after = stats();
  const std::uint64_t cut = after.closed(CloseReason::shutdown) - cut_before_drain_;
  const std::uint64_t finished = ended_by_themselves(after) - ended_before_drain_;
  log::info("drained: {} sessions finished, {} closed at shutdown ({} live at the signal)",
            finished, cut, live_at_drain_);
}

}  // namespace spliceproxy
