// A listener's routing by the TLS ClientHello: its `tls_routes` list and `not_tls` key.
//
// Internal to config/, used by schema.cpp; tls_routes_yaml prints them back for to_yaml.cpp.
#pragma once

#include <string>
#include <vector>

#include "config/config.hpp"
#include "config/yaml_node.hpp"

namespace spliceproxy::config {

// Reads `tls_routes` and `not_tls` of the listener item `node` into `listener`, once the
// backends are known (each rule's `backend`, and `not_tls` unless `close`, must name one).
void parse_tls_routing(const YamlNode& node, Listener& listener,
                       const std::vector<Backend>& backends);

// YAML text of a listener's `tls_routes` and `not_tls`, indented for a listener item; empty
// when it routes by no hello.
std::string tls_routes_yaml(const Listener& listener);

}  // namespace spliceproxy::config
