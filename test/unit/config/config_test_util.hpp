// Inline configs shared by the config unit tests, and a helper to catch a ConfigError.
#pragma once

#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "config/config.hpp"

namespace spliceproxy::config::test {

// The smallest valid config; line numbers below are relied on by tests.
inline constexpr const char* kMinimal = R"(listeners:
  - name: web
    listen: 127.0.0.1:8080
    backend: app
backends:
  - name: app
    servers:
      - address: 127.0.0.1:9000
)";

// Every key set, none to its default.
inline constexpr const char* kFull = R"(workers: 4
drain_timeout: 0s
log: {level: debug, access: /var/log/spliceproxy/access.log}
admin: {listen: "[::1]:9902"}
splice:
  mode: copy
  pipe_size: 64KiB
listeners:
  - name: web
    listen: 127.0.0.1:8080
    backend: app
    timeouts: {connect: 250ms, idle: 90s}
  - name: db-front
    listen: "[::1]:0"
    backend: db.v2
    timeouts:
      idle: 2h
backends:
  - name: app
    servers:
      - address: 127.0.0.1:9000
  - name: db.v2
    servers:
      - address: 10.0.0.1:5432
      - address: "[2001:db8::7]:5432"
)";

// kMinimal with the listener's `listen` value replaced by `listen` (line 3, column 13).
inline std::string with_listen(std::string_view listen) {
  std::string yaml = kMinimal;
  const std::string_view old = "127.0.0.1:8080";
  yaml.replace(yaml.find(old), old.size(), listen);
  return yaml;
}

// kMinimal with `from` (which must occur in it) replaced by `to`.
inline std::string edited(std::string_view from, std::string_view to) {
  std::string yaml = kMinimal;
  const auto at = yaml.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at == std::string::npos) return yaml;
  return yaml.replace(at, from.size(), to);
}

// The ConfigError that loading `yaml` (as "test.yaml") throws; records a test failure
// and returns an empty error when it loads fine.
inline ConfigError error_of(std::string_view yaml) {
  try {
    load_config_string(yaml, "test.yaml");
  } catch (const ConfigError& error) {
    return error;
  }
  ADD_FAILURE() << "expected a ConfigError, but this loaded fine:\n" << yaml;
  return ConfigError("", 0, 0, "", "");
}

}  // namespace spliceproxy::config::test
