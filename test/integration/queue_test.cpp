// The backend queue and the session lifetime cap through the real binary: with the one server
// at max_connections 1, waiting clients are served in arrival order as the slot frees, one
// that waits past timeouts.queue is closed with the queue reason (access log sQ), one past
// max_queued is refused at once; and a session open longer than timeouts.max_lifetime is
// closed by the proxy (reason max_lifetime, access log PD).
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

class QueueTest : public ::testing::Test {
 protected:
  void start(const std::string& timeouts, const std::string& backend_keys) {
    proxy_ = std::make_unique<ProxyProcess>(
        "log: {level: info, access: stdout}\nadmin: {listen: 127.0.0.1:0}\n"
        "listeners:\n  - name: web\n    listen: 127.0.0.1:0\n    backend: pool\n"
        "    timeouts: {" +
        timeouts +
        "}\n"
        "backends:\n  - name: pool\n" +
        backend_keys + "    servers:\n      - {address: 127.0.0.1:" + std::to_string(echo_.port()) +
        ", max_connections: 1}\n");
    admin_ = admin_port(*proxy_);
  }

  // Waits until `count` clients wait in the queue (the admin endpoint's gauge).
  bool queue_length_is(std::uint64_t count, Clock::time_point deadline) {
    return run_until(
        [&] {
          const std::string text = http_request(admin_, "/metrics").body;
          return metric_value(text, "spliceproxy_backend_queue_length{backend=\"pool\"}") == count;
        },
        deadline, 20ms);
  }

  // A client connection whose echo of `tag` came back: it holds the server's one slot.
  Fd connect_and_echo(const std::string& tag, Clock::time_point deadline) {
    Fd fd = connect_loopback(proxy_->port(), deadline);
    send(fd, tag, deadline);
    return fd;
  }

  static void send(Fd& fd, const std::string& tag, Clock::time_point deadline) {
    const std::vector<std::uint8_t> bytes(tag.begin(), tag.end());
    ASSERT_TRUE(send_all(fd.get(), bytes, deadline));
  }

  static bool echoed(Fd& fd, const std::string& tag, Clock::time_point deadline) {
    const auto reply = recv_exact(fd.get(), tag.size(), deadline);
    return reply && std::string(reply->begin(), reply->end()) == tag;
  }

  std::uint64_t closed(std::string_view reason) {
    EXPECT_EQ(proxy_->stop(), 0);
    return stat_value(proxy_->stderr_text(),
                      "sessions_closed_total{reason=\"" + std::string(reason) + "\"}")
        .value_or(0);
  }

  TestBackend echo_{BackendBehavior::echo()};
  std::unique_ptr<ProxyProcess> proxy_;
  std::uint16_t admin_ = 0;
};

TEST_F(QueueTest, WaitingClientsAreServedInArrivalOrderAsTheSlotFrees) {
  start("queue: 20s", "    max_queued: 8\n");
  const auto deadline = Clock::now() + 20s;
  Fd a = connect_and_echo("a", deadline);
  ASSERT_TRUE(echoed(a, "a", deadline));
  Fd b = connect_loopback(proxy_->port(), deadline);
  send(b, "b", deadline);
  ASSERT_TRUE(queue_length_is(1, deadline));  // b is in before c arrives
  Fd c = connect_loopback(proxy_->port(), deadline);
  send(c, "c", deadline);
  ASSERT_TRUE(queue_length_is(2, deadline));
  // Neither is served while a holds the slot.
  EXPECT_FALSE(echoed(b, "b", Clock::now() + 300ms));
  EXPECT_EQ(echo_.accepted(), 1u);
  a.reset();  // a ends: b (first in) gets the slot, c still waits
  ASSERT_TRUE(echoed(b, "b", deadline));
  EXPECT_FALSE(echoed(c, "c", Clock::now() + 300ms));
  EXPECT_EQ(echo_.accepted(), 2u);
  b.reset();
  ASSERT_TRUE(echoed(c, "c", deadline));
  EXPECT_EQ(echo_.accepted(), 3u);
  c.reset();
  ASSERT_TRUE(
      run_until([&] { return echo_.wait_for_results(3, Clock::now()).size() == 3; }, deadline));
  EXPECT_EQ(proxy_->stop(), 0);
  EXPECT_EQ(stat_value(proxy_->stderr_text(), "queue_entered_total"), 2u);
}

TEST_F(QueueTest, ClientPastTheQueueTimeoutIsClosedWithTheQueueReason) {
  start("queue: 500ms", "    max_queued: 8\n");
  const auto deadline = Clock::now() + 20s;
  Fd a = connect_and_echo("a", deadline);
  ASSERT_TRUE(echoed(a, "a", deadline));
  const auto queued = Clock::now();
  Fd b = connect_loopback(proxy_->port(), deadline);
  const CloseEvent close = wait_for_peer_close(b.get(), deadline);
  ASSERT_TRUE(close.closed);
  EXPECT_GE(std::chrono::duration_cast<std::chrono::milliseconds>(close.at - queued).count(), 450);
  EXPECT_EQ(echo_.accepted(), 1u);
  EXPECT_TRUE(run_until([&] { return proxy_->stdout_text().find("\"sQ\"") != std::string::npos; },
                        deadline))
      << proxy_->stdout_text();
  a.reset();
  EXPECT_EQ(closed("queue_timeout"), 1u);
}

TEST_F(QueueTest, ClientPastMaxQueuedIsRefusedAtOnce) {
  start("queue: 20s", "    max_queued: 1\n");
  const auto deadline = Clock::now() + 20s;
  Fd a = connect_and_echo("a", deadline);
  ASSERT_TRUE(echoed(a, "a", deadline));
  Fd b = connect_loopback(proxy_->port(), deadline);
  send(b, "b", deadline);
  ASSERT_TRUE(queue_length_is(1, deadline));
  const auto refused_at = Clock::now();
  Fd c = connect_loopback(proxy_->port(), deadline);
  const CloseEvent close = wait_for_peer_close(c.get(), deadline);
  ASSERT_TRUE(close.closed);
  EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(close.at - refused_at).count(),
            5000);
  a.reset();
  EXPECT_TRUE(echoed(b, "b", deadline));  // the queued one is still served
  b.reset();
  EXPECT_EQ(proxy_->stop(), 0);
  EXPECT_EQ(stat_value(proxy_->stderr_text(), "queue_full_rejects_total"), 1u);
}

TEST_F(QueueTest, SessionPastMaxLifetimeIsClosedByTheProxy) {
  start("max_lifetime: 600ms, max_lifetime_jitter: 200ms, idle: 1m", "");
  const auto deadline = Clock::now() + 20s;
  const auto opened = Clock::now();
  Fd a = connect_and_echo("a", deadline);
  ASSERT_TRUE(echoed(a, "a", deadline));
  const CloseEvent close = wait_for_peer_close(a.get(), deadline);
  ASSERT_TRUE(close.closed);
  const auto lived = std::chrono::duration_cast<std::chrono::milliseconds>(close.at - opened);
  EXPECT_GE(lived.count(), 550);
  EXPECT_LT(lived.count(), 5000);
  EXPECT_TRUE(run_until([&] { return proxy_->stdout_text().find("\"PD\"") != std::string::npos; },
                        deadline))
      << proxy_->stdout_text();
  EXPECT_EQ(closed("max_lifetime"), 1u);
}

}  // namespace
}  // namespace spliceproxy::test
