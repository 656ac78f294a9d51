// UpstreamPool: picking, passive ejection, connection counts; see upstream_pool.hpp. The server
// set's changes and the admin API are in upstream_pool_servers.cpp.
#include "proxy/upstream/upstream_pool.hpp"

#include <algorithm>

#include "proxy/base/log.hpp"

namespace spliceproxy {

UpstreamPool::UpstreamPool(const config::Backend& backend)
    : backend_(backend), balancer_(backend.balance, {}, {}) {}

UpstreamPool::UpstreamPool(const config::Backend& backend, std::vector<net::Endpoint> endpoints)
    : UpstreamPool(backend) {
  for (std::size_t i = 0; i < endpoints.size(); ++i)
    set_entry_servers(i, {DiscoveredServer{endpoints[i], 0}});
}

bool UpstreamPool::healthy_locked(const UpstreamServer& server, Clock::time_point now) const {
  return server.checked_up && now >= server.ejected_until;
}

std::size_t UpstreamPool::size() const {
  const std::lock_guard lock(mutex_);
  return servers_.size();
}

std::vector<ServerRef> UpstreamPool::servers() const {
  const std::lock_guard lock(mutex_);
  return servers_;
}

bool UpstreamPool::any_healthy(Clock::time_point now) const {
  const std::lock_guard lock(mutex_);
  return std::any_of(servers_.begin(), servers_.end(), [&](const ServerRef& s) {
    return s->state == ServerAdminState::enabled && healthy_locked(*s, now);
  });
}

std::vector<ServerStatus> UpstreamPool::status(Clock::time_point now) const {
  const std::lock_guard lock(mutex_);
  std::vector<ServerStatus> out;
  for (const ServerRef& s : servers_)
    out.push_back({s->name, s->origin, s->active, s->checked_up, now < s->ejected_until,
                   s->connect_attempts, s->connect_failures, s->effective_weight(), s->state});
  return out;
}

void UpstreamPool::set_health(const ServerRef& server, bool up) {
  const std::lock_guard lock(mutex_);
  server->checked_up = up;
}

void UpstreamPool::fill_candidates(const std::vector<ServerRef>& tried, bool health,
                                   Clock::time_point now) {
  for (std::size_t i = 0; i < servers_.size(); ++i) {
    const UpstreamServer& s = *servers_[i];
    const std::size_t limit = s.max_connections;
    const bool untried = std::find(tried.begin(), tried.end(), servers_[i]) == tried.end();
    const bool room = limit == 0 || s.active < limit;
    const bool enabled = s.state == ServerAdminState::enabled;
    candidates_[i] = {enabled && untried && room && (!health || healthy_locked(s, now)), s.active};
  }
}

ServerRef UpstreamPool::pick(std::uint64_t key, const std::vector<ServerRef>& tried) {
  const std::lock_guard lock(mutex_);
  return pick_locked(key, tried);
}

ServerRef UpstreamPool::pick_locked(std::uint64_t key, const std::vector<ServerRef>& tried) {
  const auto now = Clock::now();
  fill_candidates(tried, true, now);
  auto chosen = balancer_.pick(candidates_, key);
  if (!chosen) {
    const bool any_healthy = std::any_of(servers_.begin(), servers_.end(), [&](const auto& s) {
      return s->state == ServerAdminState::enabled && healthy_locked(*s, now);
    });
    if (!any_healthy) {
      fill_candidates(tried, false, now);  // no healthy server: try the others anyway
      chosen = balancer_.pick(candidates_, key);
    }
  }
  if (!chosen) return nullptr;
  UpstreamServer& server = *servers_[*chosen];
  ++server.active;
  ++server.connect_attempts;
  return servers_[*chosen];
}

void UpstreamPool::connected(const ServerRef& server) {
  const std::lock_guard lock(mutex_);
  server->failures_in_a_row = 0;
  server->ejections_in_a_row = 0;
}

bool UpstreamPool::failed(const ServerRef& server) {
  const std::lock_guard lock(mutex_);
  UpstreamServer& state = *server;
  ++state.failures_in_a_row;
  ++state.connect_failures;
  const config::Ejection& policy = backend_.ejection;
  const auto now = Clock::now();
  if (policy.consecutive_failures == 0 || state.failures_in_a_row < policy.consecutive_failures ||
      now < state.ejected_until) {
    return false;
  }
  // Back-off doubles while the server keeps failing right after each ejection ends.
  const unsigned doublings = std::min(state.ejections_in_a_row, 20u);
  const auto back_off = std::min<config::Duration>(policy.base * (1ll << doublings), policy.max);
  state.ejected_until = now + back_off;
  ++state.ejections_in_a_row;
  log::warn("backend {} server {} ejected for {} ms after {} connect failures in a row",
            backend_.name, state.name, back_off.count(), state.failures_in_a_row);
  return true;
}

void UpstreamPool::release(const ServerRef& server) {
  const std::lock_guard lock(mutex_);
  if (server->active > 0) --server->active;
  serve_queue_locked();
}

}  // namespace spliceproxy
