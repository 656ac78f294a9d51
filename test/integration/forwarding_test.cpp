// Forwarding through the real binary: byte-exact bulk streams both ways, many concurrent
// connections, half-close in either direction, and the session count in the exit stats.
// Every test runs in both data path modes (splice and copy); SHA-256 at both ends decides
// whether the bytes arrived intact.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <utility>
#include <vector>

#include "test/integration/harness.hpp"
#include "test/integration/mode_fixture.hpp"
#include "test/integration/test_backend.hpp"
#include "test/integration/traffic.hpp"

namespace spliceproxy::test {
namespace {

class ForwardingTest : public ProxyModeTest {};

TEST_P(ForwardingTest, BulkStreamsBothWaysAtOnceArriveIntact) {
  constexpr std::uint64_t kBytes = 256 * kMiB;
  TestBackend backend(BackendBehavior::send_then_half_close(kBytes, 0xb0b));
  auto& proxy = start_proxy({{.backend_port = backend.port()}});
  const auto deadline = Clock::now() + 240s;

  const ClientResult client = run_client(
      proxy.port(), {.send_bytes = kBytes, .send_seed = 0xa11ce, .max_chunk = kMiB}, deadline);
  const auto servers = backend.wait_for_results(1, deadline);

  ASSERT_TRUE(client.complete()) << client.describe();
  ASSERT_EQ(servers.size(), 1u);
  ASSERT_TRUE(servers[0].complete()) << servers[0].describe();
  EXPECT_EQ(servers[0].bytes_received, kBytes);
  EXPECT_EQ(servers[0].received_sha256, client.sent_sha256);
  EXPECT_EQ(client.bytes_received, kBytes);
  EXPECT_EQ(client.received_sha256, servers[0].sent_sha256);
  EXPECT_NE(client.sent_sha256, servers[0].sent_sha256) << "the two streams must differ";
}

TEST_P(ForwardingTest, HundredConcurrentConnectionsOfRandomSizesArriveIntact) {
  constexpr int kConnections = 100;
  TestBackend backend(BackendBehavior::echo());
  auto& proxy = start_proxy({{.backend_port = backend.port()}});
  SplitMix64 rng(20240601);
  std::vector<ClientPlan> plans;
  for (int i = 0; i < kConnections; ++i) {
    plans.push_back({.send_bytes = rng.uniform(0, 8 * kMiB),
                     .send_seed = 1000u + static_cast<unsigned>(i),
                     .chunk_seed = rng.next(),
                     .max_chunk = (4 * kKiB) << rng.uniform(0, 8)});
  }
  // Each write's size is log-uniform in [1, max_chunk]; max_chunk ranges from 4 KiB to 1 MiB.
  plans[0].send_bytes = 0;  // the edges of the range
  plans[1].send_bytes = 8 * kMiB;
  const auto deadline = Clock::now() + 240s;

  const auto clients = run_clients(proxy.port(), plans, deadline);
  const auto servers = backend.wait_for_results(kConnections, deadline);

  for (int i = 0; i < kConnections; ++i) {
    const ClientResult& client = clients[static_cast<std::size_t>(i)];
    ASSERT_TRUE(client.complete()) << "connection " << i << ": " << client.describe();
    EXPECT_EQ(client.bytes_sent, plans[static_cast<std::size_t>(i)].send_bytes);
    EXPECT_EQ(client.bytes_received, client.bytes_sent) << "connection " << i;
    EXPECT_EQ(client.received_sha256, client.sent_sha256) << "connection " << i;
  }
  ASSERT_EQ(servers.size(), static_cast<std::size_t>(kConnections));
  EXPECT_EQ(backend.accepted(), static_cast<std::size_t>(kConnections));
  for (const auto& server : servers)
    EXPECT_TRUE(server.complete()) << server.describe();
  const SortedDigests digests = sorted_digests(clients, servers);
  EXPECT_EQ(digests.received, digests.sent)
      << "the backend must see exactly the streams the clients sent";
}

// busy_poll: the worker polls without blocking for a while after each round with events. The
// bytes are the same; once traffic stops the polling stops too (the worker blocks again).
TEST_P(ForwardingTest, BusyPollingForwardsIntactAndStopsWhenIdle) {
  constexpr int kConnections = 20;
  TestBackend backend(BackendBehavior::echo());
  proxy_ = std::make_unique<ProxyProcess>(
      "busy_poll: 2ms\n" + proxy_yaml(GetParam(), {{.backend_port = backend.port()}}));
  std::vector<ClientPlan> plans;
  for (int i = 0; i < kConnections; ++i)
    plans.push_back({.send_bytes = (64 * kKiB) << (i % 6),
                     .send_seed = 500u + static_cast<unsigned>(i),
                     .max_chunk = 64u << (i % 8)});
  const auto deadline = Clock::now() + 120s;
  const auto clients = run_clients(proxy_->port(), plans, deadline);
  for (int i = 0; i < kConnections; ++i) {
    const ClientResult& client = clients[static_cast<std::size_t>(i)];
    ASSERT_TRUE(client.complete()) << "connection " << i << ": " << client.describe();
    EXPECT_EQ(client.bytes_received, plans[static_cast<std::size_t>(i)].send_bytes);
    EXPECT_EQ(client.received_sha256, client.sent_sha256) << "connection " << i;
  }
  // Idle: a worker that kept polling would use about all of the window.
  const auto cpu_before = proxy_->cpu_time();
  const auto window_start = Clock::now();
  std::this_thread::sleep_for(1500ms);  // the measurement window, not a wait for an event
  const auto window =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - window_start);
  const auto cpu = proxy_->cpu_time() - cpu_before;
  EXPECT_LT(cpu, window * 3 / 10) << "the idle proxy kept polling: " << cpu.count()
                                  << " ms of CPU in " << window.count() << " ms";
}

TEST_P(ForwardingTest, ClientHalfCloseStillReceivesFullReply) {
  constexpr std::uint64_t kRequest = 4 * kMiB;
  constexpr std::uint64_t kReply = 8 * kMiB;
  // The backend replies only once the client's EOF reached it through the proxy.
  TestBackend backend(BackendBehavior::sink(kReply, 0x5eed));
  auto& proxy = start_proxy({{.backend_port = backend.port()}});
  const auto deadline = Clock::now() + 60s;

  const ClientResult client = run_client(proxy.port(), {.send_bytes = kRequest}, deadline);
  const auto servers = backend.wait_for_results(1, deadline);

  ASSERT_TRUE(client.complete()) << client.describe();
  ASSERT_EQ(servers.size(), 1u);
  ASSERT_TRUE(servers[0].complete()) << servers[0].describe();
  EXPECT_EQ(servers[0].bytes_received, kRequest);
  EXPECT_EQ(servers[0].received_sha256, client.sent_sha256);
  EXPECT_EQ(client.bytes_received, kReply);
  EXPECT_EQ(client.received_sha256, servers[0].sent_sha256);
}

TEST_P(ForwardingTest, BackendHalfCloseStillLetsClientSendEverything) {
  constexpr std::uint64_t kReply = 4 * kMiB;
  constexpr std::uint64_t kRequest = 8 * kMiB;
  // The backend sends and shuts down its write side first; the client starts sending only
  // after that EOF arrived, and the backend keeps reading until the client's EOF.
  TestBackend backend(BackendBehavior::send_then_half_close(kReply, 0x5eed));
  auto& proxy = start_proxy({{.backend_port = backend.port()}});
  const auto deadline = Clock::now() + 60s;

  const ClientResult client =
      run_client(proxy.port(), {.send_bytes = kRequest, .send_after_peer_eof = true}, deadline);
  const auto servers = backend.wait_for_results(1, deadline);

  ASSERT_TRUE(client.complete()) << client.describe();
  ASSERT_EQ(servers.size(), 1u);
  ASSERT_TRUE(servers[0].complete()) << servers[0].describe();
  EXPECT_EQ(client.bytes_received, kReply);
  EXPECT_EQ(client.received_sha256, servers[0].sent_sha256);
  EXPECT_EQ(servers[0].bytes_received, kRequest);
  EXPECT_EQ(servers[0].received_sha256, client.sent_sha256);
}

TEST_P(ForwardingTest, ExitStatsCountAcceptedSessions) {
  constexpr int kSessions = 3;
  TestBackend backend(BackendBehavior::echo());
  auto& proxy = start_proxy({{.backend_port = backend.port()}});
  for (int i = 0; i < kSessions; ++i) {
    const ClientResult client =
        run_client(proxy.port(), {.send_bytes = 64 * kKiB}, Clock::now() + 30s);
    ASSERT_TRUE(client.complete()) << client.describe();
  }

  ASSERT_EQ(proxy.stop(), 0);
  const std::string err = proxy.stderr_text();

  ASSERT_NE(err.find("stats:"), std::string::npos) << "no stats line";
  EXPECT_EQ(stat_value(err, "sessions_accepted_total"), std::optional<std::uint64_t>(kSessions));
}

TEST_P(ForwardingTest, DataPathFollowsConfiguredMode) {
  constexpr std::uint64_t kBytes = 4 * kMiB;
  TestBackend backend(BackendBehavior::echo());
  auto& proxy = start_proxy({{.backend_port = backend.port()}});
  const ClientResult client = run_client(proxy.port(), {.send_bytes = kBytes}, Clock::now() + 30s);
  ASSERT_TRUE(client.complete()) << client.describe();

  ASSERT_EQ(proxy.stop(), 0);
  const std::string err = proxy.stderr_text();

  // Without this, the two instances of every test could be testing the same path.
  const auto spliced = stat_value(err, "bytes_spliced_total");
  const auto copied = stat_value(err, "bytes_copied_total");
  ASSERT_TRUE(spliced && copied) << "no bytes_spliced_total / bytes_copied_total in the stats";
  EXPECT_EQ(*spliced + *copied, 2 * kBytes);
  if (GetParam() == "splice") {
    EXPECT_GT(*spliced, 0u);
    EXPECT_EQ(stat_value(err, "splice_fallbacks_total"), std::optional<std::uint64_t>(0));
  } else if (GetParam() == "auto") {
    // Each direction's first read is copied; large reads that follow are spliced.
    EXPECT_GT(*copied, 0u);
    EXPECT_GT(*spliced, 0u);
    EXPECT_EQ(stat_value(err, "splice_fallbacks_total"), std::optional<std::uint64_t>(0));
  } else {
    EXPECT_EQ(*spliced, 0u);
  }
}

// TCP urgent data: splice stops short of the urgent mark and says EAGAIN although bytes
// follow, so a channel on the pipe path has to read past it another way. The urgent byte is
// not forwarded (as by any reader without SO_OOBINLINE); every other byte is, in order.
TEST_P(ForwardingTest, StreamGoesOnPastAnUrgentByte) {
  TestBackend backend(BackendBehavior::echo());
  auto& proxy = start_proxy({{.backend_port = backend.port()}});
  const auto deadline = Clock::now() + 60s;
  Fd client = connect_loopback(proxy.port(), deadline);
  std::vector<std::uint8_t> before(256 * kKiB);
  std::vector<std::uint8_t> after(256 * kKiB);
  ByteStream(0x0b).fill(before);
  ByteStream(0x0c).fill(after);
  // Bulk first (mode auto then reads into the pipe), all of it echoed: the urgent byte is
  // the next byte the proxy reads from the client.
  ASSERT_TRUE(send_all(client.get(), before, deadline));
  const auto echoed = recv_exact(client.get(), before.size(), deadline);
  ASSERT_TRUE(echoed.has_value());
  EXPECT_TRUE(*echoed == before);
  ASSERT_EQ(::send(client.get(), "!", 1, MSG_OOB | MSG_NOSIGNAL), 1);
  ASSERT_TRUE(send_all(client.get(), after, deadline));
  const auto rest = recv_exact(client.get(), after.size(), deadline);
  ASSERT_TRUE(rest.has_value()) << "the stream stalled at the urgent mark";
  EXPECT_TRUE(*rest == after) << "the bytes after the urgent one differ";
  ASSERT_EQ(::shutdown(client.get(), SHUT_WR), 0);
  EXPECT_FALSE(recv_exact(client.get(), 1, deadline).has_value())
      << "a byte more came back: the urgent byte must not be forwarded";
  EXPECT_TRUE(wait_for_peer_close(client.get(), deadline).closed);
}

INSTANTIATE_TEST_SUITE_P(Modes, ForwardingTest, ::testing::Values("splice", "copy", "auto"),
                         mode_name);

}  // namespace
}  // namespace spliceproxy::test
