// The PROXY protocol keys of proxy.yaml: listeners[].proxy_protocol, backends[].proxy_protocol
// and listeners[].timeouts.proxy_header; defaults, round trip through to_yaml, and errors.
#include <gtest/gtest.h>

#include "config/config.hpp"
#include "test/unit/config/config_test_util.hpp"

namespace spliceproxy::config {
namespace {

using test::edited;
using test::error_of;

TEST(ProxyProtocolSchema, DefaultsAreOffWithAFiveSecondHeaderTimeout) {
  const Config config = load_config_string(test::kMinimal, "t.yaml");
  EXPECT_EQ(config.listeners[0].proxy_protocol, ProxyProtocol::off);
  EXPECT_EQ(config.listeners[0].timeouts.proxy_header, std::chrono::seconds(5));
  EXPECT_EQ(config.backends[0].proxy_protocol, ProxyProtocol::off);
}

TEST(ProxyProtocolSchema, KeysAreReadAndRoundTripThroughToYaml) {
  const std::string yaml =
      edited("    backend: app\n",
             "    backend: app\n    proxy_protocol: any\n    timeouts: {proxy_header: 250ms}\n") +
      "    proxy_protocol: v2\n";
  const Config config = load_config_string(yaml, "t.yaml");
  EXPECT_EQ(config.listeners[0].proxy_protocol, ProxyProtocol::any);
  EXPECT_EQ(config.listeners[0].timeouts.proxy_header, std::chrono::milliseconds(250));
  EXPECT_EQ(config.backends[0].proxy_protocol, ProxyProtocol::v2);
  EXPECT_EQ(load_config_string(to_yaml(config), "t.yaml"), config) << to_yaml(config);
}

TEST(ProxyProtocolSchema, ABackendCannotAcceptAnyVersion) {
  const ConfigError e = error_of(std::string(test::kMinimal) + "    proxy_protocol: any\n");
  EXPECT_EQ(std::string(e.what()),
            "test.yaml:9:21: backends[0].proxy_protocol: expected one of off, v1, v2, got \"any\"");
}

TEST(ProxyProtocolSchema, AListenerVersionMustBeKnown) {
  const ConfigError e =
      error_of(edited("    backend: app\n", "    backend: app\n    proxy_protocol: v3\n"));
  EXPECT_EQ(std::string(e.what()),
            "test.yaml:5:21: listeners[0].proxy_protocol: expected one of off, v1, v2, any, got "
            "\"v3\"");
}

TEST(ProxyProtocolSchema, HeaderTimeoutMustBePositive) {
  const ConfigError e = error_of(
      edited("    backend: app\n", "    backend: app\n    timeouts: {proxy_header: 0s}\n"));
  EXPECT_EQ(e.path(), "listeners[0].timeouts.proxy_header");
  EXPECT_EQ(e.line(), 5);
}

}  // namespace
}  // namespace spliceproxy::config
