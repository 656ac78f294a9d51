// The `mirrors` section of proxy.yaml and the `mirrors` key of a listener.
//
// Internal to config/, used by schema.cpp; to_yaml_mirrors prints both back for to_yaml.cpp.
#pragma once

#include <string>
#include <vector>

#include "config/config.hpp"
#include "config/yaml_node.hpp"

namespace spliceproxy::config {

// The top-level `mirrors` list: unique names, and for each type exactly its own keys
// (pcapng_file: path, max_size, keep; pcapng_tcp and shadow: address).
std::vector<Mirror> parse_mirrors(const YamlNode& node);

// A listener's `mirrors` list; each `mirror` must name one of `mirrors`, at most once.
std::vector<MirrorRef> parse_mirror_refs(const YamlNode& node, const std::vector<Mirror>& mirrors);

// YAML text of the `mirrors` section (empty when there is none), and of a listener's
// `mirrors` key indented for a listener item (empty when it has none).
std::string mirrors_yaml(const std::vector<Mirror>& mirrors);
std::string mirror_refs_yaml(const std::vector<MirrorRef>& refs);

}  // namespace spliceproxy::config
