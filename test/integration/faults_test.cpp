// Faults through the real binary: backends that refuse, hang on connect or reset, clients that
// reset, a backend that reads slowly, and sessions left idle. Each fault closes only the
// session it touches, promptly, without leaking descriptors or growing memory, and the proxy
// keeps serving. Every test runs in both data path modes (splice and copy).
#include <gtest/gtest.h>

#include <vector>

#include "test/integration/harness.hpp"
#include "test/integration/mode_fixture.hpp"
#include "test/integration/test_backend.hpp"
#include "test/integration/traffic.hpp"

namespace spliceproxy::test {
namespace {

class FaultsTest : public ProxyModeTest {
 protected:
  // A hashed echo transfer through `listener` that must come through intact.
  void expect_intact_transfer(const std::string& listener) {
    const ClientResult client = run_client(
        proxy_->port(listener), {.send_bytes = 2 * kMiB, .send_seed = 77}, Clock::now() + 30s);
    ASSERT_TRUE(client.complete()) << client.describe();
    EXPECT_EQ(client.bytes_received, client.bytes_sent);
    EXPECT_EQ(client.received_sha256, client.sent_sha256);
  }

  // Runs one transfer through `listener` (so that pools hold what they keep between sessions),
  // waits until the proxy closed that session, and returns its descriptor count then.
  int descriptor_baseline(const std::string& listener) {
    const int sockets = proxy_->open_socket_count();
    expect_intact_transfer(listener);
    EXPECT_TRUE(
        run_until([&] { return proxy_->open_socket_count() == sockets; }, Clock::now() + 5s))
        << "the warm-up session's sockets stay open";
    sockets_at_rest_ = sockets;
    return proxy_->open_fd_count();
  }

  // Waits until the proxy holds no session socket and no more descriptors than `baseline`.
  void expect_descriptors_back_to(int baseline) {
    const bool back = run_until(
        [&] {
          return proxy_->open_socket_count() == sockets_at_rest_ &&
                 proxy_->open_fd_count() <= baseline;
        },
        Clock::now() + 5s);
    EXPECT_TRUE(back) << "descriptors: " << proxy_->open_fd_count() << " (baseline " << baseline
                      << "), sockets: " << proxy_->open_socket_count() << " (at rest "
                      << sockets_at_rest_ << ")";
  }

  int sockets_at_rest_ = 0;
};

TEST_P(FaultsTest, RefusedBackendClosesClientAndProxyKeepsServing) {
  RefusingPort refusing;
  TestBackend working(BackendBehavior::echo());
  auto& proxy =
      start_proxy({{.name = "dead", .backend_port = refusing.port(), .connect_timeout = "2s"},
                   {.name = "web", .backend_port = working.port()}});

  Fd client = connect_loopback(proxy.port("dead"), Clock::now() + 5s);
  const auto connected = Clock::now();
  const CloseEvent close = wait_for_peer_close(client.get(), connected + 10s);

  ASSERT_TRUE(close.closed) << "the client stays open although the backend refused";
  EXPECT_LE(close.at - connected, 3s) << "connect timeout (2 s) + 1 s";
  expect_intact_transfer("web");
}

TEST_P(FaultsTest, BlackholedBackendClosesClientAtConnectTimeout) {
  Blackhole blackhole;
  TestBackend working(BackendBehavior::echo());
  auto& proxy =
      start_proxy({{.name = "hole", .backend_port = blackhole.port(), .connect_timeout = "1s"},
                   {.name = "web", .backend_port = working.port()}});

  Fd client = connect_loopback(proxy.port("hole"), Clock::now() + 5s);
  const auto connected = Clock::now();
  const CloseEvent close = wait_for_peer_close(client.get(), connected + 10s);

  ASSERT_TRUE(close.closed) << "the client stays open although the connect hangs";
  EXPECT_GE(close.at - connected, 900ms) << "closed before the connect timeout (1 s)";
  EXPECT_LE(close.at - connected, 2s) << "connect timeout (1 s) + 1 s";
  expect_intact_transfer("web");
}

TEST_P(FaultsTest, BackendResetMidStreamClosesClientPromptly) {
  TestBackend resetting(BackendBehavior::reset_after_reading(1 * kMiB));
  TestBackend working(BackendBehavior::echo());
  start_proxy({{.name = "web", .backend_port = resetting.port()},
               {.name = "warm", .backend_port = working.port()}});
  const int baseline = descriptor_baseline("warm");

  // Far more than socket buffers and pipes hold: the client is still sending at the reset.
  const ClientResult client =
      run_client(proxy_->port("web"), {.send_bytes = 256 * kMiB}, Clock::now() + 30s);
  const auto servers = resetting.wait_for_results(1, Clock::now() + 5s);

  ASSERT_EQ(servers.size(), 1u);
  ASSERT_TRUE(servers[0].reset_by_us) << servers[0].describe();
  ASSERT_FALSE(client.timed_out) << client.describe();
  EXPECT_FALSE(client.complete()) << client.describe();
  EXPECT_LT(client.bytes_sent, 256 * kMiB);
  EXPECT_LE(client.ended_at - servers[0].ended_at, 3s) << client.describe();
  EXPECT_TRUE(is_reset_error(client.error))
      << "the reset should reach the client as RST; " << client.describe();
  expect_descriptors_back_to(baseline);
}

TEST_P(FaultsTest, ClientResetMidStreamClosesBackendPromptly) {
  TestBackend backend(BackendBehavior::sink());
  TestBackend working(BackendBehavior::echo());
  start_proxy({{.name = "web", .backend_port = backend.port()},
               {.name = "warm", .backend_port = working.port()}});
  const int baseline = descriptor_baseline("warm");

  const ClientResult client =
      run_client(proxy_->port("web"), {.send_bytes = 64 * kMiB, .reset_after_sent = 1 * kMiB},
                 Clock::now() + 30s);
  ASSERT_TRUE(client.reset_by_us) << client.describe();
  const auto servers = backend.wait_for_results(1, client.ended_at + 3s);

  ASSERT_EQ(servers.size(), 1u) << "the backend connection is still open 3 s after the reset";
  EXPECT_FALSE(servers[0].stopped) << servers[0].describe();
  EXPECT_LE(servers[0].bytes_received, 1 * kMiB);
  EXPECT_TRUE(is_reset_error(servers[0].error))
      << "the reset should reach the backend as RST; " << servers[0].describe();
  expect_descriptors_back_to(baseline);
}

// The backend reads 2 MiB/s: 64 MiB take ~32 s per mode, the longest test of the suite. The
// socket buffers and the pipe fill within the first seconds, so the proxy spends almost all
// of the test with its destination full and its source readable.
TEST_P(FaultsTest, SlowReaderGetsEveryByteInBoundedMemory) {
  constexpr std::uint64_t kBytes = 64 * kMiB;
  TestBackend backend(BackendBehavior::slow_reader(2 * kMiB));
  auto& proxy = start_proxy({{.backend_port = backend.port()}});
  const long rss_at_start = proxy.vm_rss_kib();

  const ClientResult client = run_client(proxy.port(), {.send_bytes = kBytes}, Clock::now() + 120s);
  const auto servers = backend.wait_for_results(1, Clock::now() + 10s);
  const long hwm = proxy.vm_hwm_kib();

  ASSERT_TRUE(client.complete()) << client.describe();
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_EQ(servers[0].bytes_received, kBytes);
  EXPECT_EQ(servers[0].received_sha256, client.sent_sha256);
  // The payload waits in kernel pipe pages and socket buffers, which are not the proxy's user
  // memory; copy mode holds one 64 KiB buffer per direction. A proxy that kept reading from
  // the client while the backend is slow would grow by tens of MiB here.
  EXPECT_LT(hwm - rss_at_start, 16 * 1024)
      << "VmHWM " << hwm << " KiB, VmRSS after start " << rss_at_start << " KiB";
}

TEST_P(FaultsTest, IdleSessionIsClosedAfterIdleTimeout) {
  TestBackend backend(BackendBehavior::echo());
  auto& proxy = start_proxy({{.backend_port = backend.port(), .idle_timeout = "1s"}});
  Fd client = connect_loopback(proxy.port(), Clock::now() + 5s);
  const std::vector<std::uint8_t> hello(1024, 0x42);
  ASSERT_TRUE(send_all(client.get(), hello, Clock::now() + 5s));
  ASSERT_EQ(recv_exact(client.get(), hello.size(), Clock::now() + 5s), hello);
  const auto last_activity = Clock::now();

  const CloseEvent close = wait_for_peer_close(client.get(), last_activity + 10s);
  const auto servers = backend.wait_for_results(1, Clock::now() + 3s);

  ASSERT_TRUE(close.closed) << "an idle session is still open 10 s after its last byte";
  EXPECT_GE(close.at - last_activity, 800ms) << "closed before the idle timeout (1 s)";
  EXPECT_LE(close.at - last_activity, 3s);
  ASSERT_EQ(servers.size(), 1u) << "the backend side of the idle session stays open";
  EXPECT_FALSE(servers[0].stopped);
}

INSTANTIATE_TEST_SUITE_P(Modes, FaultsTest, ::testing::Values("splice", "copy", "auto"), mode_name);

}  // namespace
}  // namespace spliceproxy::test
