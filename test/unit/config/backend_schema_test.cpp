// The pool and limit keys of proxy.yaml (config/backend_schema.cpp, config/cidr.cpp): values
// read, defaults, round trip through to_yaml, and errors that point at the key.
#include <gtest/gtest.h>

#include "config/address.hpp"
#include "config/config.hpp"
#include "test/unit/config/config_test_util.hpp"

namespace spliceproxy::config {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using test::edited;
using test::error_of;

// Every pool and limit key set, none to its default.
constexpr const char* kPools = R"(listeners:
  - name: web
    listen: 127.0.0.1:8080
    backend: app
    timeouts: {half_closed: 20s}
    max_connections: 100
    max_connections_per_source: 5
    allow: [10.0.0.0/8, "::1", 192.168.1.0/24]
    deny: [10.1.2.3]
  - name: local
    listen: unix:/run/web.sock
    mode: "0600"
    backend: app
backends:
  - name: app
    balance: source_hash
    max_connect_attempts: 2
    ejection: {consecutive_failures: 5, base: 2s, max: 1m}
    health_check: {interval: 500ms, timeout: 200ms, jitter: 50ms, rise: 4, fall: 1,
                   send: "PING\r\n", expect: "+PONG"}
    servers:
      - {address: "app.internal:9000", weight: 3, max_connections: 50}
      - address: "unix:/run/app.sock"
)";

TEST(BackendSchema, EveryPoolKeyIsRead) {
  const Config config = load_config_string(kPools, "pools.yaml");
  const Listener& web = config.listeners[0];
  EXPECT_EQ(web.timeouts.half_closed, seconds(20));
  EXPECT_EQ(web.max_connections, 100u);
  EXPECT_EQ(web.max_connections_per_source, 5u);
  ASSERT_EQ(web.allow.size(), 3u);
  EXPECT_EQ(web.allow[1].to_string(), "::1/128");
  EXPECT_EQ(web.deny[0].to_string(), "10.1.2.3/32");
  EXPECT_EQ(config.listeners[1].socket_mode, 0600u);
  const Backend& app = config.backends[0];
  EXPECT_EQ(app.balance, BalancePolicy::source_hash);
  EXPECT_EQ(app.max_connect_attempts, 2u);
  EXPECT_EQ(app.ejection, (Ejection{5, seconds(2), seconds(60)}));
  EXPECT_TRUE(app.health_check.enabled);
  EXPECT_EQ(app.health_check.interval, milliseconds(500));
  EXPECT_EQ(app.health_check.rise, 4u);
  EXPECT_EQ(app.health_check.send, "PING\r\n");
  EXPECT_EQ(app.health_check.expect, "+PONG");
  EXPECT_EQ(app.servers[0].address, (Address{"app.internal", 9000, {}}));
  EXPECT_EQ(app.servers[0].weight, 3u);
  EXPECT_EQ(app.servers[0].max_connections, 50u);
  EXPECT_TRUE(app.servers[1].address.is_unix());
}

TEST(BackendSchema, PoolKeysRoundTripThroughToYaml) {
  const Config config = load_config_string(kPools, "pools.yaml");
  const std::string yaml = to_yaml(config);
  EXPECT_EQ(load_config_string(yaml, "pools.yaml"), config) << yaml;
}

TEST(BackendSchema, CidrMatchesItsBlockOnly) {
  const Cidr block = *parse_cidr("10.1.0.0/16").value;
  const std::uint8_t inside[] = {10, 1, 200, 3};
  const std::uint8_t outside[] = {10, 2, 0, 1};
  EXPECT_TRUE(block.contains(inside, 4));
  EXPECT_FALSE(block.contains(outside, 4));
  const std::uint8_t v6[16] = {10, 1};
  EXPECT_FALSE(block.contains(v6, 16)) << "families never mix";
  const Cidr odd = *parse_cidr("192.168.0.0/23").value;
  const std::uint8_t edge[] = {192, 168, 1, 255};
  const std::uint8_t past[] = {192, 168, 2, 0};
  EXPECT_TRUE(odd.contains(edge, 4));
  EXPECT_FALSE(odd.contains(past, 4));
}

struct BadPoolKey {
  const char* name;
  const char* from;
  const char* to;
  const char* message;
};

class BackendSchemaErrors : public ::testing::TestWithParam<BadPoolKey> {};

TEST_P(BackendSchemaErrors, NameTheKeyAndWhatWasExpected) {
  const BadPoolKey& bad = GetParam();
  const ConfigError e = error_of(edited(bad.from, bad.to));
  EXPECT_EQ(std::string(e.what()), bad.message);
}

INSTANTIATE_TEST_SUITE_P(
    Keys, BackendSchemaErrors,
    ::testing::Values(
        BadPoolKey{"UnknownBalance", "    servers:", "    balance: fastest\n    servers:",
                   "test.yaml:7:14: backends[0].balance: expected one of round_robin, "
                   "least_connections, random, source_hash, got \"fastest\""},
        BadPoolKey{"ZeroWeight", "127.0.0.1:9000", "127.0.0.1:9000\n        weight: 0",
                   "test.yaml:9:17: backends[0].servers[0].weight: expected an integer from 1 "
                   "to 256, got \"0\""},
        BadPoolKey{"CidrWithHostBits", "backend: app", "backend: app\n    allow: [10.0.0.1/8]",
                   "test.yaml:5:13: listeners[0].allow[0]: expected an address block with zero "
                   "host bits, like 10.0.0.0/8, got \"10.0.0.1/8\""},
        BadPoolKey{"ModeOnTcpListener", "backend: app", "backend: app\n    mode: \"0600\"",
                   "test.yaml:5:11: listeners[0].mode: only a unix:/path listener has a file "
                   "mode"},
        BadPoolKey{"TooManyAttempts", "    servers:", "    max_connect_attempts: 17\n    servers:",
                   "test.yaml:7:27: backends[0].max_connect_attempts: expected an integer from 1 "
                   "to 16, got \"17\""}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace spliceproxy::config
