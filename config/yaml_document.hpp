// Turns the text of a config file into exactly one YAML document, or a ConfigError.
//
// Internal to config/ (it returns a yaml-cpp node). It works around a yaml-cpp 0.7 bug:
// YAML::LoadAll loops forever, allocating, on text such as "," that the parser cannot
// consume (jbeder/yaml-cpp#1040); here no parse loop runs more than twice.
#pragma once

#include <string>
#include <string_view>

#include <yaml-cpp/yaml.h>

namespace spliceproxy::config {

// The single document in `yaml`. Throws ConfigError, naming `source` as the file, on a
// syntax error ("invalid YAML: ..."), on text with no content ("expected a map of
// settings, got an empty file") and on a second document ("expected a single YAML
// document, got a second one", at its start).
YAML::Node load_single_document(std::string_view yaml, const std::string& source);

}  // namespace spliceproxy::config
