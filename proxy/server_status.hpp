// Operations of the Server: what it hands the admin endpoint and the access log. Kept apart from
// server.cpp so the engine's structure can change without touching them.
//
// Threads: the admin endpoint calls Server::metrics_snapshot() and Server::ready() on its own
// thread. Both post a job to the worker's io_context and wait for it (kStatusTimeout at most):
// the worker's state (Stats, pools, pipes, sessions) is read on the worker's thread, never
// concurrently. Atomics (mirror counters, access log counters) and SessionTotals (mutex) are
// read directly.
#pragma once

#include <chrono>
#include <memory>

#include "proxy/access_log.hpp"
#include "proxy/metrics.hpp"
#include "proxy/session_record.hpp"

namespace spliceproxy {

// How long the admin thread waits for a worker to answer before giving up (503).
inline constexpr auto kStatusTimeout = std::chrono::seconds(2);

// The Worker's SessionReporter: adds each ended session to the byte totals and to the access
// log (when there is one). Thread-safe.
class SessionReports final : public SessionReporter {
 public:
  explicit SessionReports(AccessLog* access_log) : access_log_(access_log) {}
  void session_ended(const SessionRecord& record) override {
    totals_.add(record);
    if (access_log_) access_log_->write(record);
  }
  const SessionTotals& totals() const { return totals_; }

 private:
  SessionTotals totals_;
  AccessLog* access_log_;
};

}  // namespace spliceproxy
