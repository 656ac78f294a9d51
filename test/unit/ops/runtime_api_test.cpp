// The runtime API's JSON (proxy/ops/runtime_api.cpp): a change body read or refused with a
// reason, and the listing's shape.
#include "proxy/ops/runtime_api.hpp"

#include <gtest/gtest.h>

namespace spliceproxy {
namespace {

TEST(RuntimeApi, ReadsAStateAndWeightChange) {
  const ParsedChange parsed = parse_server_change(
      R"({"backend": "app", "server": "10.0.0.7:8080", "state": "drain", "weight": 5})");
  ASSERT_TRUE(parsed.change) << parsed.error;
  EXPECT_EQ(parsed.change->backend, "app");
  EXPECT_EQ(parsed.change->server, "10.0.0.7:8080");
  EXPECT_EQ(parsed.change->state, ServerAdminState::drain);
  EXPECT_EQ(parsed.change->weight, 5u);
}

TEST(RuntimeApi, RefusesBadBodiesWithAReason) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "not JSON"},
      {"{\"backend\": \"a\"", "not JSON"},
      {"\"drain\"", "JSON object"},
      {R"({"server": "x", "state": "drain"})", "backend: expected a string"},
      {R"({"backend": "a", "server": 7, "state": "drain"})", "server: expected a string"},
      {R"({"backend": "a", "server": "x", "state": "up"})", "state: expected"},
      {R"({"backend": "a", "server": "x", "weight": -1})", "weight: expected"},
      {R"({"backend": "a", "server": "x", "weight": 2.5})", "weight: expected"},
      {R"({"backend": "a", "server": "x"})", "nothing to change"},
      {R"({"backend": "a", "server": "x", "state": "drain", "x": 1})", "unknown key \"x\""},
  };
  for (const auto& [body, reason] : cases) {
    const ParsedChange parsed = parse_server_change(body);
    EXPECT_FALSE(parsed.change) << body;
    EXPECT_NE(parsed.error.find(reason), std::string::npos) << body << ": " << parsed.error;
  }
}

TEST(RuntimeApi, ListsServersWithTheirState) {
  ServerStatus server;
  server.address = "10.0.0.7:8080";
  server.origin = "app.test:8080";
  server.state = ServerAdminState::disabled;
  server.weight = 4;
  const std::string json = servers_json({BackendView{"app", 2, {server}, {}}});
  EXPECT_NE(json.find("\"state\": \"disabled\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"origin\": \"app.test:8080\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"queued\": 2"), std::string::npos) << json;
}

}  // namespace
}  // namespace spliceproxy
