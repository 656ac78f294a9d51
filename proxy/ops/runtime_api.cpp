// The runtime API's JSON: listing and change parsing; see runtime_api.hpp.
#include "proxy/ops/runtime_api.hpp"

#include <nlohmann/json.hpp>

namespace spliceproxy {
namespace {

using json = nlohmann::json;

constexpr unsigned kMaxWeight = 256;
constexpr const char* kNote =
    "changes made here are kept while the address stays in its pool and lost on restart";

json server_object(const ServerStatus& s) {
  return json{{"address", s.address},
              {"origin", s.origin},
              {"state", std::string(to_string(s.state))},
              {"weight", s.weight},
              {"active", s.active},
              {"healthy", s.checked_up && !s.ejected},
              {"checked_up", s.checked_up},
              {"ejected", s.ejected},
              {"connect_attempts", s.connect_attempts},
              {"connect_failures", s.connect_failures}};
}

json name_object(const DiscoveryStatus& d) {
  return json{{"name", d.name},
              {"last_result", d.last_result},
              {"last_error", d.last_error},
              {"stale", d.stale},
              {"servers", d.servers}};
}

// The value of `key` in `body` as a string, or an error.
std::optional<std::string> string_field(const json& body, const char* key, std::string& error) {
  const auto it = body.find(key);
  if (it == body.end() || !it->is_string()) {
    error = std::string(key) + ": expected a string";
    return std::nullopt;
  }
  return it->get<std::string>();
}

}  // namespace

std::string servers_json(const std::vector<BackendView>& backends) {
  json list = json::array();
  for (const BackendView& backend : backends) {
    json servers = json::array();
    for (const ServerStatus& server : backend.servers)
      servers.push_back(server_object(server));
    json names = json::array();
    for (const DiscoveryStatus& name : backend.names)
      names.push_back(name_object(name));
    list.push_back(json{{"name", backend.name},
                        {"queued", backend.queued},
                        {"servers", std::move(servers)},
                        {"discovery", std::move(names)}});
  }
  return json{{"backends", std::move(list)}, {"note", kNote}}.dump(2) + "\n";
}

std::string server_json(const ServerStatus& server) {
  return server_object(server).dump(2) + "\n";
}

std::string config_with_discovery(const std::string& config_json,
                                  const std::vector<DiscoveryStatus>& names) {
  json config = json::parse(config_json, nullptr, false);
  if (config.is_discarded() || !config.is_object()) return config_json;
  json discovered = json::object();
  for (const DiscoveryStatus& name : names)
    discovered[name.backend][name.name] = name.servers;
  config["discovered"] = std::move(discovered);
  return config.dump();
}

std::string error_json(std::string_view message) {
  return json{{"error", message}}.dump() + "\n";
}

ParsedChange parse_server_change(std::string_view text) {
  const json body = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return {std::nullopt, "the body is not JSON"};
  if (!body.is_object()) return {std::nullopt, "the body must be a JSON object"};
  for (const auto& [key, value] : body.items()) {
    if (key != "backend" && key != "server" && key != "state" && key != "weight")
      return {std::nullopt, "unknown key \"" + key + "\" (backend, server, state, weight)"};
  }
  std::string error;
  ServerChange change;
  const auto backend = string_field(body, "backend", error);
  const auto server = backend ? string_field(body, "server", error) : std::nullopt;
  if (!server) return {std::nullopt, error};
  change.backend = *backend;
  change.server = *server;
  if (const auto it = body.find("state"); it != body.end()) {
    change.state = it->is_string() ? parse_admin_state(it->get<std::string>()) : std::nullopt;
    if (!change.state) return {std::nullopt, "state: expected enabled, drain or disabled"};
  }
  if (const auto it = body.find("weight"); it != body.end()) {
    if (!it->is_number_unsigned() || it->get<std::uint64_t>() < 1 ||
        it->get<std::uint64_t>() > kMaxWeight)
      return {std::nullopt, "weight: expected an integer from 1 to 256"};
    change.weight = static_cast<unsigned>(it->get<std::uint64_t>());
  }
  if (!change.state && !change.weight)
    return {std::nullopt, "nothing to change: give state or weight"};
  return {change, {}};
}

}  // namespace spliceproxy
