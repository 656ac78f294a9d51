// The DNS discovery, queue, lifetime and runtime API keys of proxy.yaml
// (config/discovery_schema.cpp and friends): values read, the top-level `resolve` inherited key
// by key, the round trip through to_yaml, and errors that point at the key.
#include <gtest/gtest.h>

#include "config/config.hpp"
#include "test/unit/config/config_test_util.hpp"

namespace spliceproxy::config {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using test::edited;
using test::error_of;

constexpr const char* kDiscovery = R"(admin: {listen: 127.0.0.1:9901, token_file: /run/token}
resolve: {nameservers: ["127.0.0.1:5353", "[::1]:53"], min_interval: 500ms, max_interval: 10s,
          hold: 20s, timeout: 1s}
listeners:
  - name: web
    listen: 127.0.0.1:8080
    backend: app
    timeouts: {queue: 2s, max_lifetime: 1h, max_lifetime_jitter: 5m}
backends:
  - name: app
    max_queued: 100
    resolve: {hold: 1m}
    servers:
      - {address: "app.test:9000", resolve: true, weight: 2, max_connections: 10}
      - srv: _http._tcp.app.test
      - address: 127.0.0.1:9001
  - name: other
    servers:
      - {address: "other.test:80", resolve: true}
)";

TEST(DiscoverySchema, EveryKeyIsReadAndBackendsInheritTheTopLevelResolve) {
  const Config config = load_config_string(kDiscovery, "d.yaml");
  EXPECT_EQ(config.admin.token_file, "/run/token");
  EXPECT_EQ(config.resolve.nameservers.size(), 2u);
  EXPECT_EQ(config.resolve.nameservers[1].to_string(), "[::1]:53");
  EXPECT_EQ(config.resolve.min_interval, milliseconds(500));
  const Listener& web = config.listeners[0];
  EXPECT_EQ(web.timeouts.queue, seconds(2));
  EXPECT_EQ(web.timeouts.max_lifetime, seconds(3600));
  EXPECT_EQ(web.timeouts.max_lifetime_jitter, seconds(300));
  const Backend& app = config.backends[0];
  EXPECT_EQ(app.max_queued, 100u);
  EXPECT_EQ(app.resolve.hold, seconds(60));
  EXPECT_EQ(app.resolve.max_interval, seconds(10)) << "inherited key by key";
  EXPECT_EQ(app.resolve.nameservers, config.resolve.nameservers);
  EXPECT_EQ(app.servers[0].discovery, ServerDiscovery::dns);
  EXPECT_EQ(app.servers[0].weight, 2u);
  EXPECT_EQ(app.servers[1].discovery, ServerDiscovery::srv);
  EXPECT_EQ(app.servers[1].origin(), "_http._tcp.app.test");
  EXPECT_EQ(app.servers[2].discovery, ServerDiscovery::none);
  EXPECT_TRUE(app.discovers());
  EXPECT_EQ(config.backends[1].resolve, config.resolve);
}

TEST(DiscoverySchema, DefaultsLeaveEverythingOff) {
  const Config config = load_config_string(test::kMinimal, "m.yaml");
  EXPECT_FALSE(config.backends[0].discovers());
  EXPECT_EQ(config.backends[0].max_queued, 0u);
  EXPECT_EQ(config.listeners[0].timeouts.max_lifetime.count(), 0);
  EXPECT_EQ(config.listeners[0].timeouts.queue, seconds(5));
  EXPECT_TRUE(config.resolve.nameservers.empty());
  EXPECT_TRUE(config.admin.token_file.empty());
}

TEST(DiscoverySchema, KeysRoundTripThroughToYaml) {
  const Config config = load_config_string(kDiscovery, "d.yaml");
  const std::string yaml = to_yaml(config);
  EXPECT_EQ(load_config_string(yaml, "d.yaml"), config) << yaml;
  EXPECT_NE(yaml.find("- srv: _http._tcp.app.test"), std::string::npos) << yaml;
  EXPECT_NE(to_json(config).find("\"token_file\":\"/run/token\""), std::string::npos);
}

struct BadKey {
  const char* name;
  const char* from;
  const char* to;
  const char* message;
};

class DiscoverySchemaErrors : public ::testing::TestWithParam<BadKey> {};

TEST_P(DiscoverySchemaErrors, NameTheKeyAndWhatWasExpected) {
  const BadKey& bad = GetParam();
  const ConfigError e = error_of(edited(bad.from, bad.to));
  EXPECT_EQ(std::string(e.what()), bad.message);
}

INSTANTIATE_TEST_SUITE_P(
    Keys, DiscoverySchemaErrors,
    ::testing::Values(
        BadKey{"ResolveOnAnIpLiteral", "127.0.0.1:9000", "127.0.0.1:9000\n        resolve: true",
               "test.yaml:9:18: backends[0].servers[0].resolve: resolve: true needs a hostname "
               "address, not an IP literal or a Unix path"},
        BadKey{"ResolveNotABoolean", "127.0.0.1:9000", "app.test:9000\n        resolve: yes",
               "test.yaml:9:18: backends[0].servers[0].resolve: expected true or false, got "
               "\"yes\""},
        BadKey{"SrvAndAddress", "      - address: 127.0.0.1:9000",
               "      - address: 127.0.0.1:9000\n        srv: _x._tcp.a.test",
               "test.yaml:9:14: backends[0].servers[0].srv: give either address or srv, not "
               "both"},
        BadKey{"SrvNotAName", "      - address: 127.0.0.1:9000", "      - srv: \"a b\"",
               "test.yaml:8:14: backends[0].servers[0].srv: expected an SRV name like "
               "_http._tcp.app.example, got \"a b\""},
        BadKey{"NameServerHostname",
               "backends:", "resolve: {nameservers: [dns.test:53]}\nbackends:",
               "test.yaml:5:25: resolve.nameservers[0]: expected an IP address and port of a "
               "name server, like 127.0.0.1:53, got \"dns.test:53\""},
        BadKey{"MinAboveMax",
               "backends:", "resolve: {min_interval: 10s, max_interval: 1s}\nbackends:",
               "test.yaml:5:44: resolve.max_interval: expected a duration of at least 10s, got "
               "\"1s\""},
        BadKey{"TinyInterval", "backends:", "resolve: {min_interval: 1ms}\nbackends:",
               "test.yaml:5:25: resolve.min_interval: expected a duration of at least 100ms, "
               "got \"1ms\""},
        BadKey{"UnknownResolveKey", "backends:", "resolve: {ttl: 1s}\nbackends:",
               "test.yaml:5:11: resolve: unknown key 'ttl', expected one of: nameservers, "
               "min_interval, max_interval, hold, timeout"},
        BadKey{"NegativeQueue", "    servers:", "    max_queued: -1\n    servers:",
               "test.yaml:7:17: backends[0].max_queued: expected an integer from 0 to 1000000, "
               "got \"-1\""},
        BadKey{"EmptyTokenFile", "listeners:", "admin: {token_file: \"\"}\nlisteners:",
               "test.yaml:1:21: admin.token_file: expected the path of a file holding the "
               "token, got \"\""}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace spliceproxy::config
