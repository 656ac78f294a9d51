// Server operations: the access log and the admin endpoint wired to the running proxy, and
// the /metrics snapshot (threads: see server_status.hpp).
#include <boost/asio/ip/address.hpp>
#include <fstream>
#include <sstream>

#include "proxy/base/log.hpp"
#include "proxy/ops/runtime_api.hpp"
#include "proxy/server.hpp"

namespace spliceproxy {
namespace {

// The bearer token in admin.token_file (surrounding whitespace dropped). Throws when the file
// cannot be read or holds no token: the proxy does not start with an open runtime API.
std::string read_token(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) throw std::runtime_error("admin: token_file " + path + ": cannot be read");
  std::string token = text.str();
  const auto first = token.find_first_not_of(" \t\r\n");
  const auto last = token.find_last_not_of(" \t\r\n");
  if (first == std::string::npos)
    throw std::runtime_error("admin: token_file " + path + " is empty");
  return token.substr(first, last - first + 1);
}

bool is_loopback(const config::Address& address) {
  boost::system::error_code ec;
  const auto ip = boost::asio::ip::make_address(address.host, ec);
  return ec ? address.host == "localhost" : ip.is_loopback();
}

}  // namespace

std::vector<BackendView> Server::backend_views() const {
  std::vector<BackendView> out;
  const std::vector<DiscoveryStatus> names = discovery_->status();
  const std::lock_guard lock(mutex_);
  const auto now = Clock::now();
  for (const auto& [name, pool] : pools_) {
    BackendView view{name, pool->queued(), pool->status(now), {}};
    for (const DiscoveryStatus& entry : names)
      if (entry.backend == name) view.names.push_back(entry);
    out.push_back(std::move(view));
  }
  return out;
}

std::pair<unsigned, std::string> Server::change_server(const std::string& body) {
  const ParsedChange parsed = parse_server_change(body);
  if (!parsed.change) return {400, error_json(parsed.error)};
  const ServerChange& change = *parsed.change;
  const auto target = pool(change.backend);
  if (!target) return {404, error_json("no backend " + change.backend)};
  if (!target->set_admin(change.server, change.state, change.weight))
    return {404, error_json("backend " + change.backend + " has no server " + change.server)};
  log::info("admin: backend {} server {}{}{}{}", change.backend, change.server,
            change.state ? " set to " : "", change.state ? to_string(*change.state) : "",
            change.weight ? " weight " + std::to_string(*change.weight) : "");
  for (const ServerStatus& server : target->status(Clock::now()))
    if (server.address == change.server) return {200, server_json(server)};
  return {200, "{}\n"};
}

void Server::open_operations() {
  if (config_->log.access != "off") access_log_ = std::make_unique<AccessLog>(config_->log.access);
  reports_ = std::make_unique<SessionReports>(access_log_.get());
  for (auto& worker : workers_)
    worker->set_reporter(reports_.get());
  if (!config_->admin.enabled) return;
  AdminHandlers handlers;
  handlers.metrics = [this] { return render_metrics(metrics_snapshot()); };
  handlers.ready = [this](std::string& reason) { return ready(&reason); };
  handlers.config_json = [this] {
    return config_with_discovery(config::to_json(*config()), discovery_->status());
  };
  handlers.servers_json = [this] { return servers_json(backend_views()); };
  handlers.change_server = [this](const std::string& body) { return change_server(body); };
  AdminAuth auth;
  if (!config_->admin.token_file.empty()) auth.token = read_token(config_->admin.token_file);
  auth.loopback_only = is_loopback(config_->admin.listen);
  if (auth.token.empty() && !auth.loopback_only)
    log::warn("admin: no token_file: the runtime API (POST /servers) is refused on {}",
              config_->admin.listen.to_string());
  admin_ = std::make_unique<AdminServer>(config_->admin.listen, std::move(handlers), auth);
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
                           totals.server(pool.backend, server.address), server.weight,
                           std::string(to_string(server.state))});
    }
  }
  {
    const std::lock_guard lock(mutex_);
    for (const auto& [name, pool] : pools_)
      s.backends.push_back({name, pool->size(), pool->queued()});
  }
  for (const DiscoveryStatus& d : discovery_->status())
    s.discovery.push_back({d.backend, d.name, d.stale, d.servers.size()});
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
