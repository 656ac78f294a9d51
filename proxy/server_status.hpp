// Operations of the Server: what it hands the admin endpoint and the access log. Kept apart from
// server.cpp so the engine's structure can change without touching them.
//
// Threads: the admin endpoint calls Server::metrics_snapshot(), ready() and config() on its own
// thread. They read only what is safe from any thread: Stats (single-writer atomics), the
// workers' session and pipe counts (atomics), pools and config under the Server's and the
// pools' mutexes, mirror and access log counters (atomics) and SessionTotals (mutex). Nothing
// waits for a worker.
#pragma once

#include <memory>

#include "proxy/ops/access_log.hpp"
#include "proxy/ops/metrics.hpp"
#include "proxy/ops/session_record.hpp"

namespace spliceproxy {

// The Workers' SessionReporter: adds each ended session to the byte totals and to the access
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
