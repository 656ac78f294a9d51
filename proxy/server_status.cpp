// Server operations: the access log and the admin endpoint wired to the running proxy, and
// the /metrics snapshot (threads: see server_status.hpp).
#include "proxy/base/log.hpp"
#include "proxy/server.hpp"

namespace spliceproxy {

void Server::open_operations() {
  if (config_->log.access != "off") access_log_ = std::make_unique<AccessLog>(config_->log.access);
  reports_ = std::make_unique<SessionReports>(access_log_.get());
  for (auto& worker : workers_)
    worker->set_reporter(reports_.get());
  if (!config_->admin.enabled) return;
  AdminHandlers handlers;
  handlers.metrics = [this] { return render_metrics(metrics_snapshot()); };
  handlers.ready = [this](std::string& reason) { return ready(&reason); };
  handlers.config_json = [this] { return config::to_json(*config()); };
  admin_ = std::make_unique<AdminServer>(config_->admin.listen, std::move(handlers));
  admin_->open();
  log::info("admin listening on {}", admin_->local_address());
}

void Server::start_operations() {
  if (access_log_) access_log_->start();
  if (admin_) admin_->start();
}

void Server::stop_operations() {
  if (admin_) admin_->stop();
  // A writer blocked on its output is left to the process exit, its AccessLog with it.
  if (access_log_ && !access_log_->stop()) (void)access_log_.release();
}

MetricsSnapshot Server::metrics_snapshot() const {
  MetricsSnapshot s;
  s.stats = stats();
  for (const auto& worker : workers_) {
    s.sessions_active += worker->active_sessions();
    s.pipes_in_use += worker->pipes().in_use();
    s.pipes_pooled += worker->pipes().idle();
  }
  const SessionTotals& totals = reports_->totals();
  for (const auto& listener : config()->listeners)
    s.listeners.push_back(
        {listener.name, totals.listener(listener.name), totals.rate_limited(listener.name)});
  for (const PoolStatus& pool : pools()) {
    for (const ServerStatus& server : pool.servers) {
      s.servers.push_back({pool.backend, server.address, server.checked_up && !server.ejected,
                           server.active, server.connect_attempts, server.connect_failures,
                           totals.server(pool.backend, server.address)});
    }
  }
  for (const auto& sink : mirrors_.sinks()) {
    const MirrorCounters& c = sink->counters();
    s.mirrors.push_back({sink->name(), c.bytes.load(), c.dropped_bytes.load(), c.gaps.load()});
  }
  s.tls_routes = totals.tls_routes();
  s.pipe_size_bytes = pipe_size_granted_;
  if (access_log_) {
    s.access_log_lines = access_log_->lines();
    s.access_log_dropped = access_log_->dropped();
  }
  s.config_generation = reloads().generation;
  return s;
}

}  // namespace spliceproxy
