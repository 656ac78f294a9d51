// Server: the running proxy — N workers, the control thread's io_context (signals, health
// checks, reload, drain), the listeners and the shared state of the workers.
//
//   control thread (run()):  signals ─ SIGHUP ─▶ reload()      health checkers ─▶ pools
//                                     ─ SIGTERM/SIGINT ─▶ drain ─▶ (drain_timeout) ─▶ cut
//           │ post()
//           ▼
//   worker 0..N-1 threads:   own io_context, pipe pool, Stats, one SO_REUSEPORT acceptor per
//                            listener, sessions
//
// Shared by the workers, each with its own lock, never taken on the data path: the
// UpstreamPools (one per backend), the Admissions (one per listener), the MirrorSet (sink
// threads with per-worker feed pipes). Everything else a worker touches is its own.
//
// The getters marked "any thread" are what the admin endpoint calls.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "proxy/frontend/admission.hpp"
#include "proxy/frontend/listen_socket.hpp"
#include "proxy/mirror/mirror_set.hpp"
#include "proxy/ops/admin_server.hpp"
#include "proxy/ops/runtime_api.hpp"
#include "proxy/server_status.hpp"
#include "proxy/upstream/discovery.hpp"
#include "proxy/upstream/health_checker.hpp"
#include "proxy/upstream/upstream_pool.hpp"
#include "proxy/worker.hpp"

namespace spliceproxy {

struct ListenerRoute;

struct ServerOptions {
  std::string config_path;       // read again on SIGHUP
  bool log_level_fixed = false;  // --log-level given: a reload keeps the level
};

// Counts of SIGHUP reloads. generation is 1 for the config loaded at start, +1 per success.
struct ReloadCounts {
  std::uint64_t succeeded = 0;   // config_reloads_total
  std::uint64_t failed = 0;      // config_reloads_failed_total
  std::uint64_t generation = 1;  // config_generation
};

// One backend's pool as a status page shows it.
struct PoolStatus {
  std::string backend;
  std::vector<ServerStatus> servers;
};

class Server {
 public:
  Server(config::ConfigPtr config, ServerOptions options);
  ~Server();

  // Catches SIGHUP, SIGTERM and SIGINT (handled once run() runs), checks the pipe size the
  // kernel grants, resolves backends and binds every listener, logging the address each one
  // bound. Throws std::runtime_error naming the failed step; nothing is left bound.
  void open();

  // Runs the workers and the control loop: serves until SIGTERM/SIGINT, then drains (see
  // README, "Signals") and returns once every session has ended and the workers stopped.
  void run();

  // Any thread. Counters of every worker and of the control thread, summed.
  Stats stats() const;
  // Any thread. True from the first SIGTERM/SIGINT on (/readyz answers 503).
  bool draining() const { return draining_.load(std::memory_order_acquire); }
  // Any thread. The config in force (the last one loaded successfully).
  config::ConfigPtr config() const;
  // Any thread.
  ReloadCounts reloads() const;
  // Any thread. Ready: not draining, every listener bound, and each listener's backend has a
  // usable server (up by health checks and not ejected). When not ready and `why` is not
  // null, *why says which listener or backend is not.
  bool ready(std::string* why = nullptr) const;
  // Any thread. Every backend's servers with live connections, health and ejection.
  std::vector<PoolStatus> pools() const;
  // Any thread. The figures of /metrics (server_status.cpp).
  MetricsSnapshot metrics_snapshot() const;
  // Any thread. The pool of backend `name`, null when there is none.
  std::shared_ptr<UpstreamPool> pool(const std::string& name) const;
  // Any thread. What each discovered name expands to.
  std::vector<DiscoveryStatus> discovery() const { return discovery_->status(); }

 private:
  // One configured listener as the control thread keeps it.
  struct ListenerEntry {
    config::Listener config;
    std::string address;  // as bound
    std::shared_ptr<Admission> admission;
  };
  using PoolMap = std::map<std::string, std::shared_ptr<UpstreamPool>>;  // by backend name
  struct Staged;                                                         // a reload, prepared

  // Returns the pipe size the kernel granted.
  std::size_t log_pipe_limits() const;
  void wait_for_signal();
  static void block_late_signals();
  void on_signal(int signal);
  // Pools for `next`: a backend whose config did not change keeps its pool (and its health
  // and ejection state); others get a new one, their servers resolved (discovered names
  // looked up once now and followed from then on). Throws on a static name that does not
  // resolve.
  PoolMap build_pools(const config::Config& next) const;
  std::shared_ptr<UpstreamPool> make_pool(const config::Backend& backend) const;
  // Control thread, after discovery changed `pool`'s servers: health checks follow.
  void on_servers_changed(const std::shared_ptr<UpstreamPool>& pool);
  void start_checkers(const PoolMap& previous);
  std::shared_ptr<const ListenerRoute> route_for(const config::ConfigPtr& config,
                                                 const config::Listener& listener) const;
  // Opens the acceptors of `listener` on every worker, one of `sockets` each.
  void open_on_workers(const config::ConfigPtr& config, const config::Listener& listener,
                       ListenSockets sockets);
  void close_on_workers(const config::Listener& listener);

  // server_reload.cpp
  void reload();
  Staged stage(config::ConfigPtr next) const;
  void apply(Staged staged);
  std::vector<std::string> close_dropped(const Staged& staged);
  PoolMap commit(Staged& staged, const std::vector<std::string>& removed);
  void forget_unused_pools();

  // server_drain.cpp
  void begin_drain(int signal);
  void on_listeners_closed();
  void cut_sessions(const char* why);
  void on_worker_stopped();
  void finish();

  // server_status.cpp: the access log and the admin endpoint.
  void open_operations();   // in open(): opens the access log, binds the admin endpoint
  void start_operations();  // in run(), before serving
  void stop_operations();   // in run(), after the workers: the last lines are written
  // The runtime API (admin thread): GET /servers, POST /servers.
  std::vector<BackendView> backend_views() const;
  std::pair<unsigned, std::string> change_server(const std::string& body);

  ServerOptions options_;
  MirrorSet mirrors_;
  // Where sessions report when they end (server_status.cpp); outlives the workers.
  std::unique_ptr<AccessLog> access_log_;
  std::unique_ptr<SessionReports> reports_;
  Stats control_stats_;  // written on the control thread only (health checks)
  // Workers before anything holding wake-ups or routes that point into them.
  std::vector<std::unique_ptr<Worker>> workers_;
  boost::asio::io_context io_{1};  // the control thread's
  boost::asio::signal_set signals_{io_};
  boost::asio::steady_timer drain_timer_{io_};

  mutable std::mutex mutex_;  // guards what the getters read: the four below
  config::ConfigPtr config_;
  PoolMap pools_;
  std::map<std::string, ListenerEntry> listeners_;  // by listener name
  ReloadCounts reloads_;

  std::map<std::string, std::unique_ptr<HealthChecker>> checkers_;  // by backend name
  // DNS discovery's thread; stopped before the control loop's io_context goes.
  std::unique_ptr<Discovery> discovery_;
  std::atomic<bool> draining_{false};
  // Drain bookkeeping, control thread only.
  unsigned workers_closed_ = 0;
  unsigned workers_stopped_ = 0;
  std::size_t live_at_drain_ = 0;
  std::uint64_t cut_before_drain_ = 0;
  std::uint64_t ended_before_drain_ = 0;
  bool cut_ = false;

  // Operations (server_status.cpp). The admin endpoint runs on a thread of its own.
  std::size_t pipe_size_granted_ = 0;
  std::unique_ptr<AdminServer> admin_;
};

}  // namespace spliceproxy
