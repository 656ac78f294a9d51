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
// The set of servers may change (DNS discovery): sync() starts probes for servers new to the
// pool and stops those of servers that left it; a server that stays keeps its probe and state.
// One probe per server, each with one socket and one timer (the interval, then the check's
// timeout); a generation number makes completions of an abandoned check no-ops.
#pragma once

#include <boost/asio/io_context.hpp>
#include <map>
#include <memory>

#include "proxy/base/stats.hpp"

namespace spliceproxy {

class UpstreamPool;
struct UpstreamServer;

class HealthChecker {
 public:
  // `pool`'s backend must have health_check.enabled.
  HealthChecker(boost::asio::io_context& io, std::shared_ptr<UpstreamPool> pool, Stats& stats);
  ~HealthChecker();

  // Schedules the first check of every server, one interval (plus jitter) from now.
  void start();
  // After the pool's server set changed: probes for the servers new to it (first check one
  // interval from now), none for those gone. Does nothing before start() or after stop().
  void sync();
  // Cancels every pending check; idempotent.
  void stop();

 private:
  class Probe;
  boost::asio::io_context& io_;
  std::shared_ptr<UpstreamPool> pool_;
  Stats& stats_;
  bool started_ = false;
  std::map<const UpstreamServer*, std::shared_ptr<Probe>> probes_;  // by server
};

}  // namespace spliceproxy
