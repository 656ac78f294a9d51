// Checks of the integration harness itself, without the proxy: the generator and hashes, the
// client driver against each test backend directly, the refusing and blackhole addresses, and
// run_command. If these fail, the engine suites' verdicts mean nothing.
#include <gtest/gtest.h>

#include <string>
#include <system_error>
#include <vector>

#include "test/integration/harness.hpp"
#include "test/integration/test_backend.hpp"
#include "test/integration/traffic.hpp"

namespace spliceproxy::test {
namespace {

TEST(HarnessTest, ByteStreamIsTheSameWhateverTheChunking) {
  std::vector<std::uint8_t> whole(1000);
  ByteStream(7).fill(whole);
  std::vector<std::uint8_t> pieces(1000);
  ByteStream stream(7);
  SplitMix64 sizes(3);
  for (std::size_t at = 0; at < pieces.size();) {
    const std::size_t n = std::min<std::size_t>(sizes.uniform(0, 13), pieces.size() - at);
    stream.fill(std::span(pieces.data() + at, n));
    at += n;
  }
  EXPECT_EQ(pieces, whole);
}

TEST(HarnessTest, Sha256OfNothingIsTheKnownDigest) {
  EXPECT_EQ(stream_sha256(1, 0),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(HarnessTest, EchoBackendReturnsTheStreamIntact) {
  TestBackend backend(BackendBehavior::echo());
  const ClientResult client =
      run_client(backend.port(), {.send_bytes = 8 * kMiB, .max_chunk = 4096}, Clock::now() + 30s);
  ASSERT_TRUE(client.complete()) << client.describe();
  EXPECT_EQ(client.bytes_received, 8 * kMiB);
  EXPECT_EQ(client.received_sha256, client.sent_sha256);
  EXPECT_EQ(client.sent_sha256, stream_sha256(1, 8 * kMiB));
}

TEST(HarnessTest, SinkBackendRepliesAfterTheClientsEof) {
  TestBackend backend(BackendBehavior::sink(3 * kMiB, 9));
  const ClientResult client =
      run_client(backend.port(), {.send_bytes = 5 * kMiB}, Clock::now() + 30s);
  const auto servers = backend.wait_for_results(1, Clock::now() + 5s);
  ASSERT_TRUE(client.complete()) << client.describe();
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_TRUE(servers[0].complete()) << servers[0].describe();
  EXPECT_EQ(servers[0].received_sha256, client.sent_sha256);
  EXPECT_EQ(client.received_sha256, stream_sha256(9, 3 * kMiB));
}

TEST(HarnessTest, ClientSendsOnlyAfterTheBackendHalfClosed) {
  TestBackend backend(BackendBehavior::send_then_half_close(kMiB, 4));
  const ClientResult client = run_client(
      backend.port(), {.send_bytes = 2 * kMiB, .send_after_peer_eof = true}, Clock::now() + 30s);
  const auto servers = backend.wait_for_results(1, Clock::now() + 5s);
  ASSERT_TRUE(client.complete()) << client.describe();
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_EQ(servers[0].bytes_received, 2 * kMiB);
  EXPECT_EQ(servers[0].received_sha256, client.sent_sha256);
  EXPECT_EQ(client.received_sha256, stream_sha256(4, kMiB));
}

TEST(HarnessTest, ResettingBackendResetsTheClient) {
  TestBackend backend(BackendBehavior::reset_after_reading(kMiB));
  const ClientResult client =
      run_client(backend.port(), {.send_bytes = 64 * kMiB}, Clock::now() + 30s);
  ASSERT_FALSE(client.timed_out);
  EXPECT_TRUE(is_reset_error(client.error)) << client.describe();
  const auto servers = backend.wait_for_results(1, Clock::now() + 5s);
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_EQ(servers[0].bytes_received, kMiB);
}

TEST(HarnessTest, ClientResetReachesTheBackend) {
  TestBackend backend(BackendBehavior::sink());
  const ClientResult client = run_client(
      backend.port(), {.send_bytes = 8 * kMiB, .reset_after_sent = kMiB}, Clock::now() + 30s);
  ASSERT_TRUE(client.reset_by_us) << client.describe();
  const auto servers = backend.wait_for_results(1, Clock::now() + 5s);
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_TRUE(is_reset_error(servers[0].error)) << servers[0].describe();
}

TEST(HarnessTest, SlowReaderKeepsToItsRate) {
  TestBackend backend(BackendBehavior::slow_reader(4 * kMiB));
  const auto start = Clock::now();
  const ClientResult client = run_client(backend.port(), {.send_bytes = 8 * kMiB}, start + 30s);
  ASSERT_TRUE(client.complete()) << client.describe();
  // 8 MiB at 4 MiB/s, less what the socket buffers took before the first read.
  EXPECT_GE(Clock::now() - start, 1s);
}

TEST(HarnessTest, RefusingPortRefusesAtOnce) {
  RefusingPort refusing;
  EXPECT_THROW(connect_loopback(refusing.port(), Clock::now() + 5s), std::system_error);
}

TEST(HarnessTest, BlackholeLeavesConnectPending) {
  Blackhole blackhole;
  // The connect must still be pending when its deadline passes (not refused, not accepted).
  const auto start = Clock::now();
  try {
    connect_loopback(blackhole.port(), start + 1500ms);
    ADD_FAILURE() << "connected to the blackhole";
  } catch (const std::system_error& e) {
    ADD_FAILURE() << "connect to the blackhole failed: " << e.what();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("timed out"), std::string::npos) << e.what();
  }
  EXPECT_GE(Clock::now() - start, 1400ms);
}

TEST(HarnessTest, RunCommandCollectsOutputAndStatus) {
  const CommandResult result =
      run_command({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}, 10s);
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_EQ(result.out, "out\n");
  EXPECT_EQ(result.err, "err\n");
}

TEST(HarnessTest, RunCommandKillsAChildPastItsTimeout) {
  const auto start = Clock::now();
  const CommandResult result = run_command({"/bin/sh", "-c", "exec tail -f /dev/null"}, 300ms);
  EXPECT_EQ(result.exit_code, -1);
  EXPECT_LT(Clock::now() - start, 5s);
}

}  // namespace
}  // namespace spliceproxy::test
