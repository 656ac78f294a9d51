// HealthChecker: active health checks of one backend's servers, on the control thread (once
// for all workers: the pool it reports to is shared).
//
//   every interval (+ random jitter), per server:
//     connect ──▶ [PROXY header] [send `send`] ──▶ [read len(expect) bytes, compare] ──▶ pass
//        └───────── refused, reset, wrong reply, or `timeout` passed ──▶ fail
//   `rise` passes in a row mark a down server up; `fall` failures in a row mark an up
//   server down. Servers start up. Each change is logged and counted, and given to the pool.
//
// The PROXY header (v2 LOCAL, v1 UNKNOWN) goes first when the backend has proxy_protocol.
// One probe per server, each with one socket and one timer (the interval, then the check's
// timeout); a generation number makes completions of an abandoned check no-ops.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <vector>

#include "proxy/base/stats.hpp"

namespace spliceproxy {

class UpstreamPool;

class HealthChecker {
 public:
  // `pool`'s backend must have health_check.enabled.
  HealthChecker(boost::asio::io_context& io, std::shared_ptr<UpstreamPool> pool, Stats& stats);
  ~HealthChecker();

  // Schedules the first check of every server, one interval (plus jitter) from now.
  void start();
  // Cancels every pending check; idempotent.
  void stop();

 private:
  class Probe;
  std::vector<std::shared_ptr<Probe>> probes_;
};

}  // namespace spliceproxy
