// A listener's rate and bandwidth limits: its `max_connection_rate` and `bandwidth` keys.
//
// Internal to config/, used by backend_schema.cpp (the listener's limit keys) and to_yaml.cpp.
#pragma once

#include <string>

#include "config/config.hpp"
#include "config/yaml_node.hpp"

namespace spliceproxy::config {

// `max_connection_rate: {rate: 100/s, burst: 20, over_limit: close|wait,
//                        per_source: {rate: 10/s, burst: 5}}`; every key optional.
ConnectionRateLimit parse_connection_rate(const YamlNode& node);

// `bandwidth: {client_to_backend: 10MiB/s, backend_to_client: 50MiB/s,
//              listener: {client_to_backend: ..., backend_to_client: ...}}`; every key optional.
Bandwidth parse_bandwidth(const YamlNode& node);

// YAML text of both keys, indented for a listener item; empty for what is not limited.
std::string listener_rate_limits_yaml(const Listener& listener);

}  // namespace spliceproxy::config
