// Server: the running proxy — the io_context, its worker, the listeners and the signals.
// One worker for now; the config's `workers` is honoured when several land.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "proxy/admin_server.hpp"
#include "proxy/health_checker.hpp"
#include "proxy/listener.hpp"
#include "proxy/mirror_set.hpp"
#include "proxy/server_status.hpp"
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

  // --- Operations (server_status.cpp) ---
  // Any thread: the figures of /metrics; nullopt when the worker did not answer in time.
  std::optional<MetricsSnapshot> metrics_snapshot();
  // Any thread: whether the proxy is ready for traffic; when not, `reason` says why.
  bool ready(std::string& reason);

 private:
  // Returns the pipe size the kernel granted.
  std::size_t log_pipe_limits() const;
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
  // --- Operations (server_status.cpp) ---
  void open_operations();    // in open(): opens the access log, binds the admin endpoint
  void start_operations();   // in run(), before serving
  void stop_operations();    // in run(), once the reactor is done: last lines written
  void cancel_operations();  // in stop(): the reactor's operations work ends (SIGUSR1 wait)
  void wait_for_reopen();    // SIGUSR1: the access log file is reopened
  void fill_from_worker(MetricsSnapshot& snapshot);  // on the worker's thread
  std::size_t pipe_size_granted_ = 0;
  std::unique_ptr<AccessLog> access_log_;
  std::unique_ptr<SessionReports> reports_;
  std::unique_ptr<AdminServer> admin_;
  std::optional<boost::asio::signal_set> reopen_signal_;  // SIGUSR1
};

}  // namespace spliceproxy
