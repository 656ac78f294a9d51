// The admin endpoint's runtime API, as pure functions over JSON text (nlohmann::json): the
// listing of backends and servers (GET /servers) and the reading of a change to one server
// (POST /servers). The Server applies changes to its pools (server_status.cpp); AdminServer
// checks the bearer token before a change reaches here.
//
//   POST /servers  {"backend": "app", "server": "10.0.0.7:8080", "state": "drain", "weight": 5}
//   state: enabled | drain (no new session, live ones go on) | disabled (the same, and shown as
//   out of service); weight: 1..256. At least one of the two. Kept while the address stays in
//   the pool (DNS updates that keep it included); lost on restart and when the address leaves.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/upstream/discovery.hpp"
#include "proxy/upstream/upstream_pool.hpp"

namespace spliceproxy {

// One backend as GET /servers lists it.
struct BackendView {
  std::string name;
  std::size_t queued = 0;
  std::vector<ServerStatus> servers;
  std::vector<DiscoveryStatus> names;  // its discovered entries
};

// {"backends": [{"name", "queued", "servers": [...], "discovery": [...]}], "note": ...}
std::string servers_json(const std::vector<BackendView>& backends);
// One server's object, as in the listing.
std::string server_json(const ServerStatus& server);

struct ServerChange {
  std::string backend;
  std::string server;
  std::optional<ServerAdminState> state;
  std::optional<unsigned> weight;
};

// A change, or the reason the body is refused ("weight: expected an integer from 1 to 256").
struct ParsedChange {
  std::optional<ServerChange> change;
  std::string error;
};
ParsedChange parse_server_change(std::string_view body);

// /config: the effective config's JSON with a "discovered" key added: per backend, what each
// DNS name expands to now.
std::string config_with_discovery(const std::string& config_json,
                                  const std::vector<DiscoveryStatus>& names);

// {"error": message}
std::string error_json(std::string_view message);

}  // namespace spliceproxy
