// UpstreamPool: changes of the server set (DNS discovery) and the operator's state and weight
// (admin API); see upstream_pool.hpp.
#include <algorithm>

#include "proxy/upstream/upstream_pool.hpp"

namespace spliceproxy {

std::string_view to_string(ServerAdminState state) {
  switch (state) {
    case ServerAdminState::enabled:
      return "enabled";
    case ServerAdminState::drain:
      return "drain";
    case ServerAdminState::disabled:
      return "disabled";
  }
  return "unknown";
}

std::optional<ServerAdminState> parse_admin_state(std::string_view text) {
  for (auto state :
       {ServerAdminState::enabled, ServerAdminState::drain, ServerAdminState::disabled})
    if (text == to_string(state)) return state;
  return std::nullopt;
}

ServerRef UpstreamPool::make_server(std::size_t entry, const DiscoveredServer& found) const {
  const config::Server& config = backend_.servers.at(entry);
  auto server = std::make_shared<UpstreamServer>();
  server->endpoint = found.endpoint;
  // A static entry keeps the config's text (metrics labels, access log); a discovered server
  // is named by its address.
  server->name = config.discovery == config::ServerDiscovery::none ? config.address.to_string()
                                                                   : net::to_string(found.endpoint);
  server->entry = entry;
  server->origin = config.origin();
  server->max_connections = config.max_connections;
  server->weight = found.weight != 0 ? found.weight : config.weight;
  return server;
}

ServerSetChange UpstreamPool::set_entry_servers(std::size_t entry,
                                                const std::vector<DiscoveredServer>& servers) {
  std::vector<ServerRef> fresh;
  for (const DiscoveredServer& found : servers)
    fresh.push_back(make_server(entry, found));
  ServerSetChange change;
  const std::lock_guard lock(mutex_);
  std::vector<ServerRef> next;
  for (const ServerRef& old : servers_) {  // other entries' servers, and this one's that stay
    const auto same = [&](const ServerRef& s) { return s->name == old->name; };
    const bool stays = std::any_of(fresh.begin(), fresh.end(), same);
    if (old->entry != entry || stays) {
      next.push_back(old);
      continue;
    }
    old->in_pool = false;
    change.removed.push_back(old->name);
  }
  for (ServerRef& server : fresh) {
    const auto it = std::find_if(next.begin(), next.end(), [&](const ServerRef& s) {
      return s->entry == entry && s->name == server->name;
    });
    if (it == next.end()) {
      change.added.push_back(server->name);
      next.push_back(std::move(server));
    } else {
      (*it)->weight = server->weight;  // SRV weights may change; the state stays
    }
  }
  std::stable_sort(next.begin(), next.end(),
                   [](const ServerRef& a, const ServerRef& b) { return a->entry < b->entry; });
  servers_ = std::move(next);
  rebuild_balancer();
  serve_queue_locked();  // new servers have room
  return change;
}

bool UpstreamPool::set_admin(const std::string& name, std::optional<ServerAdminState> state,
                             std::optional<unsigned> weight) {
  const std::lock_guard lock(mutex_);
  bool found = false;
  for (const ServerRef& server : servers_) {
    if (server->name != name) continue;
    found = true;
    if (state) server->state = *state;
    if (weight) server->weight_override = *weight;
  }
  if (found && weight) rebuild_balancer();
  if (found) serve_queue_locked();  // an enabled server may take waiting clients
  return found;
}

void UpstreamPool::rebuild_balancer() {
  std::vector<std::string> ids;
  std::vector<unsigned> weights;
  for (const ServerRef& server : servers_) {
    ids.push_back(server->name);
    weights.push_back(server->effective_weight());
  }
  balancer_ = Balancer(backend_.balance, ids, std::move(weights));
  candidates_.assign(servers_.size(), Candidate{});
}

}  // namespace spliceproxy
