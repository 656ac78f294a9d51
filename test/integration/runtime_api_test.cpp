// The runtime API of the admin endpoint through the real binary, driven with curl and read
// with jq: the listing of backends and servers, a drained server whose live 64 MiB transfer
// completes intact while new sessions go elsewhere, a weight change seen in the share of
// sessions, bad bodies and unknown servers refused with nothing changed, and the bearer token.
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <future>
#include <memory>
#include <string>

#include "test/integration/admin_client.hpp"
#include "test/integration/harness.hpp"
#include "test/integration/test_backend.hpp"
#include "test/integration/traffic.hpp"

namespace spliceproxy::test {
namespace {

constexpr std::uint64_t kSessionBytes = 16 * kKiB;

class RuntimeApiTest : public ::testing::Test {
 protected:
  std::string yaml(const std::string& admin_keys = "") const {
    return "log: {level: info, access: \"off\"}\n"
           "admin: {listen: 127.0.0.1:0" +
           admin_keys +
           "}\n"
           "listeners:\n  - {name: web, listen: 127.0.0.1:0, backend: pool}\n"
           "backends:\n  - name: pool\n    servers:\n"
           "      - address: " +
           address(first_) +
           "\n"
           "      - address: " +
           address(second_) + "\n";
  }

  static std::string address(const TestBackend& backend) {
    return "127.0.0.1:" + std::to_string(backend.port());
  }

  void start(const std::string& config) {
    proxy_ = std::make_unique<ProxyProcess>(config);
    admin_ = admin_port(*proxy_);
  }

  void run_sessions(int count) {
    for (int i = 0; i < count; ++i) {
      const ClientPlan plan{.send_bytes = kSessionBytes, .send_seed = std::uint64_t(i)};
      const ClientResult client = run_client(proxy_->port(), plan, Clock::now() + 20s);
      ASSERT_TRUE(client.complete()) << "session " << i << ": " << client.describe();
      ASSERT_EQ(client.received_sha256, client.sent_sha256);
    }
  }

  // jq's raw output (-r) of `filter` over GET /servers.
  std::string servers_jq(const std::string& filter) {
    const HttpReply reply = http_request(admin_, "/servers");
    EXPECT_EQ(reply.status, 200) << reply.body;
    const CommandResult jq = run_jq(reply.body, {"-r", filter});
    EXPECT_EQ(jq.exit_code, 0) << jq.err << reply.body;
    return jq.out;
  }

  static std::string change(const std::string& server, const std::string& what) {
    return "{\"backend\": \"pool\", \"server\": \"" + server + "\", " + what + "}";
  }

  TestBackend first_{BackendBehavior::echo()};
  TestBackend second_{BackendBehavior::echo()};
  std::unique_ptr<ProxyProcess> proxy_;
  std::uint16_t admin_ = 0;
};

TEST_F(RuntimeApiTest, ListsBackendsAndServersAsJson) {
  start(yaml());
  run_sessions(2);
  EXPECT_EQ(servers_jq(".backends[0].name"), "pool\n");
  EXPECT_EQ(servers_jq(".backends[0].servers | length"), "2\n");
  EXPECT_EQ(servers_jq(".backends[0].servers[0].address"), address(first_) + "\n");
  EXPECT_EQ(servers_jq(".backends[0].servers[0].origin"), address(first_) + "\n");
  EXPECT_EQ(servers_jq("[.backends[0].servers[] | .state] | join(\",\")"), "enabled,enabled\n");
  EXPECT_EQ(servers_jq("[.backends[0].servers[] | .weight] | add"), "2\n");
  EXPECT_EQ(servers_jq("[.backends[0].servers[] | .connect_attempts] | add"), "2\n");
  EXPECT_EQ(servers_jq(".backends[0].servers[0].healthy"), "true\n");
  EXPECT_NE(servers_jq(".note").find("lost on restart"), std::string::npos);
}

TEST_F(RuntimeApiTest, DrainedServerKeepsItsTransferAndTakesNoNewSession) {
  start(yaml());
  auto transfer = std::async(std::launch::async, [&] {
    const ClientPlan plan{.send_bytes = 64 * kMiB, .send_seed = 7, .send_rate = 16 * kMiB};
    return run_client(proxy_->port(), plan, Clock::now() + 60s);
  });
  ASSERT_TRUE(
      run_until([&] { return first_.accepted() + second_.accepted() == 1; }, Clock::now() + 10s));
  TestBackend& busy = first_.accepted() == 1 ? first_ : second_;
  TestBackend& other = &busy == &first_ ? second_ : first_;
  const HttpReply drained =
      http_post_json(admin_, "/servers", change(address(busy), "\"state\": \"drain\""));
  ASSERT_EQ(drained.status, 200) << drained.body;
  EXPECT_EQ(run_jq(drained.body, {"-r", ".state"}).out, "drain\n");
  EXPECT_EQ(run_jq(drained.body, {"-r", ".active"}).out, "1\n");
  run_sessions(6);
  EXPECT_EQ(busy.accepted(), 1u);
  EXPECT_EQ(other.accepted(), 6u);
  const std::string metrics = http_request(admin_, "/metrics").body;
  EXPECT_EQ(metric_value(metrics, "spliceproxy_server_state{backend=\"pool\",server=\"" +
                                      address(busy) + "\",state=\"drain\"}"),
            1u);
  const ClientResult big = transfer.get();
  ASSERT_TRUE(big.complete()) << big.describe();
  EXPECT_EQ(big.bytes_received, 64 * kMiB);
  EXPECT_EQ(big.received_sha256, big.sent_sha256);
  // Back to enabled: it takes sessions again.
  ASSERT_EQ(
      http_post_json(admin_, "/servers", change(address(busy), "\"state\": \"enabled\"")).status,
      200);
  run_sessions(2);
  EXPECT_EQ(busy.accepted(), 2u);
}

// Smooth weighted round robin: weights 3 and 1 over 40 sessions give exactly 30 and 10.
TEST_F(RuntimeApiTest, WeightChangeShowsInTheShareOfSessions) {
  start(yaml());
  const HttpReply reply =
      http_post_json(admin_, "/servers", change(address(first_), "\"weight\": 3"));
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(servers_jq(".backends[0].servers[0].weight"), "3\n");
  run_sessions(40);
  EXPECT_EQ(first_.accepted(), 30u);
  EXPECT_EQ(second_.accepted(), 10u);
}

TEST_F(RuntimeApiTest, BadBodiesAndUnknownServersAreRefusedAndChangeNothing) {
  start(yaml());
  const std::string server = address(first_);
  const struct {
    std::string body;
    int status;
    std::string error;
  } cases[] = {
      {"{not json", 400, "not JSON"},
      {"[1, 2]", 400, "JSON object"},
      {change(server, "\"state\": \"sleeping\""), 400, "state: expected"},
      {change(server, "\"weight\": 0"), 400, "weight: expected"},
      {change(server, "\"weight\": 257"), 400, "weight: expected"},
      {change(server, "\"weight\": \"3\""), 400, "weight: expected"},
      {change(server, "\"colour\": \"red\""), 400, "unknown key"},
      {"{\"backend\": \"pool\", \"server\": \"" + server + "\"}", 400, "nothing to change"},
      {change("127.0.0.1:1", "\"state\": \"drain\""), 404, "has no server"},
      {"{\"backend\": \"nope\", \"server\": \"" + server + "\", \"state\": \"drain\"}", 404,
       "no backend"},
  };
  for (const auto& c : cases) {
    const HttpReply reply = http_post_json(admin_, "/servers", c.body);
    EXPECT_EQ(reply.status, c.status) << c.body << " -> " << reply.body;
    const CommandResult error = run_jq(reply.body, {"-r", ".error"});
    EXPECT_NE(error.out.find(c.error), std::string::npos) << c.body << " -> " << reply.body;
  }
  EXPECT_EQ(http_request(admin_, "/servers", "DELETE").status, 405);
  EXPECT_EQ(servers_jq("[.backends[0].servers[] | .state] | join(\",\")"), "enabled,enabled\n");
  EXPECT_EQ(servers_jq("[.backends[0].servers[] | .weight] | add"), "2\n");
  run_sessions(2);
  EXPECT_EQ(first_.accepted(), 1u);
  EXPECT_EQ(second_.accepted(), 1u);
}

TEST_F(RuntimeApiTest, ChangesNeedTheBearerTokenWhenOneIsSet) {
  char path[] = "/tmp/spliceproxy-token-XXXXXX";
  Fd file(mkstemp(path));
  const std::string token = "s3cret-token";
  ASSERT_EQ(write(file.get(), (token + "\n").data(), token.size() + 1),
            static_cast<ssize_t>(token.size() + 1));
  start(yaml(std::string(", token_file: ") + path));
  const std::string body = change(address(first_), "\"state\": \"drain\"");
  EXPECT_EQ(http_post_json(admin_, "/servers", body).status, 401);
  EXPECT_EQ(http_post_json(admin_, "/servers", body, "wrong").status, 401);
  EXPECT_EQ(servers_jq(".backends[0].servers[0].state"), "enabled\n");  // reading stays open
  const HttpReply ok = http_post_json(admin_, "/servers", body, token);
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(servers_jq(".backends[0].servers[0].state"), "drain\n");
  ::unlink(path);
}

TEST_F(RuntimeApiTest, MissingTokenFileRefusesToStart) {
  const std::string config = yaml(", token_file: /nonexistent/spliceproxy-token");
  char path[] = "/tmp/spliceproxy-config-XXXXXX.yaml";
  Fd file(mkstemps(path, 5));
  ASSERT_EQ(write(file.get(), config.data(), config.size()), static_cast<ssize_t>(config.size()));
  const CommandResult result = run_command({SPLICEPROXY_BINARY, "-c", path}, 20s);
  ::unlink(path);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("token_file /nonexistent/spliceproxy-token: cannot be read"),
            std::string::npos)
      << result.err;
}

}  // namespace
}  // namespace spliceproxy::test
