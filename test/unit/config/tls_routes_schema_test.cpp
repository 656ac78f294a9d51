// The TLS routing keys of proxy.yaml: listeners[].tls_routes, listeners[].not_tls and
// listeners[].timeouts.client_hello; defaults, round trip through to_yaml, and errors with
// their positions.
#include <gtest/gtest.h>

#include "config/config.hpp"
#include "test/unit/config/config_test_util.hpp"

namespace spliceproxy::config {
namespace {

using test::error_of;

// A listener on `app` by default, with `routes` (indented for the listener item) after it,
// and a second backend `api`.
std::string with_routes(std::string_view routes) {
  return std::string("listeners:\n  - name: web\n    listen: 127.0.0.1:8443\n    backend: app\n") +
         std::string(routes) +
         "backends:\n  - name: app\n    servers:\n      - address: 127.0.0.1:9000\n"
         "  - name: api\n    servers:\n      - address: 127.0.0.1:9001\n";
}

TEST(TlsRoutesSchema, DefaultsAreNoRoutingWithAFiveSecondHelloTimeout) {
  const Config config = load_config_string(test::kMinimal, "t.yaml");
  EXPECT_TRUE(config.listeners[0].tls_routes.empty());
  EXPECT_TRUE(config.listeners[0].not_tls.empty());
  EXPECT_EQ(config.listeners[0].timeouts.client_hello, std::chrono::seconds(5));
}

TEST(TlsRoutesSchema, RulesAreReadLowerCasedAndRoundTripThroughToYaml) {
  const Config config = load_config_string(with_routes(R"(    timeouts: {client_hello: 750ms}
    tls_routes:
      - server_names: [API.example.com, "*.api.example.com"]
        alpn: [h2]
        backend: api
      - name: http1
        alpn: [http/1.1]
        backend: app
    not_tls: api
)"),
                                           "t.yaml");
  const Listener& l = config.listeners[0];
  ASSERT_EQ(l.tls_routes.size(), 2u);
  EXPECT_EQ(l.tls_routes[0].name, "api.example.com");
  EXPECT_EQ(l.tls_routes[0].server_names,
            (std::vector<std::string>{"api.example.com", "*.api.example.com"}));
  EXPECT_EQ(l.tls_routes[0].alpn, std::vector<std::string>{"h2"});
  EXPECT_EQ(l.tls_routes[0].backend, "api");
  EXPECT_EQ(l.tls_routes[1].name, "http1");
  EXPECT_TRUE(l.tls_routes[1].server_names.empty());
  EXPECT_EQ(l.not_tls, "api");
  EXPECT_EQ(l.timeouts.client_hello, std::chrono::milliseconds(750));
  EXPECT_EQ(load_config_string(to_yaml(config), "t.yaml"), config) << to_yaml(config);
  const std::string json = to_json(config);
  EXPECT_NE(json.find(R"("tls_routes":[{"name":"api.example.com","server_names":)"
                      R"(["api.example.com","*.api.example.com"],"alpn":["h2"],"backend":"api"})"),
            std::string::npos)
      << json;
}

TEST(TlsRoutesSchema, NotTlsCloseIsTheDefault) {
  const Config config = load_config_string(
      with_routes("    tls_routes: [{server_names: [a.example.com], backend: api}]\n"
                  "    not_tls: close\n"),
      "t.yaml");
  EXPECT_TRUE(config.listeners[0].not_tls.empty());
  EXPECT_EQ(load_config_string(to_yaml(config), "t.yaml"), config) << to_yaml(config);
}

TEST(TlsRoutesSchema, ARuleMustNameAKnownBackend) {
  const ConfigError e =
      error_of(with_routes("    tls_routes:\n      - server_names: [a.example.com]\n"
                           "        backend: nope\n"));
  EXPECT_EQ(std::string(e.what()),
            "test.yaml:7:18: listeners[0].tls_routes[0].backend: expected the name of a backend "
            "(one of: app, api), got \"nope\"");
}

TEST(TlsRoutesSchema, AServerNameMustBeAHostNameOrAWildcard) {
  const ConfigError e = error_of(
      with_routes("    tls_routes:\n      - server_names: [\"a.*.com\"]\n        backend: api\n"));
  EXPECT_EQ(e.path(), "listeners[0].tls_routes[0].server_names[0]");
  EXPECT_EQ(e.line(), 6);
  EXPECT_EQ(e.column(), 24);
}

TEST(TlsRoutesSchema, ARuleNeedsServerNamesOrAlpn) {
  const ConfigError e = error_of(with_routes("    tls_routes:\n      - backend: api\n"));
  EXPECT_EQ(e.path(), "listeners[0].tls_routes[0]");
  EXPECT_EQ(e.line(), 6);
}

TEST(TlsRoutesSchema, RuleNamesAreUnique) {
  const ConfigError e = error_of(
      with_routes("    tls_routes:\n      - {server_names: [a.example.com], backend: api}\n"
                  "      - {server_names: [a.example.com], alpn: [h2], backend: app}\n"));
  EXPECT_NE(std::string(e.what()).find("duplicate rule name \"a.example.com\", first at line 6"),
            std::string::npos)
      << e.what();
}

TEST(TlsRoutesSchema, NotTlsNeedsRoutesAndAKnownBackend) {
  EXPECT_EQ(error_of(with_routes("    not_tls: api\n")).path(), "listeners[0].not_tls");
  const ConfigError e =
      error_of(with_routes("    tls_routes: [{alpn: [h2], backend: api}]\n    not_tls: other\n"));
  EXPECT_EQ(std::string(e.what()),
            "test.yaml:6:14: listeners[0].not_tls: expected close or a backend name (one of: "
            "close, app, api), got \"other\"");
}

TEST(TlsRoutesSchema, AUnixListenerCannotRouteByHello) {
  std::string yaml = with_routes("    tls_routes: [{alpn: [h2], backend: api}]\n");
  yaml.replace(yaml.find("127.0.0.1:8443"), 14, "unix:/tmp/x.sock");
  EXPECT_EQ(error_of(yaml).path(), "listeners[0].tls_routes");
}

}  // namespace
}  // namespace spliceproxy::config
