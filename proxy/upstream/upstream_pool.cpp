// UpstreamPool: picking, passive ejection, connection counts; see upstream_pool.hpp.
#include "proxy/upstream/upstream_pool.hpp"

#include <algorithm>

#include "proxy/base/log.hpp"

namespace spliceproxy {
namespace {

std::vector<std::string> server_names(const config::Backend& backend) {
  std::vector<std::string> names;
  for (const auto& server : backend.servers)
    names.push_back(server.address.to_string());
  return names;
}

std::vector<unsigned> server_weights(const config::Backend& backend) {
  std::vector<unsigned> weights;
  for (const auto& server : backend.servers)
    weights.push_back(server.weight);
  return weights;
}

}  // namespace

UpstreamPool::UpstreamPool(const config::Backend& backend, std::vector<net::Endpoint> endpoints)
    : backend_(backend),
      candidates_(endpoints.size()),
      balancer_(backend.balance, server_names(backend), server_weights(backend)) {
  for (std::size_t i = 0; i < endpoints.size(); ++i)
    servers_.push_back(ServerState{endpoints[i], backend.servers[i].address.to_string()});
}

bool UpstreamPool::healthy_locked(std::size_t server, Clock::time_point now) const {
  const ServerState& state = servers_[server];
  return state.checked_up && now >= state.ejected_until;
}

bool UpstreamPool::healthy(std::size_t server, Clock::time_point now) const {
  const std::lock_guard lock(mutex_);
  return healthy_locked(server, now);
}

std::size_t UpstreamPool::active(std::size_t server) const {
  const std::lock_guard lock(mutex_);
  return servers_[server].active;
}

bool UpstreamPool::any_healthy(Clock::time_point now) const {
  const std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i < servers_.size(); ++i) {
    if (healthy_locked(i, now)) return true;
  }
  return false;
}

std::vector<ServerStatus> UpstreamPool::status(Clock::time_point now) const {
  const std::lock_guard lock(mutex_);
  std::vector<ServerStatus> out;
  for (const ServerState& state : servers_)
    out.push_back({state.name, state.active, state.checked_up, now < state.ejected_until,
                   state.connect_attempts, state.connect_failures});
  return out;
}

void UpstreamPool::set_health(std::size_t server, bool up) {
  const std::lock_guard lock(mutex_);
  servers_[server].checked_up = up;
}

void UpstreamPool::fill_candidates(const std::vector<std::size_t>& tried, bool health,
                                   Clock::time_point now) {
  for (std::size_t i = 0; i < servers_.size(); ++i) {
    const std::size_t limit = backend_.servers[i].max_connections;
    const bool untried = std::find(tried.begin(), tried.end(), i) == tried.end();
    const bool room = limit == 0 || servers_[i].active < limit;
    candidates_[i] = {untried && room && (!health || healthy_locked(i, now)), servers_[i].active};
  }
}

std::optional<std::size_t> UpstreamPool::pick(std::uint64_t key,
                                              const std::vector<std::size_t>& tried) {
  const auto now = Clock::now();
  const std::lock_guard lock(mutex_);
  fill_candidates(tried, true, now);
  auto chosen = balancer_.pick(candidates_, key);
  if (!chosen) {
    const bool any_healthy = std::any_of(servers_.begin(), servers_.end(), [&](const auto& s) {
      return s.checked_up && now >= s.ejected_until;
    });
    if (!any_healthy) {
      fill_candidates(tried, false, now);  // no healthy server: try the others anyway
      chosen = balancer_.pick(candidates_, key);
    }
  }
  if (chosen) {
    ++servers_[*chosen].active;
    ++servers_[*chosen].connect_attempts;
  }
  return chosen;
}

void UpstreamPool::connected(std::size_t server) {
  const std::lock_guard lock(mutex_);
  servers_[server].failures_in_a_row = 0;
  servers_[server].ejections_in_a_row = 0;
}

bool UpstreamPool::failed(std::size_t server) {
  const std::lock_guard lock(mutex_);
  ServerState& state = servers_[server];
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

void UpstreamPool::release(std::size_t server) {
  const std::lock_guard lock(mutex_);
  if (servers_[server].active > 0) --servers_[server].active;
}

}  // namespace spliceproxy
