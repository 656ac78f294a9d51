// The admin endpoint through the real binary: /metrics after known traffic (judged by promtool,
// values checked), /healthz, /readyz (200, and 503 when a backend has no usable server),
// /config (judged by jq, compared with the file), 404 and 405, and admin clients that send
// garbage or stall while the proxy keeps forwarding. Requests are made with curl.
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "test/integration/admin_client.hpp"
#include "test/integration/harness.hpp"
#include "test/integration/test_backend.hpp"
#include "test/integration/traffic.hpp"

namespace spliceproxy::test {
namespace {

constexpr std::uint64_t kSessionBytes = 16 * kKiB;
constexpr int kSessions = 5;

// One listener "web" on an echo backend, the admin endpoint on 127.0.0.1:0, plus `backend_keys`
// (YAML lines, indented 4 spaces) for the backend.
std::string admin_yaml(std::uint16_t backend_port, const std::string& backend_keys = "") {
  return "log: {level: info, access: \"off\"}\n"
         "admin: {listen: 127.0.0.1:0}\n"
         "listeners:\n  - {name: web, listen: 127.0.0.1:0, backend: pool}\n"
         "backends:\n  - name: pool\n" +
         backend_keys + "    servers:\n      - address: 127.0.0.1:" + std::to_string(backend_port) +
         "\n";
}

class AdminTest : public ::testing::Test {
 protected:
  void start(const std::string& yaml) {
    proxy_ = std::make_unique<ProxyProcess>(yaml);
    admin_ = admin_port(*proxy_);
  }

  // `count` echo sessions one after the other, each checked end to end.
  void run_sessions(int count) {
    for (int i = 0; i < count; ++i) {
      const ClientPlan plan{.send_bytes = kSessionBytes, .send_seed = std::uint64_t(i)};
      const ClientResult client = run_client(proxy_->port(), plan, Clock::now() + 20s);
      ASSERT_TRUE(client.complete()) << "session " << i << ": " << client.describe();
      ASSERT_EQ(client.received_sha256, client.sent_sha256);
    }
  }

  // Scrapes /metrics until `series` reads `value` (sessions end asynchronously).
  std::string scrape_until(std::string_view series, std::uint64_t value) {
    std::string text;
    run_until(
        [&] {
          text = http_request(admin_, "/metrics").body;
          return metric_value(text, series) == value;
        },
        Clock::now() + 10s, 50ms);
    return text;
  }

  TestBackend echo_{BackendBehavior::echo()};
  std::unique_ptr<ProxyProcess> proxy_;
  std::uint16_t admin_ = 0;
};

TEST_F(AdminTest, MetricsCountKnownTrafficAndPassPromtool) {
  start(admin_yaml(echo_.port()));
  run_sessions(kSessions);
  const std::string text =
      scrape_until("spliceproxy_sessions_closed_total{reason=\"completed\"}", kSessions);
  const CommandResult check = run_promtool_check(text);
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err << "\n" << text;

  const std::uint64_t bytes = kSessions * kSessionBytes;
  const std::string server =
      "backend=\"pool\",server=\"127.0.0.1:" + std::to_string(echo_.port()) + "\"";
  EXPECT_EQ(metric_value(text, "spliceproxy_sessions_accepted_total"), kSessions);
  EXPECT_EQ(metric_value(text, "spliceproxy_bytes_client_to_backend_total"), bytes);
  EXPECT_EQ(metric_value(text, "spliceproxy_sessions_active"), 0u);
  EXPECT_EQ(metric_value(text,
                         "spliceproxy_listener_bytes_total{listener=\"web\","
                         "direction=\"client_to_backend\"}"),
            bytes);
  EXPECT_EQ(metric_value(text,
                         "spliceproxy_listener_bytes_total{listener=\"web\","
                         "direction=\"backend_to_client\"}"),
            bytes);
  EXPECT_EQ(metric_value(text, "spliceproxy_server_bytes_total{" + server +
                                   ",direction=\"backend_to_client\"}"),
            bytes);
  EXPECT_EQ(metric_value(text, "spliceproxy_server_connect_attempts_total{" + server + "}"),
            kSessions);
  EXPECT_EQ(metric_value(text, "spliceproxy_server_active_connections{" + server + "}"), 0u);
  EXPECT_EQ(metric_value(text, "spliceproxy_server_healthy{" + server + "}"), 1u);
  EXPECT_EQ(metric_value(text, "spliceproxy_config_generation"), 1u);
  EXPECT_GT(metric_value(text, "spliceproxy_pipe_size_bytes").value_or(0), 0u);
}

TEST_F(AdminTest, HealthzAndReadyzAnswerOk) {
  start(admin_yaml(echo_.port()));
  const HttpReply health = http_request(admin_, "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
  const HttpReply ready = http_request(admin_, "/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;
}

TEST_F(AdminTest, ReadyzIs503WhenTheBackendHasNoUsableServer) {
  RefusingPort refusing;
  start(admin_yaml(refusing.port(),
                   "    health_check: {interval: 100ms, timeout: 1s, rise: 1, fall: 1}\n"));
  HttpReply ready;
  EXPECT_TRUE(run_until(
      [&] {
        ready = http_request(admin_, "/readyz");
        return ready.status == 503;
      },
      Clock::now() + 10s, 50ms))
      << ready.status << " " << ready.body;
  EXPECT_EQ(ready.body, "listener web: backend pool has no usable server\n");
  EXPECT_EQ(http_request(admin_, "/healthz").status, 200);
}

TEST_F(AdminTest, ConfigIsJsonThatMatchesTheFile) {
  start(admin_yaml(echo_.port()));
  const HttpReply config = http_request(admin_, "/config");
  ASSERT_EQ(config.status, 200);
  const CommandResult jq =
      run_jq(config.body, {"-r",
                           "[.workers, .log.access, .admin.listen, .listeners[0].name, "
                           ".listeners[0].timeouts.idle, .backends[0].servers[0].address] | "
                           "map(tostring) | join(\" \")"});
  ASSERT_EQ(jq.exit_code, 0) << jq.err << config.body;
  EXPECT_EQ(jq.out, "1 off 127.0.0.1:0 web 5m 127.0.0.1:" + std::to_string(echo_.port()) + "\n");
}

TEST_F(AdminTest, UnknownPathIs404AndOtherMethodsAre405) {
  start(admin_yaml(echo_.port()));
  EXPECT_EQ(http_request(admin_, "/nope").status, 404);
  EXPECT_EQ(http_request(admin_, "/metrics", "POST").status, 405);
  EXPECT_EQ(http_request(admin_, "/healthz", "DELETE").status, 405);
}

TEST_F(AdminTest, GarbageAndStalledAdminClientsDoNotStopForwarding) {
  start(admin_yaml(echo_.port()));
  // Clients that stall half-way through a request header, and one that sends garbage.
  std::vector<Fd> stalled;
  for (int i = 0; i < 4; ++i) {
    stalled.push_back(connect_loopback(admin_, Clock::now() + 5s));
    const std::string partial = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
    ASSERT_TRUE(send_all(stalled.back().get(),
                         {reinterpret_cast<const std::uint8_t*>(partial.data()), partial.size()},
                         Clock::now() + 5s));
  }
  Fd garbage = connect_loopback(admin_, Clock::now() + 5s);
  const std::string junk(3000, '\x01');
  ASSERT_TRUE(send_all(garbage.get(),
                       {reinterpret_cast<const std::uint8_t*>(junk.data()), junk.size()},
                       Clock::now() + 5s));
  const CloseEvent closed = wait_for_peer_close(garbage.get(), Clock::now() + 10s);
  EXPECT_TRUE(closed.closed) << "the admin endpoint kept a garbage client";

  run_sessions(kSessions);
  EXPECT_EQ(http_request(admin_, "/healthz").status, 200);
  EXPECT_EQ(proxy_->stop(), 0);
}

}  // namespace
}  // namespace spliceproxy::test
