// Server operations: the access log and the admin endpoint wired to the running proxy, the
// /metrics snapshot and the /readyz verdict (threads: see server_status.hpp).
#include <boost/asio/post.hpp>
#include <csignal>
#include <future>
#include <type_traits>

#include "proxy/log.hpp"
#include "proxy/server.hpp"

namespace spliceproxy {
namespace {

// Runs `job` on `io`'s thread and returns its result, or nullopt when it did not run within
// kStatusTimeout (the reactor busy or already stopped).
template <typename Job>
auto run_on(boost::asio::io_context& io, Job job) -> std::optional<std::invoke_result_t<Job>> {
  using Result = std::invoke_result_t<Job>;
  auto promise = std::make_shared<std::promise<Result>>();
  auto future = promise->get_future();
  boost::asio::post(io, [promise, job = std::move(job)]() mutable { promise->set_value(job()); });
  if (future.wait_for(kStatusTimeout) != std::future_status::ready) return std::nullopt;
  return future.get();
}

}  // namespace

void Server::open_operations() {
  if (config_->log.access != "off") access_log_ = std::make_unique<AccessLog>(config_->log.access);
  reports_ = std::make_unique<SessionReports>(access_log_.get());
  worker_.set_reporter(reports_.get());
  if (!config_->admin.enabled) return;
  AdminHandlers handlers;
  handlers.metrics = [this]() -> std::optional<std::string> {
    const auto snapshot = metrics_snapshot();
    if (!snapshot) return std::nullopt;
    return render_metrics(*snapshot);
  };
  handlers.ready = [this](std::string& reason) { return ready(reason); };
  handlers.config_json = [config = config_] { return config::to_json(*config); };
  admin_ = std::make_unique<AdminServer>(config_->admin.listen, std::move(handlers));
  admin_->open();
  log::info("admin listening on {}", admin_->local_address());
}

void Server::start_operations() {
  if (access_log_) access_log_->start();
  if (admin_) admin_->start();
  // Always caught, so that SIGUSR1 never ends the process, whatever the access log target.
  reopen_signal_.emplace(io_, SIGUSR1);
  wait_for_reopen();
}

void Server::wait_for_reopen() {
  reopen_signal_->async_wait([this](const boost::system::error_code& ec, int) {
    if (ec) return;
    if (access_log_) access_log_->reopen();
    wait_for_reopen();
  });
}

void Server::cancel_operations() {
  boost::system::error_code ignored;
  if (reopen_signal_) reopen_signal_->cancel(ignored);
}

void Server::stop_operations() {
  if (admin_) admin_->stop();
  if (access_log_) access_log_->stop();
}

void Server::fill_from_worker(MetricsSnapshot& s) {
  s.stats = worker_.stats();
  s.sessions_active = worker_.active_sessions();
  s.pipes_in_use = worker_.pipes().in_use();
  s.pipes_pooled = worker_.pipes().idle();
  const auto now = Clock::now();
  for (const auto& backend : config_->backends) {
    const UpstreamPool& pool = *pools_.at(backend.name);
    for (std::size_t i = 0; i < pool.size(); ++i) {
      ServerFigures f;
      f.backend = backend.name;
      f.server = backend.servers[i].address.to_string();
      f.healthy = pool.healthy(i, now);
      f.active = pool.active(i);
      f.connect_attempts = pool.connect_attempts(i);
      f.connect_failures = pool.connect_failures(i);
      s.servers.push_back(std::move(f));
    }
  }
}

std::optional<MetricsSnapshot> Server::metrics_snapshot() {
  auto snapshot = run_on(io_, [this] {
    MetricsSnapshot s;
    fill_from_worker(s);
    return s;
  });
  if (!snapshot) return std::nullopt;
  MetricsSnapshot& s = *snapshot;
  for (const auto& listener : config_->listeners)
    s.listeners.push_back({listener.name, reports_->totals().listener(listener.name)});
  for (auto& server : s.servers)
    server.bytes = reports_->totals().server(server.backend, server.server);
  for (const auto& sink : mirrors_.sinks()) {
    const MirrorCounters& c = sink->counters();
    s.mirrors.push_back({sink->name(), c.bytes.load(), c.dropped_bytes.load(), c.gaps.load()});
  }
  s.pipe_size_bytes = pipe_size_granted_;
  if (access_log_) {
    s.access_log_lines = access_log_->lines();
    s.access_log_dropped = access_log_->dropped();
  }
  // Reloads are not built yet: one configuration, loaded at start.
  s.config_reloads_succeeded = 0;
  s.config_reloads_failed = 0;
  s.config_generation = 1;
  return snapshot;
}

bool Server::ready(std::string& reason) {
  auto verdict = run_on(io_, [this]() -> std::string {
    if (stopped_) return "stopping";
    const auto now = Clock::now();
    for (const auto& listener : config_->listeners) {
      const UpstreamPool& pool = *pools_.at(listener.backend);
      bool usable = false;
      for (std::size_t i = 0; i < pool.size() && !usable; ++i)
        usable = pool.healthy(i, now);
      if (!usable)
        return fmt::format("listener {}: backend {} has no usable server", listener.name,
                           listener.backend);
    }
    return {};
  });
  if (!verdict) {
    reason = "the worker did not answer";
    return false;
  }
  reason = *verdict;
  return reason.empty();
}

}  // namespace spliceproxy
