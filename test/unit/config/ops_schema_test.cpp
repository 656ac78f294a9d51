// The operations keys of proxy.yaml (log.access, admin): defaults, round trips through to_yaml,
// to_json, and errors that point at the key.
#include <string>

#include <gtest/gtest.h>

#include "config/config.hpp"
#include "test/unit/config/config_test_util.hpp"

namespace spliceproxy::config {
namespace {

using test::error_of;
using test::kMinimal;

TEST(OpsSchema, AccessLogOnStdoutAndNoAdminEndpointByDefault) {
  const Config config = load_config_string(kMinimal, "test.yaml");
  EXPECT_EQ(config.log.access, "stdout");
  EXPECT_FALSE(config.admin.enabled);
}

TEST(OpsSchema, AnEmptyAdminSectionListensOnLoopback9901) {
  const Config config = load_config_string(std::string(kMinimal) + "admin: {}\n", "test.yaml");
  EXPECT_TRUE(config.admin.enabled);
  EXPECT_EQ(config.admin.listen, (Address{"127.0.0.1", 9901, {}}));
  EXPECT_EQ(load_config_string(to_yaml(config), "test.yaml"), config);
}

TEST(OpsSchema, AccessOffAndAdminPortZeroRoundTrip) {
  const Config config = load_config_string(
      std::string(kMinimal) + "log: {access: \"off\"}\nadmin: {listen: 127.0.0.1:0}\n", "t.yaml");
  EXPECT_EQ(config.log.access, "off");
  EXPECT_EQ(config.admin.listen.port, 0);
  EXPECT_EQ(load_config_string(to_yaml(config), "t.yaml"), config);
}

TEST(OpsSchema, AdminOnAUnixSocketIsRefused) {
  const ConfigError e =
      error_of(std::string(kMinimal) + "admin:\n  listen: unix:/run/admin.sock\n");
  EXPECT_EQ(std::string(e.what()),
            "test.yaml:10:11: admin.listen: expected host:port (the admin endpoint is TCP only), "
            "got \"unix:/run/admin.sock\"");
}

TEST(OpsSchema, UnknownAdminKeyIsReported) {
  const ConfigError e = error_of(std::string(kMinimal) + "admin: {port: 9901}\n");
  EXPECT_EQ(e.line(), 9);
  EXPECT_NE(std::string(e.what()).find("unknown key 'port'"), std::string::npos) << e.what();
}

TEST(OpsSchema, ToJsonKeepsNumbersAndQuotedStringsApart) {
  Config config = load_config_string(test::kFull, "full.yaml");
  config.listeners[0].name = "we\"b";
  const std::string json = to_json(config);
  EXPECT_EQ(json.rfind("{\"workers\":4,\"busy_poll\":\"0us\",\"drain_timeout\":\"0ms\",\"log\":{"
                       "\"level\":\"debug\",\"access\":"
                       "\"/var/log/spliceproxy/access.log\"},\"admin\":{\"listen\":\"[::1]:9902\"}",
                       0),
            0u)
      << json;
  EXPECT_NE(json.find("\"name\":\"we\\\"b\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"max_connect_attempts\":3"), std::string::npos) << json;
  EXPECT_EQ(json.back(), '\n');
}

}  // namespace
}  // namespace spliceproxy::config
