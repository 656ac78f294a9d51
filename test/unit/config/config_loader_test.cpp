// Unit tests of config/: loading valid configs, defaults, to_yaml round trips and the
// example file. Error reporting is covered in config_validation_test.cpp.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "config/config.hpp"
#include "test/unit/config/config_test_util.hpp"

namespace spliceproxy::config {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

const std::string kExample = std::string(SPLICEPROXY_SOURCE_DIR) + "/proxy.yaml.example";

TEST(ConfigLoader, MinimalConfigGetsEveryDefault) {
  const Config config = load_config_string(test::kMinimal, "test.yaml");
  EXPECT_EQ(config.source, "test.yaml");
  EXPECT_EQ(config.workers, 1u);
  EXPECT_EQ(config.drain_timeout, seconds(25));
  EXPECT_EQ(config.log.level, LogLevel::info);
  EXPECT_EQ(config.splice.mode, SpliceMode::automatic);
  EXPECT_EQ(config.splice.pipe_size, 1024u * 1024);
  ASSERT_EQ(config.listeners.size(), 1u);
  const Listener& web = config.listeners[0];
  EXPECT_EQ(web.name, "web");
  EXPECT_EQ(web.listen, (Address{"127.0.0.1", 8080, {}}));
  EXPECT_EQ(web.backend, "app");
  EXPECT_EQ(web.timeouts.connect, seconds(5));
  EXPECT_EQ(web.timeouts.idle, minutes(5));
  ASSERT_EQ(config.backends.size(), 1u);
  EXPECT_EQ(config.backends[0].name, "app");
  ASSERT_EQ(config.backends[0].servers.size(), 1u);
  EXPECT_EQ(config.backends[0].servers[0].address, (Address{"127.0.0.1", 9000, {}}));
}

TEST(ConfigLoader, FullConfigSetsEveryKey) {
  const Config config = load_config_string(test::kFull, "full.yaml");
  EXPECT_EQ(config.workers, 4u);
  EXPECT_EQ(config.drain_timeout, milliseconds(0));
  EXPECT_EQ(config.log.level, LogLevel::debug);
  EXPECT_EQ(config.log.access, "/var/log/spliceproxy/access.log");
  EXPECT_TRUE(config.admin.enabled);
  EXPECT_EQ(config.admin.listen, (Address{"::1", 9902, {}}));
  EXPECT_EQ(config.splice.mode, SpliceMode::copy);
  EXPECT_EQ(config.splice.pipe_size, 64u * 1024);
  ASSERT_EQ(config.listeners.size(), 2u);
  EXPECT_EQ(config.listeners[0].timeouts.connect, milliseconds(250));
  EXPECT_EQ(config.listeners[0].timeouts.idle, seconds(90));
  EXPECT_EQ(config.listeners[1].listen, (Address{"::1", 0, {}}));
  EXPECT_EQ(config.listeners[1].backend, "db.v2");
  EXPECT_EQ(config.listeners[1].timeouts.connect, seconds(5));
  EXPECT_EQ(config.listeners[1].timeouts.idle, std::chrono::hours(2));
  ASSERT_EQ(config.backends.size(), 2u);
  ASSERT_EQ(config.backends[1].servers.size(), 2u);
  EXPECT_EQ(config.backends[1].servers[1].address, (Address{"2001:db8::7", 5432, {}}));
}

TEST(ConfigLoader, WorkersAutoMeansOnePerCore) {
  const Config config = load_config_string("workers: auto\n" + std::string(test::kMinimal), "t");
  const unsigned cores = std::thread::hardware_concurrency();
  EXPECT_EQ(config.workers, cores == 0 ? 1u : std::min(cores, 256u));
}

TEST(ConfigLoader, ListenPortZeroMeansAnyPort) {
  const Config config = load_config_string(test::with_listen("127.0.0.1:0"), "t");
  EXPECT_EQ(config.listeners[0].listen.port, 0);
}

TEST(ConfigLoader, FlowStyleMapsAreAccepted) {
  const Config config = load_config_string(
      "splice: {mode: copy, pipe_size: 4KiB}\n" + std::string(test::kMinimal), "t");
  EXPECT_EQ(config.splice.mode, SpliceMode::copy);
  EXPECT_EQ(config.splice.pipe_size, 4096u);
}

TEST(ConfigLoader, BackendOfReturnsTheNamedBackend) {
  const Config config = load_config_string(test::kFull, "t");
  EXPECT_EQ(config.backend_of(config.listeners[1]).name, "db.v2");
  EXPECT_EQ(&config.backend_of(config.listeners[0]), &config.backends[0]);
}

TEST(ConfigLoader, AddressToStringBracketsIpv6) {
  EXPECT_EQ((Address{"127.0.0.1", 80, {}}).to_string(), "127.0.0.1:80");
  EXPECT_EQ((Address{"::1", 8080, {}}).to_string(), "[::1]:8080");
}

TEST(ConfigLoader, EnumsPrintAsInYaml) {
  EXPECT_EQ(to_string(LogLevel::warn), "warn");
  EXPECT_EQ(to_string(SpliceMode::copy), "copy");
  EXPECT_EQ(to_string(SpliceMode::automatic), "auto");
}

TEST(ConfigLoader, SpliceModeAutoIsParsed) {
  const Config config =
      load_config_string("splice: {mode: auto}\n" + std::string(test::kMinimal), "t");
  EXPECT_EQ(config.splice.mode, SpliceMode::automatic);
}

TEST(ConfigLoader, ToYamlFillsInDefaultsInNicestUnits) {
  const std::string yaml = to_yaml(load_config_string(test::kMinimal, "t"));
  EXPECT_NE(yaml.find("workers: 1\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("  level: info\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("  mode: auto\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("  pipe_size: 1MiB\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("      connect: 5s\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("      idle: 5m\n"), std::string::npos) << yaml;
}

TEST(ConfigLoader, ToYamlLoadsBackToAnEqualConfig) {
  const Config config = load_config_string(test::kFull, "full.yaml");
  const std::string yaml = to_yaml(config);
  EXPECT_EQ(load_config_string(yaml, "full.yaml"), config) << yaml;
}

TEST(ConfigLoader, ToYamlQuotesWhatWouldNotReadBack) {
  Config config = load_config_string(test::kMinimal, "t");
  config.backends[0].name = "null";  // a plain `null` would read as an empty value
  config.listeners[0].backend = "null";
  config.listeners[0].listen = Address{"::", 443, {}};
  const std::string yaml = to_yaml(config);
  EXPECT_NE(yaml.find("listen: \"[::]:443\""), std::string::npos) << yaml;
  EXPECT_EQ(load_config_string(yaml, "t"), config) << yaml;
}

TEST(ConfigLoader, ExampleFileLoadsWithDocumentedValues) {
  const Config config = load_config_file(kExample);
  EXPECT_EQ(config.source, kExample);
  EXPECT_EQ(config.workers, 1u);
  EXPECT_EQ(config.log.level, LogLevel::info);
  EXPECT_EQ(config.splice, (SpliceSettings{SpliceMode::automatic, 1024 * 1024}));
  ASSERT_EQ(config.listeners.size(), 1u);
  Listener web;
  web.name = "web";
  web.listen = Address{"127.0.0.1", 8080, {}};
  web.backend = "app";
  web.max_connections = 10000;
  web.max_connection_rate = {.listener = {1000, std::chrono::seconds(1), 200},
                             .per_source = {100, std::chrono::seconds(1), 50},
                             .over_limit = OverLimit::wait};
  web.mirrors = {MirrorRef{"capture", MirrorDirection::both, 0.01}};
  EXPECT_EQ(config.listeners[0], web);
  ASSERT_EQ(config.mirrors.size(), 1u);
  EXPECT_EQ(config.mirrors[0].name, "capture");
  EXPECT_EQ(config.mirrors[0].type, MirrorType::pcapng_file);
  EXPECT_EQ(config.mirrors[0].path, "spliceproxy.pcapng");
  EXPECT_EQ(config.mirrors[0].max_size, 64u * 1024 * 1024);
  EXPECT_EQ(config.mirrors[0].keep, 2u);
  ASSERT_EQ(config.backends.size(), 1u);
  Backend app;
  app.name = "app";
  app.servers = {Server{Address{"127.0.0.1", 9000, {}}}};
  app.health_check.enabled = true;
  app.health_check.jitter = milliseconds(200);
  EXPECT_EQ(config.backends[0], app);
}

TEST(ConfigLoader, ExampleFileRoundTripsThroughToYaml) {
  const Config config = load_config_file(kExample);
  EXPECT_EQ(load_config_string(to_yaml(config), kExample), config);
}

TEST(ConfigLoader, FileAndStringLoadTheSame) {
  const std::string path = testing::TempDir() + "config_loader_test.yaml";
  std::ofstream(path) << test::kFull;
  const Config from_file = load_config_file(path);
  EXPECT_EQ(from_file, load_config_string(test::kFull, path));
  std::remove(path.c_str());
}

}  // namespace
}  // namespace spliceproxy::config
