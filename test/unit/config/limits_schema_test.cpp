// The schema of max_connection_rate and bandwidth: values, defaults, the effective config
// printed back, and errors with line and column.
#include <string>

#include <gtest/gtest.h>

#include "config/config.hpp"
#include "config/units.hpp"
#include "test/unit/config/config_test_util.hpp"

namespace spliceproxy::config {
namespace {

using test::edited;
using test::error_of;

// kMinimal with `keys` (indented for a listener item) after the listener's backend (line 4).
std::string with_limits(std::string_view keys) {
  return edited("    backend: app\n", "    backend: app\n" + std::string(keys));
}

Listener listener_of(const std::string& yaml) {
  return load_config_string(yaml, "test.yaml").listeners.at(0);
}

TEST(LimitsSchema, ConnectionRateWithPerSourceAndWait) {
  const Listener l =
      listener_of(with_limits("    max_connection_rate:\n"
                              "      rate: 100/s\n"
                              "      burst: 20\n"
                              "      over_limit: wait\n"
                              "      per_source: {rate: 600/m, burst: 5}\n"));
  const ConnectionRateLimit& rate = l.max_connection_rate;
  EXPECT_EQ(rate.listener, (Rate{100, std::chrono::seconds(1), 20}));
  EXPECT_EQ(rate.per_source, (Rate{600, std::chrono::minutes(1), 5}));
  EXPECT_EQ(rate.over_limit, OverLimit::wait);
}

TEST(LimitsSchema, BurstDefaultsToOnePeriodsWorthAndOverLimitToClose) {
  const Listener l = listener_of(with_limits("    max_connection_rate: {rate: 10/h}\n"));
  EXPECT_EQ(l.max_connection_rate.listener, (Rate{10, std::chrono::hours(1), 10}));
  EXPECT_FALSE(l.max_connection_rate.per_source.limited());
  EXPECT_EQ(l.max_connection_rate.over_limit, OverLimit::close);
}

TEST(LimitsSchema, BandwidthPerSessionAndSharedByTheListener) {
  const Listener l =
      listener_of(with_limits("    bandwidth:\n"
                              "      client_to_backend: 10MiB/s\n"
                              "      backend_to_client: 500KiB/s\n"
                              "      listener: {backend_to_client: 1GiB/s}\n"));
  EXPECT_EQ(l.bandwidth.session.client_to_backend, 10u << 20);
  EXPECT_EQ(l.bandwidth.session.backend_to_client, 500u << 10);
  EXPECT_EQ(l.bandwidth.listener.client_to_backend, 0u);
  EXPECT_EQ(l.bandwidth.listener.backend_to_client, 1u << 30);
}

TEST(LimitsSchema, NoLimitsByDefaultAndNoneInTheEffectiveConfig) {
  const Config config = load_config_string(test::kMinimal, "test.yaml");
  EXPECT_FALSE(config.listeners[0].max_connection_rate.limited());
  EXPECT_FALSE(config.listeners[0].bandwidth.session.capped());
  const std::string yaml = to_yaml(config);
  EXPECT_EQ(yaml.find("max_connection_rate"), std::string::npos);
  EXPECT_EQ(yaml.find("bandwidth"), std::string::npos);
}

TEST(LimitsSchema, EffectiveConfigLoadsBackToTheSameLimits) {
  const Config config = load_config_string(
      with_limits("    max_connection_rate: {per_source: {rate: 7/m}, over_limit: wait}\n"
                  "    bandwidth: {backend_to_client: 1536KiB/s, listener: {client_to_backend: "
                  "3MiB/s}}\n"),
      "test.yaml");
  const Config again = load_config_string(to_yaml(config), "test.yaml");
  EXPECT_EQ(again.listeners[0], config.listeners[0]);
  EXPECT_NE(to_yaml(config).find("backend_to_client: 1536KiB/s"), std::string::npos);
}

TEST(LimitsSchema, MalformedConnectionRateNamesItsPosition) {
  const ConfigError e = error_of(with_limits("    max_connection_rate:\n      rate: 100\n"));
  EXPECT_EQ(e.line(), 6);
  EXPECT_EQ(e.column(), 13);
  EXPECT_EQ(std::string(e.what()),
            "test.yaml:6:13: listeners[0].max_connection_rate.rate: expected a rate like 100/s, "
            "600/m or 10/h, got \"100\"");
}

TEST(LimitsSchema, ZeroRateAndBadOverLimitAreRefused) {
  EXPECT_EQ(error_of(with_limits("    max_connection_rate: {rate: 0/s}\n")).path(),
            "listeners[0].max_connection_rate.rate");
  const ConfigError e =
      error_of(with_limits("    max_connection_rate: {rate: 5/s, over_limit: queue}\n"));
  EXPECT_EQ(e.line(), 5);
  EXPECT_NE(std::string(e.what()).find("expected one of close, wait, got \"queue\""),
            std::string::npos)
      << e.what();
}

TEST(LimitsSchema, EmptyConnectionRateSaysWhatItNeeds) {
  const ConfigError e = error_of(with_limits("    max_connection_rate: {over_limit: wait}\n"));
  EXPECT_EQ(e.line(), 5);
  EXPECT_EQ(e.column(), 26);
  EXPECT_NE(std::string(e.what()).find("expected rate, per_source or both"), std::string::npos);
}

TEST(LimitsSchema, BandwidthNeedsAUnitPerSecondAndAtLeastOneKibibyte) {
  ConfigError e = error_of(with_limits("    bandwidth:\n      backend_to_client: 10MiB\n"));
  EXPECT_EQ(e.line(), 6);
  EXPECT_EQ(e.column(), 26);
  EXPECT_EQ(std::string(e.what()),
            "test.yaml:6:26: listeners[0].bandwidth.backend_to_client: expected a byte rate like "
            "500KiB/s, 10MiB/s or 1GiB/s, got \"10MiB\"");
  e = error_of(with_limits("    bandwidth: {client_to_backend: 100/s}\n"));
  EXPECT_NE(std::string(e.what()).find("expected a byte rate of at least 1KiB/s"),
            std::string::npos)
      << e.what();
}

TEST(LimitsSchema, UnknownBandwidthKeyIsRefusedWithAHint) {
  const ConfigError e = error_of(with_limits("    bandwidth: {listener: {upload: 1MiB/s}}\n"));
  EXPECT_EQ(e.path(), "listeners[0].bandwidth.listener");
  EXPECT_NE(std::string(e.what()).find("upload"), std::string::npos) << e.what();
}

TEST(Units, EventAndByteRatesParseAndFormat) {
  EXPECT_EQ(*parse_event_rate("100/s").value,
            (std::pair<std::uint64_t, Duration>{100, Duration(1000)}));
  EXPECT_FALSE(parse_event_rate("100/ms").value);
  EXPECT_FALSE(parse_event_rate("/s").value);
  EXPECT_EQ(*parse_byte_rate("64KiB/s").value, 65536u);
  EXPECT_FALSE(parse_byte_rate("64KiB/m").value);
  EXPECT_EQ(format_event_rate(600, std::chrono::minutes(1)), "600/m");
  EXPECT_EQ(format_byte_rate(10u << 20), "10MiB/s");
}

}  // namespace
}  // namespace spliceproxy::config
