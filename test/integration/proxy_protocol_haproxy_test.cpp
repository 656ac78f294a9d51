// HAProxy 2.6 as the independent judge of our PROXY protocol, in both versions (the test's
// parameter): its `send-proxy` / `send-proxy-v2` headers are read by our listener, and our
// backend headers are read by its `accept-proxy` bind, which logs the client address it
// found (%ci:%cp) and the destination (%fi:%fp). Payload checked with SHA-256 end to end.
//
//   client 127.0.0.5 ──► HAProxy (send-proxy) ──► spliceproxy (accepts) ──► recording backend
//   client 127.0.0.5 ──► spliceproxy (sends) ──► HAProxy (accept-proxy) ──► recording backend
#include <unistd.h>

#include <filesystem>
#include <string>

#include "test/integration/haproxy_process.hpp"
#include "test/integration/proxy_protocol_fixture.hpp"
#include "test/integration/test_backend.hpp"

namespace spliceproxy::test {
namespace {

constexpr std::uint64_t kPayload = 256 * kKiB;

std::string haproxy_config(const std::string& bind, const std::string& server) {
  return "global\n  log stdout format raw local0\n"
         "defaults\n  mode tcp\n  log global\n  timeout connect 5s\n"
         "  timeout client 30s\n  timeout server 30s\n"
         "frontend judge\n  bind " +
         bind +
         "\n  log-format \"judge client=%ci:%cp dst=%fi:%fp bytes=%U\"\n"
         "  default_backend next\n"
         "backend next\n  server s1 " +
         server + "\n";
}

class HaproxyJudgeTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(HaproxyProcess::installed()) << "haproxy is not installed (tools/deps.sh --test)";
  }
  void TearDown() override {
    if (proxy_) {
      EXPECT_EQ(proxy_->stop(), 0) << proxy_->stderr_text();
    }
    if (HasFailure() && haproxy_)
      std::cerr << "haproxy stdout:\n" << haproxy_->stdout_text() << haproxy_->stderr_text();
    haproxy_.reset();
    if (!socket_.empty()) std::filesystem::remove(socket_);
  }
  std::string version() const { return GetParam(); }

  // Starts HAProxy with an accept-proxy bind on a fresh Unix socket in front of 127.0.0.1:
  // `backend_port`; returns the socket's path once HAProxy listens on it ("" on failure).
  std::string start_accepting_haproxy(std::uint16_t backend_port) {
    socket_ = std::filesystem::temp_directory_path() /
              ("spliceproxy-judge-" + std::to_string(::getpid()) + ".sock");
    std::filesystem::remove(socket_);
    haproxy_ = std::make_unique<HaproxyProcess>(haproxy_config(
        "unix@" + socket_ + " accept-proxy", "127.0.0.1:" + std::to_string(backend_port)));
    return run_until([&] { return unix_listening(socket_); }, Clock::now() + 10s) ? socket_ : "";
  }

  std::string socket_;  // removed at the end when set
  std::unique_ptr<ProxyProcess> proxy_;
  std::unique_ptr<HaproxyProcess> haproxy_;
};

TEST_P(HaproxyJudgeTest, OurListenerReadsTheHeaderHaproxySends) {
  TestBackend backend(recording_sink());
  proxy_ = std::make_unique<ProxyProcess>(pp_yaml("splice", {.listener_proxy_protocol = version(),
                                                             .backend_proxy_protocol = "v1",
                                                             .backend_port = backend.port()}));
  const std::uint16_t front = free_loopback_port();
  const std::string send = version() == "v1" ? " send-proxy" : " send-proxy-v2";
  haproxy_ = std::make_unique<HaproxyProcess>(haproxy_config(
      "127.0.0.1:" + std::to_string(front), "127.0.0.1:" + std::to_string(proxy_->port()) + send));
  ASSERT_TRUE(run_until([&] { return tcp_listening(front); }, Clock::now() + 10s));
  const SentClient sent = send_through(front, {}, kPayload, "127.0.0.5");
  const std::vector<BackendResult> received = backend.wait_for_results(1, Clock::now() + 20s);
  ASSERT_EQ(received.size(), 1u);
  // Our backend header repeats what HAProxy told us: the client and the address it called.
  const std::string line = v1_line("TCP4", "127.0.0.5", "127.0.0.1", sent.client_port, front);
  expect_header_then_payload(received[0], bytes(line), sent);
}

TEST_P(HaproxyJudgeTest, HaproxyReadsTheHeaderWeSend) {
  TestBackend backend(recording_sink());
  const std::string socket = start_accepting_haproxy(backend.port());
  ASSERT_FALSE(socket.empty());
  proxy_ = std::make_unique<ProxyProcess>(pp_yaml(
      "splice", {.backend_proxy_protocol = version(), .backend_address = "unix:" + socket}));
  const SentClient sent = send_through(proxy_->port(), {}, kPayload, "127.0.0.5");
  const std::vector<BackendResult> received = backend.wait_for_results(1, Clock::now() + 20s);
  ASSERT_EQ(received.size(), 1u);
  expect_header_then_payload(received[0], {}, sent);  // HAProxy took the header off
  const std::string logged = "judge client=127.0.0.5:" + std::to_string(sent.client_port) +
                             " dst=127.0.0.1:" + std::to_string(proxy_->port()) +
                             " bytes=" + std::to_string(kPayload);
  EXPECT_TRUE(haproxy_->wait_for_stdout(logged, Clock::now() + 20s)) << "expected: " << logged;
}

// Health checks of a backend with proxy_protocol start with v1 UNKNOWN / v2 LOCAL, which
// HAProxy accepts as "no client behind this connection": it logs the Unix socket's own
// address (unix:1) rather than a PROXY protocol error.
TEST_P(HaproxyJudgeTest, HealthChecksSendAHeaderHaproxyAccepts) {
  TestBackend backend(BackendBehavior::sink());
  const std::string socket = start_accepting_haproxy(backend.port());
  ASSERT_FALSE(socket.empty());
  proxy_ = std::make_unique<ProxyProcess>(
      pp_yaml("splice", {.backend_proxy_protocol = version(),
                         .backend_address = "unix:" + socket,
                         .backend_extra = "    health_check: {interval: 50ms}\n"}));
  const std::string checked = "judge client=unix:1 dst=unix:1 bytes=0\n";
  ASSERT_TRUE(haproxy_->wait_for_stdout(checked + checked, Clock::now() + 20s));
  EXPECT_EQ(haproxy_->stdout_text().find("PROXY"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Versions, HaproxyJudgeTest, ::testing::Values("v1", "v2"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace spliceproxy::test
