// Unit tests of config/ error reporting for the shape of a file: YAML syntax, unknown,
// repeated and missing keys, wrong types, empty lists, duplicate names, references and
// unreadable files. Each error is checked for line, column, key path and message.
#include <string>

#include <gtest/gtest.h>

#include "config/config.hpp"
#include "test/unit/config/config_test_util.hpp"

namespace spliceproxy::config {
namespace {

using test::edited;
using test::error_of;
using test::kMinimal;
using test::with_listen;

// kMinimal's listeners section with a second listener; its backends section as is.
std::string with_second_listener(std::string_view name, std::string_view listen) {
  return edited("backends:\n", "  - name: " + std::string(name) + "\n    listen: " +
                                   std::string(listen) + "\n    backend: app\nbackends:\n");
}

TEST(ConfigValidation, SyntaxErrorPointsAtTheYamlPosition) {
  const ConfigError e = error_of("workers: 1\nlog: {level: info\n");
  EXPECT_EQ(e.line(), 3);
  EXPECT_EQ(e.column(), 1);
  EXPECT_EQ(std::string(e.what()), "test.yaml:3:1: invalid YAML: end of map flow not found");
}

TEST(ConfigValidation, UnquotedIpv6AddressGetsAHint) {
  const ConfigError e = error_of(with_listen("[::1]:8080"));
  EXPECT_EQ(e.line(), 3);
  EXPECT_NE(std::string(e.what()).find("invalid YAML: end of map not found (quote IPv6 addresses: "
                                       "\"[::1]:8080\")"),
            std::string::npos)
      << e.what();
}

TEST(ConfigValidation, EmptyFileIsAnError) {
  const ConfigError e = error_of("");
  EXPECT_EQ(std::string(e.what()), "test.yaml:1:1: expected a map of settings, got an empty file");
}

TEST(ConfigValidation, CommentOnlyFileIsAnEmptyFile) {
  const ConfigError e = error_of("# nothing yet\n");
  EXPECT_EQ(std::string(e.what()), "test.yaml:1:1: expected a map of settings, got an empty file");
}

TEST(ConfigValidation, TopLevelMustBeAMap) {
  const ConfigError e = error_of("- workers\n- listeners\n");
  EXPECT_EQ(std::string(e.what()), "test.yaml:1:1: expected a map, got a list");
}

TEST(ConfigValidation, SecondDocumentIsAnError) {
  const ConfigError e = error_of(std::string(kMinimal) + "---\nworkers: 2\n");
  EXPECT_EQ(std::string(e.what()),
            "test.yaml:9:1: expected a single YAML document, got a second one");
}

// yaml-cpp 0.7's LoadAll never returns on this text (jbeder/yaml-cpp#1040).
TEST(ConfigValidation, StrayCommaIsASyntaxErrorNotAHang) {
  const ConfigError e = error_of("# comment\n, workers: 1\n");
  EXPECT_EQ(std::string(e.what()), "test.yaml:2:1: invalid YAML: unexpected ','");
}

TEST(ConfigValidation, UnknownTopLevelKeyListsTheKnownKeys) {
  const ConfigError e = error_of("colour: red\n" + std::string(kMinimal));
  EXPECT_EQ(std::string(e.what()),
            "test.yaml:1:1: unknown key 'colour', expected one of: workers, busy_poll, "
            "drain_timeout, log, admin, splice, resolve, listeners, backends, mirrors");
}

TEST(ConfigValidation, UnknownTopLevelKeySuggestsClosestName) {
  const ConfigError e = error_of(std::string(kMinimal) + "worker: 2\n");
  EXPECT_EQ(std::string(e.what()), "test.yaml:9:1: unknown key 'worker', did you mean 'workers'?");
}

TEST(ConfigValidation, UnknownKeySuggestsClosestName) {
  const ConfigError e = error_of(edited("listen:", "lisen:"));
  EXPECT_EQ(e.line(), 3);
  EXPECT_EQ(e.column(), 5);
  EXPECT_EQ(e.path(), "listeners[0]");
  EXPECT_EQ(std::string(e.what()),
            "test.yaml:3:5: listeners[0]: unknown key 'lisen', did you mean 'listen'?");
}

TEST(ConfigValidation, UnknownKeySuggestsPluralName) {
  const ConfigError e =
      error_of(edited("backend: app\n", "backend: app\n    timeout: {idle: 1s}\n"));
  EXPECT_EQ(std::string(e.what()),
            "test.yaml:5:5: listeners[0]: unknown key 'timeout', did you mean 'timeouts'?");
}

TEST(ConfigValidation, UnknownKeyFarFromAnyNameGetsNoSuggestion) {
  const ConfigError e = error_of(edited("    servers:", "    colour: 3\n    servers:"));
  EXPECT_EQ(std::string(e.what()),
            "test.yaml:7:5: backends[0]: unknown key 'colour', expected one of: name, servers, "
            "balance, max_connect_attempts, ejection, health_check, proxy_protocol, resolve, "
            "max_queued");
}

TEST(ConfigValidation, RepeatedKeyPointsAtTheSecondOne) {
  const ConfigError e = error_of(edited("    listen:", "    name: api\n    listen:"));
  EXPECT_EQ(std::string(e.what()),
            "test.yaml:3:5: listeners[0]: duplicate key 'name', first set at line 2");
}

TEST(ConfigValidation, KeyMustBeAScalar) {
  const ConfigError e = error_of("{[a, b]: 1}\n");
  EXPECT_EQ(std::string(e.what()), "test.yaml:1:2: expected a key name, got a list");
}

TEST(ConfigValidation, MapExpectedGotScalar) {
  const ConfigError e = error_of("log: info\n" + std::string(kMinimal));
  EXPECT_EQ(std::string(e.what()), "test.yaml:1:6: log: expected a map, got \"info\"");
}

TEST(ConfigValidation, ListExpectedGotMap) {
  const ConfigError e = error_of(edited("  - name: web", "    name: web"));
  EXPECT_EQ(std::string(e.what()),
            "test.yaml:2:5: listeners: expected a list of listeners, got a map");
}

TEST(ConfigValidation, ScalarExpectedGotList) {
  const ConfigError e = error_of(edited("name: web", "name: [web, api]"));
  EXPECT_EQ(e.line(), 2);
  EXPECT_EQ(e.column(), 11);
  EXPECT_NE(std::string(e.what()).find("listeners[0].name: expected a name made of letters, "
                                       "digits, '_', '.' and '-', got a list"),
            std::string::npos)
      << e.what();
}

TEST(ConfigValidation, NameWithSpaceIsRefused) {
  const ConfigError e = error_of(edited("name: web", "name: my web"));
  EXPECT_EQ(std::string(e.what()),
            "test.yaml:2:11: listeners[0].name: expected a name made of letters, digits, '_', '.' "
            "and '-', got \"my web\"");
}

TEST(ConfigValidation, MissingRequiredKeyPointsAtTheMap) {
  const ConfigError e = error_of(edited("    backend: app\n", ""));
  EXPECT_EQ(std::string(e.what()), "test.yaml:2:5: listeners[0]: missing required key 'backend'");
}

TEST(ConfigValidation, MissingTopLevelListIsAnError) {
  const std::string yaml = kMinimal;
  const ConfigError e = error_of("workers: 2\n" + yaml.substr(yaml.find("backends:")));
  EXPECT_EQ(std::string(e.what()), "test.yaml:1:1: missing required key 'listeners'");
}

TEST(ConfigValidation, ProblemInsideAListComesBeforeAMissingList) {
  const std::string yaml = kMinimal;
  const ConfigError e = error_of(yaml.substr(0, yaml.find("backends:")) + "    prot: 80\n");
  EXPECT_EQ(std::string(e.what()),
            "test.yaml:5:5: listeners[0]: unknown key 'prot', expected one of: name, listen, "
            "backend, timeouts, mode, max_connections, max_connections_per_source, "
            "max_connection_rate, bandwidth, allow, deny, mirrors, proxy_protocol, tls_routes, "
            "not_tls");
}

TEST(ConfigValidation, EmptyListenersListIsAnError) {
  const std::string yaml = std::string(kMinimal).substr(std::string(kMinimal).find("backends:"));
  const ConfigError e = error_of("listeners: []\n" + yaml);
  EXPECT_EQ(std::string(e.what()),
            "test.yaml:1:12: listeners: expected at least one listener, got an empty list");
}

TEST(ConfigValidation, EmptyServersListIsAnError) {
  const ConfigError e =
      error_of(edited("servers:\n      - address: 127.0.0.1:9000", "servers: []"));
  EXPECT_EQ(std::string(e.what()),
            "test.yaml:7:14: backends[0].servers: expected at least one server, got an empty list");
}

TEST(ConfigValidation, EmptyListItemPointsAtItsDash) {
  const ConfigError e = error_of(edited("backends:\n", "  -\nbackends:\n"));
  EXPECT_EQ(std::string(e.what()),
            "test.yaml:5:3: listeners[1]: expected a map, got an empty value");
}

TEST(ConfigValidation, EmptyValuePointsAtItsKey) {
  const ConfigError e = error_of(with_listen(""));
  EXPECT_EQ(std::string(e.what()),
            "test.yaml:3:5: listeners[0].listen: expected host:port, got an empty value");
}

TEST(ConfigValidation, DuplicateListenerNamePointsAtTheSecondOne) {
  const ConfigError e = error_of(with_second_listener("web", "127.0.0.1:8081"));
  EXPECT_EQ(std::string(e.what()),
            "test.yaml:5:11: listeners[1].name: duplicate listener name \"web\", first defined "
            "at line 2");
}

TEST(ConfigValidation, DuplicateServerAddressInABackendPointsAtTheSecondOne) {
  const ConfigError e = error_of(R"(listeners:
  - {name: web, listen: 127.0.0.1:8080, backend: app}
backends:
  - name: app
    servers:
      - address: 127.0.0.1:9000
      - address: 127.0.0.1:9000
)");
  EXPECT_EQ(std::string(e.what()),
            "test.yaml:7:18: backends[0].servers[1].address: duplicate server address "
            "\"127.0.0.1:9000\" in this backend, first at line 6 (give that server a higher "
            "weight instead)");
}

TEST(ConfigValidation, DuplicateBackendNamePointsAtTheSecondOne) {
  const ConfigError e = error_of(std::string(kMinimal) + "  - name: app\n    servers: []\n");
  EXPECT_EQ(std::string(e.what()),
            "test.yaml:9:11: backends[1].name: duplicate backend name \"app\", first defined at "
            "line 6");
}

TEST(ConfigValidation, DuplicateListenAddressIsRefused) {
  const ConfigError e = error_of(with_second_listener("api", "127.0.0.1:8080"));
  EXPECT_EQ(std::string(e.what()),
            "test.yaml:6:13: listeners[1].listen: address 127.0.0.1:8080 is already used by "
            "listener \"web\" at line 3");
}

TEST(ConfigValidation, TwoListenersOnPortZeroDoNotClash) {
  const std::string yaml = with_second_listener("api", "127.0.0.1:0");
  EXPECT_EQ(load_config_string(edited("127.0.0.1:8080", "127.0.0.1:0"), "t").listeners.size(), 1u);
  EXPECT_EQ(load_config_string(yaml, "t").listeners.size(), 2u);
}

TEST(ConfigValidation, MissingBackendListsKnownNames) {
  const ConfigError e = error_of(edited("backend: app", "backend: ap"));
  EXPECT_EQ(std::string(e.what()),
            "test.yaml:4:14: listeners[0].backend: expected the name of a backend (one of: app), "
            "got \"ap\"");
}

TEST(ConfigValidation, MissingFileNamesTheReason) {
  try {
    load_config_file("/nonexistent/proxy.yaml");
    FAIL() << "loaded a file that does not exist";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.line(), 0);
    EXPECT_EQ(e.column(), 0);
    EXPECT_EQ(std::string(e.what()),
              "/nonexistent/proxy.yaml: cannot read: No such file or directory");
  }
}

TEST(ConfigValidation, DirectoryCannotBeRead) {
  try {
    load_config_file("/");
    FAIL() << "loaded a directory";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "/: cannot read: Is a directory");
  }
}

}  // namespace
}  // namespace spliceproxy::config
