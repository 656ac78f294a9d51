// Loading entry points, ConfigError and the small helpers of config.hpp.
//
// Reading the file happens here; parsing the YAML in yaml_document.cpp, the schema in
// schema.cpp, the text forms of values in units.cpp and address.cpp, printing in to_yaml.cpp.
#include "config/config.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "config/schema.hpp"
#include "config/yaml_document.hpp"
#include "config/yaml_node.hpp"

namespace spliceproxy::config {
namespace {

// "FILE:LINE:COL: PATH: MESSAGE", leaving out the position when there is none
// (line 0) and the path when the error is about the document as a whole.
std::string format_error(const std::string& file, int line, int column, const std::string& path,
                         const std::string& message) {
  std::string out = file;
  if (line > 0) out += fmt::format(":{}:{}", line, column);
  out += ": ";
  if (!path.empty()) out += path + ": ";
  return out + message;
}

// The whole content of `path`; throws "FILE: cannot read: <strerror>" on failure.
std::string read_file(const std::string& path) {
  const auto fail = [&path](int error) {
    throw ConfigError(path, 0, 0, "", fmt::format("cannot read: {}", std::strerror(error)));
  };
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                       &std::fclose);
  if (!file) fail(errno);
  std::string content;
  char buffer[16 * 1024];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) {
    content.append(buffer, n);
  }
  // A directory opens fine and fails here, with EISDIR.
  if (std::ferror(file.get())) fail(errno);
  return content;
}

}  // namespace

ConfigError::ConfigError(std::string file, int line, int column, std::string path,
                         std::string message)
    : std::runtime_error(format_error(file, line, column, path, message)),
      file_(std::move(file)),
      line_(line),
      column_(column),
      path_(std::move(path)) {}

std::string_view to_string(LogLevel level) {
  switch (level) {
    case LogLevel::debug:
      return "debug";
    case LogLevel::info:
      return "info";
    case LogLevel::warn:
      return "warn";
    case LogLevel::error:
      return "error";
  }
  return "unknown";
}

std::string_view to_string(SpliceMode mode) {
  switch (mode) {
    case SpliceMode::splice:
      return "splice";
    case SpliceMode::copy:
      return "copy";
    case SpliceMode::automatic:
      return "auto";
  }
  return "unknown";
}

std::string_view to_string(BalancePolicy policy) {
  switch (policy) {
    case BalancePolicy::round_robin:
      return "round_robin";
    case BalancePolicy::least_connections:
      return "least_connections";
    case BalancePolicy::random:
      return "random";
    case BalancePolicy::source_hash:
      return "source_hash";
  }
  return "unknown";
}

const Backend& Config::backend_of(const Listener& listener) const {
  for (const Backend& backend : backends) {
    if (backend.name == listener.backend) return backend;
  }
  // Only a Config built by hand can get here; load_config_* checks every reference.
  throw std::logic_error(
      fmt::format("listener '{}' refers to unknown backend '{}'", listener.name, listener.backend));
}

Config load_config_string(std::string_view yaml, const std::string& source_name) {
  const YAML::Node document = load_single_document(yaml, source_name);
  Config config;
  try {
    config = parse_config(YamlNode(document, source_name, yaml));
  } catch (const YAML::Exception& e) {
    // yaml-cpp should not throw past parsing; if it does, still report a position.
    const bool known = e.mark.line >= 0 && e.mark.column >= 0;
    throw ConfigError(source_name, known ? e.mark.line + 1 : 0, known ? e.mark.column + 1 : 0, "",
                      e.msg);
  }
  config.source = source_name;
  return config;
}

Config load_config_file(const std::string& path) {
  return load_config_string(read_file(path), path);
}

}  // namespace spliceproxy::config

namespace spliceproxy::config {

std::string_view to_string(MirrorType type) {
  switch (type) {
    case MirrorType::pcapng_file:
      return "pcapng_file";
    case MirrorType::pcapng_tcp:
      return "pcapng_tcp";
    case MirrorType::shadow:
      return "shadow";
  }
  return "unknown";
}

std::string_view to_string(MirrorDirection direction) {
  switch (direction) {
    case MirrorDirection::client_to_backend:
      return "client_to_backend";
    case MirrorDirection::backend_to_client:
      return "backend_to_client";
    case MirrorDirection::both:
      return "both";
  }
  return "unknown";
}

std::string_view to_string(ProxyProtocol mode) {
  switch (mode) {
    case ProxyProtocol::off:
      return "off";
    case ProxyProtocol::v1:
      return "v1";
    case ProxyProtocol::v2:
      return "v2";
    case ProxyProtocol::any:
      return "any";
  }
  return "unknown";
}

std::string_view to_string(OverLimit over_limit) {
  return over_limit == OverLimit::wait ? "wait" : "close";
}

}  // namespace spliceproxy::config
