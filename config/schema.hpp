// The schema of proxy.yaml: turns a parsed YAML document into a validated Config.
//
// Internal to config/ (it sees yaml-cpp through YamlNode); callers use load_config_*.
#pragma once

#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "config/config.hpp"
#include "config/yaml_node.hpp"

namespace spliceproxy::config {

// Upper bound of `workers`, also the cap of `workers: auto`.
inline constexpr unsigned kMaxWorkers = 256;

// Validates `root` (the document's top-level map) against the schema and returns the
// Config with every default filled in; `source` is left empty. Throws ConfigError at
// the first problem found: sections in the order workers, log, admin, splice, resolve, listeners,
// backends, mirrors (unknown keys of a map before its values), then missing sections, then the
// listeners' references to backends, then their references to mirrors.
Config parse_config(const YamlNode& root);

// A duration within [min, max]; `max` zero means no upper bound.
Duration parse_duration_in(const YamlNode& node, Duration min, Duration max);

// The enumerator of `values` whose to_string() is the node's text; throws "expected one
// of ..." listing them all when there is none.
template <typename Enum, std::size_t N>
Enum parse_enum(const YamlNode& node, const Enum (&values)[N]) {
  std::vector<std::string_view> names;
  for (Enum value : values) {
    if (node.text() == to_string(value)) return value;
    names.push_back(to_string(value));
  }
  node.fail_expected(fmt::format("one of {}", fmt::join(names, ", ")));
}

// ops_schema.cpp: the operations keys.
// The `log` map (level, access).
LogSettings parse_log(const YamlNode& node);
// The `admin` map; its presence enables the endpoint.
AdminSettings parse_admin(const YamlNode& node);

// discovery_schema.cpp: DNS discovery.
// A `resolve` map; absent keys keep `base`'s values.
Resolve parse_resolve(const YamlNode& node, const Resolve& base);
// The `srv` and `resolve` keys of a server entry (its address parsed already, unless srv).
void parse_server_discovery(const YamlNode& node, Server& server);

// backend_schema.cpp: the keys of pools, health and limits.
// One item of `backends[].servers`.
Server parse_server(const YamlNode& node);
// The optional keys of a `backends` item beyond name and servers (the caller checked the map).
void parse_backend_pool_keys(const YamlNode& node, Backend& backend);
// The optional keys of a `listeners` item beyond name, listen, backend and timeouts.
void parse_listener_pool_keys(const YamlNode& node, Listener& listener);

}  // namespace spliceproxy::config
