// The schema of proxy.yaml: turns a parsed YAML document into a validated Config.
//
// Internal to config/ (it sees yaml-cpp through YamlNode); callers use load_config_*.
#pragma once

#include "config/config.hpp"
#include "config/yaml_node.hpp"

namespace spliceproxy::config {

// Upper bound of `workers`, also the cap of `workers: auto`.
inline constexpr unsigned kMaxWorkers = 256;

// Validates `root` (the document's top-level map) against the schema and returns the
// Config with every default filled in; `source` is left empty. Throws ConfigError at
// the first problem found: sections in the order workers, log, splice, listeners, backends,
// mirrors (unknown keys of a map before its values), then missing sections, then the
// listeners' references to backends, then their references to mirrors.
Config parse_config(const YamlNode& root);

}  // namespace spliceproxy::config
