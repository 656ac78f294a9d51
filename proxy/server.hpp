// Server: the running proxy — the io_context, its worker, the listeners and the signals.
// One worker for now; the config's `workers` is honoured when several land.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "proxy/health_checker.hpp"
#include "proxy/listener.hpp"
#include "proxy/mirror_set.hpp"
#include "proxy/upstream_pool.hpp"
#include "proxy/worker.hpp"

namespace spliceproxy {

class Server {
 public:
  explicit Server(config::ConfigPtr config);

  // Checks the pipe size the kernel grants and binds every listener, logging the address
  // each one bound. Throws std::runtime_error naming the failed step; nothing is left bound.
  void open();

  // Accepts and forwards until SIGINT or SIGTERM, then closes listeners and sessions and
  // returns once the reactor has no work left.
  void run();

  // What run() does on a signal: stop accepting, close every session. Idempotent.
  void stop();

  const Stats& stats() const { return worker_.stats(); }

 private:
  void log_pipe_limits() const;
  // One pool per backend, its servers resolved (hostnames once, here, before serving).
  void open_pools();

  config::ConfigPtr config_;
  boost::asio::io_context io_;
  boost::asio::signal_set signals_;
  Worker worker_;
  std::map<std::string, std::shared_ptr<UpstreamPool>> pools_;  // by backend name
  std::vector<std::unique_ptr<HealthChecker>> checkers_;        // backends with health_check
  MirrorSet mirrors_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  bool stopped_ = false;
};

}  // namespace spliceproxy
