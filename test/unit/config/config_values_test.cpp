// Unit tests of config/ error reporting for values: addresses, numbers, enumerations,
// sizes and durations out of shape or out of range. Each error is checked for line,
// column, key path and message.
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

TEST(ConfigValues, BadListenAddressShowsTheText) {
  const ConfigError e = error_of(with_listen("x"));
  EXPECT_EQ(std::string(e.what()),
            "test.yaml:3:13: listeners[0].listen: expected host:port, got \"x\"");
}

TEST(ConfigValues, BadServerAddressNamesItsPath) {
  const ConfigError e = error_of(edited("127.0.0.1:9000", "x"));
  EXPECT_EQ(std::string(e.what()),
            "test.yaml:8:18: backends[0].servers[0].address: expected host:port, got \"x\"");
}

TEST(ConfigValues, HostnameIsAccepted) {
  const Config config = load_config_string(with_listen("localhost:8080"), "test.yaml");
  EXPECT_EQ(config.listeners[0].listen, (Address{"localhost", 8080, {}}));
}

TEST(ConfigValues, MalformedHostnameIsRefused) {
  const ConfigError e = error_of(with_listen("-bad-.example:8080"));
  EXPECT_EQ(std::string(e.what()),
            "test.yaml:3:13: listeners[0].listen: expected host:port with a hostname made of "
            "letters, digits, '-' and '.', got \"-bad-.example:8080\"");
}

TEST(ConfigValues, UnixSocketAddressNeedsAnAbsolutePath) {
  const Config config = load_config_string(with_listen("unix:/tmp/web.sock"), "test.yaml");
  EXPECT_EQ(config.listeners[0].listen.path, "/tmp/web.sock");
  EXPECT_EQ(config.listeners[0].listen.to_string(), "unix:/tmp/web.sock");
  const ConfigError e = error_of(with_listen("unix:web.sock"));
  EXPECT_EQ(std::string(e.what()),
            "test.yaml:3:13: listeners[0].listen: expected unix:/absolute/path of at most 107 "
            "bytes, got \"unix:web.sock\"");
}

TEST(ConfigValues, BadIpv4AddressIsRefused) {
  const ConfigError e = error_of(with_listen("300.1.1.1:80"));
  EXPECT_NE(std::string(e.what()).find("3:13: listeners[0].listen: expected host:port with an "
                                       "IPv4 address like 127.0.0.1, got \"300.1.1.1:80\""),
            std::string::npos)
      << e.what();
}

TEST(ConfigValues, UnbracketedIpv6AddressAsksForBrackets) {
  const ConfigError e = error_of(with_listen("\"::1:8080\""));
  EXPECT_NE(std::string(e.what()).find("3:13: listeners[0].listen: expected host:port with IPv6 "
                                       "addresses in brackets, like [::1]:8080, got \"::1:8080\""),
            std::string::npos)
      << e.what();
}

TEST(ConfigValues, PortAbove65535IsOutOfRange) {
  const ConfigError e = error_of(with_listen("127.0.0.1:65536"));
  EXPECT_EQ(std::string(e.what()),
            "test.yaml:3:13: listeners[0].listen: expected a port from 0 to 65535, got "
            "\"127.0.0.1:65536\"");
}

TEST(ConfigValues, BackendPortZeroIsRefused) {
  const ConfigError e = error_of(edited("127.0.0.1:9000", "127.0.0.1:0"));
  EXPECT_EQ(std::string(e.what()),
            "test.yaml:8:18: backends[0].servers[0].address: expected a port from 1 to 65535, got "
            "\"127.0.0.1:0\"");
}

TEST(ConfigValues, WorkersOutOfRangeIsRefused) {
  for (const char* workers : {"0", "257", "-1", "two", "1.5"}) {
    const ConfigError e = error_of("workers: " + std::string(workers) + "\n" + kMinimal);
    EXPECT_EQ(std::string(e.what()),
              "test.yaml:1:10: workers: expected an integer from 1 to 256 "
              "or \"auto\", got \"" +
                  std::string(workers) + "\"");
  }
}

TEST(ConfigValues, UnknownLogLevelListsTheLevels) {
  const ConfigError e = error_of("log: {level: verbose}\n" + std::string(kMinimal));
  EXPECT_EQ(std::string(e.what()),
            "test.yaml:1:14: log.level: expected one of debug, info, warn, error, got \"verbose\"");
}

TEST(ConfigValues, UnknownSpliceModeListsTheModes) {
  const ConfigError e = error_of("splice:\n  mode: zero-copy\n" + std::string(kMinimal));
  EXPECT_EQ(std::string(e.what()),
            "test.yaml:2:9: splice.mode: expected one of splice, copy, auto, got \"zero-copy\"");
}

TEST(ConfigValues, PipeSizeBelowMinimumIsOutOfRange) {
  const ConfigError e = error_of("splice: {pipe_size: 1KiB}\n" + std::string(kMinimal));
  EXPECT_EQ(std::string(e.what()),
            "test.yaml:1:21: splice.pipe_size: expected a size from 4KiB to 1GiB, got \"1KiB\"");
}

TEST(ConfigValues, PipeSizeWithDecimalUnitIsRefused) {
  const ConfigError e = error_of("splice: {pipe_size: 1MB}\n" + std::string(kMinimal));
  EXPECT_EQ(std::string(e.what()),
            "test.yaml:1:21: splice.pipe_size: expected a size like 4096, "
            "64KiB, 1MiB or 1GiB, got \"1MB\"");
}

// kMinimal with `timeouts: {<timeouts>}` on line 5 of the listener, its value at column 16.
std::string with_timeouts(std::string_view timeouts) {
  return edited("backend: app\n", "backend: app\n    timeouts: {" + std::string(timeouts) + "}\n");
}

TEST(ConfigValues, DurationWithoutUnitIsRefused) {
  const ConfigError e = error_of(with_timeouts("idle: 5"));
  EXPECT_EQ(std::string(e.what()),
            "test.yaml:5:22: listeners[0].timeouts.idle: expected a "
            "duration like 250ms, 5s, 2m or 1h, got \"5\"");
}

TEST(ConfigValues, ZeroIdleTimeoutIsOutOfRange) {
  const ConfigError e = error_of(with_timeouts("idle: 0s"));
  EXPECT_EQ(std::string(e.what()),
            "test.yaml:5:22: listeners[0].timeouts.idle: expected a "
            "duration of at least 1ms, got \"0s\"");
}

TEST(ConfigValues, ConnectTimeoutAboveOneHourIsOutOfRange) {
  const ConfigError e = error_of(with_timeouts("connect: 61m"));
  EXPECT_EQ(std::string(e.what()),
            "test.yaml:5:25: listeners[0].timeouts.connect: expected a "
            "duration from 1ms to 1h, got \"61m\"");
}

TEST(ConfigValues, DurationOverflowIsRefused) {
  const ConfigError e = error_of(with_timeouts("idle: 9999999999999h"));
  EXPECT_EQ(e.column(), 22);
  EXPECT_NE(std::string(e.what()).find("expected a duration of at most 9223372036854775807ms"),
            std::string::npos)
      << e.what();
}

TEST(ConfigValues, LongValueIsShortenedInTheMessage) {
  const ConfigError e = error_of(with_listen(std::string(200, 'x')));
  EXPECT_NE(std::string(e.what()).find("got \"" + std::string(60, 'x') + "...\""),
            std::string::npos)
      << e.what();
}

TEST(ConfigValues, BusyPollTakesMicrosecondsOrADurationUpTo10ms) {
  const auto busy_poll = [](const std::string& value) {
    return load_config_string("busy_poll: " + value + "\n" + kMinimal, "test.yaml").busy_poll;
  };
  EXPECT_EQ(load_config_string(kMinimal, "test.yaml").busy_poll.count(), 0) << "off by default";
  EXPECT_EQ(busy_poll("50us").count(), 50);
  EXPECT_EQ(busy_poll("0us").count(), 0);
  EXPECT_EQ(busy_poll("2ms").count(), 2000);
  EXPECT_EQ(busy_poll("10000us").count(), 10000);
  for (const char* bad : {"11ms", "10001us", "us", "5", "-5us", "fast"}) {
    const ConfigError e = error_of("busy_poll: " + std::string(bad) + "\n" + kMinimal);
    EXPECT_EQ(std::string(e.what()),
              "test.yaml:1:12: busy_poll: expected a duration from 0us "
              "to 10ms (\"50us\", \"1ms\"), got \"" +
                  std::string(bad) + "\"")
        << bad;
  }
}

}  // namespace
}  // namespace spliceproxy::config
