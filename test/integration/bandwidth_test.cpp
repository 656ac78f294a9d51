// Bandwidth caps through the real binary, with real clients over loopback: the achieved rate of
// 1 and 8 capped streams, the listener's cap shared by its sessions, a capped session that
// still half-closes (every client waits for the peer's EOF after its own) and still drains on
// SIGTERM. The machine is shared: rates are asserted within [0.5, 1.5] × the cap, over 3 s or
// more; the precise figures are the benchmark's (tools/bench).
#include <gtest/gtest.h>

#include <csignal>
#include <future>

#include "test/integration/harness.hpp"
#include "test/integration/mode_fixture.hpp"
#include "test/integration/test_backend.hpp"
#include "test/integration/traffic.hpp"

namespace spliceproxy::test {
namespace {

class BandwidthTest : public ProxyModeTest {
 protected:
  // Runs `streams` echo clients sending `bytes` each; returns the achieved client_to_backend
  // rate of all of them together, in bytes per second, after checking every stream intact.
  double run_streams(int streams, std::uint64_t bytes) {
    std::vector<ClientPlan> plans;
    for (int i = 0; i < streams; ++i)
      plans.push_back({.send_bytes = bytes, .send_seed = static_cast<std::uint64_t>(i + 1)});
    const auto started = Clock::now();
    const auto clients = run_clients(proxy_->port(), plans, Clock::now() + 60s);
    Clock::time_point last = started;
    for (const ClientResult& client : clients) {
      EXPECT_TRUE(client.complete()) << client.describe();
      EXPECT_EQ(client.received_sha256, client.sent_sha256);
      last = std::max(last, client.ended_at);
    }
    const double seconds = std::chrono::duration<double>(last - started).count();
    const double rate = static_cast<double>(bytes) * streams / seconds;
    RecordProperty("achieved_bytes_per_second", static_cast<int>(rate));
    return rate;
  }

  std::uint64_t stat(std::string_view name) {
    EXPECT_EQ(proxy_->stop(), 0);
    return stat_value(proxy_->stderr_text(), name).value_or(0);
  }
};

// Each session capped at 4 MiB/s client_to_backend; 12 MiB each: 3 s at the cap.
TEST_P(BandwidthTest, OneCappedStreamRunsAtItsCapAndHalfCloses) {
  TestBackend backend(BackendBehavior::echo());
  start_proxy({{.backend_port = backend.port(),
                .extra_keys = "    bandwidth: {client_to_backend: 4MiB/s}\n"}});
  const double rate = run_streams(1, 12 * kMiB);
  EXPECT_GE(rate, 0.5 * 4 * kMiB);
  EXPECT_LE(rate, 1.5 * 4 * kMiB);
  EXPECT_GE(stat("bandwidth_waits_total"), 1u);
  if (GetParam() == "splice") {
    // The pipe path stays the pipe path: the capped bytes moved by splice (both directions).
    EXPECT_GE(stat_value(proxy_->stderr_text(), "bytes_spliced_total"), 2 * 12 * kMiB);
  }
}

TEST_P(BandwidthTest, EightCappedStreamsRunEachAtItsCap) {
  TestBackend backend(BackendBehavior::echo());
  start_proxy({{.backend_port = backend.port(),
                .extra_keys = "    bandwidth: {client_to_backend: 2MiB/s}\n"}});
  const double rate = run_streams(8, 6 * kMiB);  // 16 MiB/s together, 3 s
  EXPECT_GE(rate, 0.5 * 8 * 2 * kMiB);
  EXPECT_LE(rate, 1.5 * 8 * 2 * kMiB);
}

TEST_P(BandwidthTest, ListenerCapIsSharedByItsSessions) {
  TestBackend backend(BackendBehavior::echo());
  start_proxy({{.backend_port = backend.port(),
                .extra_keys = "    bandwidth: {listener: {client_to_backend: 8MiB/s}}\n"}});
  const double rate = run_streams(8, 3 * kMiB);  // 24 MiB at 8 MiB/s together: 3 s
  EXPECT_GE(rate, 0.5 * 8 * kMiB);
  EXPECT_LE(rate, 1.5 * 8 * kMiB);
}

// SIGTERM while a capped session is mid-transfer: the session goes on at its cap and finishes
// intact, and the process exits 0 with it.
TEST_P(BandwidthTest, CappedSessionDrainsOnSigterm) {
  TestBackend backend(BackendBehavior::echo());
  start_proxy({{.backend_port = backend.port(),
                .extra_keys = "    bandwidth: {client_to_backend: 4MiB/s}\n"}});
  auto client = std::async(std::launch::async, [&] {
    return run_client(proxy_->port(), {.send_bytes = 8 * kMiB, .send_seed = 5}, Clock::now() + 60s);
  });
  ASSERT_TRUE(run_until([&] { return backend.accepted() == 1; }, Clock::now() + 10s));
  proxy_->send_signal(SIGTERM);
  const ClientResult result = client.get();
  EXPECT_TRUE(result.complete()) << result.describe();
  EXPECT_EQ(result.received_sha256, result.sent_sha256);
  EXPECT_EQ(proxy_->wait_for_exit(30s), 0);
  EXPECT_NE(proxy_->stderr_text().find("drained: 1 sessions finished, 0 closed at shutdown"),
            std::string::npos)
      << proxy_->stderr_text();
}

INSTANTIATE_TEST_SUITE_P(Modes, BandwidthTest, ::testing::Values("splice", "auto"), mode_name);

}  // namespace
}  // namespace spliceproxy::test
