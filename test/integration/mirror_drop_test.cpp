// Mirrors that fall behind or fail: a slow live consumer gets a capture with gaps that tshark
// reports as lost segments and never a wrong byte; consumers that never read or die leave
// the primary sessions intact; a fast live consumer sees the same flows as the file; the
// shadow server gets exactly the clients' bytes.
#include <gtest/gtest.h>

#include "test/integration/capture_receiver.hpp"
#include "test/integration/mirror_fixture.hpp"
#include "test/integration/mode_fixture.hpp"
#include "test/integration/test_backend.hpp"

namespace spliceproxy::test {
namespace {

std::string stream_mirror(const std::string& name, std::uint16_t port) {
  return "  - {name: " + name + ", type: pcapng_tcp, address: 127.0.0.1:" + std::to_string(port) +
         "}\n";
}

std::vector<std::uint8_t> stream_bytes(std::uint64_t seed, std::uint64_t size) {
  std::vector<std::uint8_t> bytes(size);
  ByteStream(seed).fill(bytes);
  return bytes;
}

using MirrorDropTest = MirrorTest;

TEST_P(MirrorDropTest, SlowConsumerGetsGapsTsharkReportsButNoWrongByte) {
  constexpr std::uint64_t kUp = 64 * kMiB;
  constexpr std::uint64_t kDown = 16 * kMiB;
  const std::string dir = capture_dir("slow-" + GetParam());
  CaptureReceiver receiver(dir + "/live.pcapng", {.read_rate = 16 * kMiB});
  TestBackend backend(BackendBehavior::sink(kDown, 0xd0d0));
  auto& proxy =
      start(backend.port(), "      - {mirror: live}\n", stream_mirror("live", receiver.port()));
  const auto deadline = Clock::now() + 120s;
  const ClientResult client = run_client(
      proxy.port(), {.send_bytes = kUp, .send_seed = 0xfeed, .max_chunk = kMiB}, deadline);
  const auto servers = backend.wait_for_results(1, deadline);
  ASSERT_TRUE(client.complete()) << client.describe();
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_EQ(servers[0].received_sha256, client.sent_sha256) << "the primary must stay exact";
  EXPECT_EQ(client.received_sha256, servers[0].sent_sha256);
  ASSERT_EQ(proxy.stop(), 0);
  ASSERT_TRUE(receiver.wait_for_eof(deadline));

  const std::string err = proxy.stderr_text();
  EXPECT_GT(stat_value(err, "mirror_dropped_bytes_total").value_or(0), 0u);
  EXPECT_GT(stat_value(err, "mirror_gaps_total").value_or(0), 0u);
  const auto up = stream_bytes(0xfeed, kUp);
  const auto down = stream_bytes(0xd0d0, kDown);
  std::uint64_t checked = 0, wrong = 0;
  const TsharkSummary summary =
      read_with_tshark(receiver.path(), backend.port(), [&](const TsharkSegment& segment) {
        const auto& truth = segment.to_backend ? up : down;
        const bool inside = segment.offset + segment.payload.size() <= truth.size();
        wrong += !inside || !std::equal(segment.payload.begin(), segment.payload.end(),
                                        truth.begin() + static_cast<long>(segment.offset));
        checked += segment.payload.size();
      });
  ASSERT_TRUE(summary.ok) << summary.error;
  EXPECT_EQ(wrong, 0u) << "a captured segment differs from what was sent at its offset";
  EXPECT_GT(checked, 0u);
  EXPECT_LT(checked, kUp + kDown) << "a consumer this slow cannot have everything";
  EXPECT_GT(summary.lost_segment_reports, 0u) << "tshark must see the gaps";
  std::filesystem::remove_all(dir);
}

TEST_P(MirrorDropTest, ConsumersThatNeverReadOrDieLeavePrimaryIntact) {
  const std::string dir = capture_dir("dead-" + GetParam());
  CaptureReceiver stuck(dir + "/stuck.pcapng", {.never_read = true});
  CaptureReceiver dying(dir + "/dying.pcapng", {.die_after = kMiB});
  TestBackend backend(BackendBehavior::echo());
  auto& proxy = start(backend.port(), "      - {mirror: stuck}\n      - {mirror: dying}\n",
                      stream_mirror("stuck", stuck.port()) + stream_mirror("dying", dying.port()));
  std::vector<ClientPlan> plans;
  for (std::uint64_t i = 0; i < 4; ++i)
    plans.push_back({.send_bytes = 32 * kMiB, .send_seed = 0xdead + i, .max_chunk = kMiB});
  const auto deadline = Clock::now() + 120s;
  const auto clients = run_clients(proxy.port(), plans, deadline);
  for (const ClientResult& client : clients) {
    EXPECT_TRUE(client.complete()) << client.describe();
    EXPECT_EQ(client.received_sha256, client.sent_sha256);
  }
  EXPECT_EQ(proxy.stop(), 0);
  const std::string err = proxy.stderr_text();
  EXPECT_GT(stat_value(err, "mirror_dropped_bytes_total").value_or(0), 0u);
  EXPECT_EQ(stat_value(err, "sessions_closed_total{reason=\"completed\"}"), 4u);
  EXPECT_NE(err.find("mirror dying: stream ended"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_P(MirrorDropTest, LiveStreamShowsTsharkTheSameFlowsAsTheFile) {
  const std::string dir = capture_dir("live-" + GetParam());
  CaptureReceiver receiver(dir + "/live.pcapng");
  TestBackend backend(BackendBehavior::echo());
  auto& proxy = start(backend.port(), "      - {mirror: live}\n      - {mirror: file}\n",
                      stream_mirror("live", receiver.port()) +
                          "  - {name: file, type: pcapng_file, path: " + dir + "/file.pcapng}\n");
  // The stream connects in the background: the first session waits for it.
  ASSERT_TRUE(proxy.wait_for_stderr("mirror live: streaming", Clock::now() + 10s));
  const auto deadline = Clock::now() + 120s;
  const auto clients =
      run_clients(proxy.port(), paced_plans(10, 2 * kMiB, 2 * kMiB, 0x11fe), deadline);
  for (const ClientResult& client : clients)
    EXPECT_TRUE(client.complete()) << client.describe();
  ASSERT_EQ(proxy.stop(), 0);
  ASSERT_TRUE(receiver.wait_for_eof(deadline));
  EXPECT_EQ(stat_value(proxy.stderr_text(), "mirror_dropped_bytes_total"), 0u);

  TsharkSummary live_summary;
  const auto live = flows_with_tshark(receiver.path(), backend.port(), &live_summary);
  ASSERT_TRUE(live_summary.ok) << live_summary.error;
  EXPECT_EQ(live_summary.lost_segment_reports, 0u);
  EXPECT_EQ(digests(live), digests(clients));
  EXPECT_EQ(digests(flows_with_tshark(dir + "/file.pcapng", backend.port())), digests(live));
  std::filesystem::remove_all(dir);
}

TEST_P(MirrorDropTest, ShadowServerReceivesExactlyTheClientsBytes) {
  TestBackend backend(BackendBehavior::echo());
  TestBackend shadow(BackendBehavior::sink(64 * kKiB, 0x5ad));
  auto& proxy = start(
      backend.port(), "      - {mirror: twin}\n",
      "  - {name: twin, type: shadow, address: 127.0.0.1:" + std::to_string(shadow.port()) + "}\n");
  const auto deadline = Clock::now() + 120s;
  const auto plans = paced_plans(10, 2 * kMiB, 4 * kMiB, 0x5ad0);
  const auto clients = run_clients(proxy.port(), plans, deadline);
  const auto copies = shadow.wait_for_results(plans.size(), deadline);
  for (const ClientResult& client : clients) {
    EXPECT_TRUE(client.complete()) << client.describe();
    EXPECT_EQ(client.received_sha256, client.sent_sha256);
  }
  const SortedDigests digests = sorted_digests(clients, copies);
  EXPECT_EQ(digests.received, digests.sent);
  EXPECT_EQ(proxy.stop(), 0);
  EXPECT_EQ(stat_value(proxy.stderr_text(), "mirror_dropped_bytes_total"), 0u);
}

INSTANTIATE_TEST_SUITE_P(Modes, MirrorDropTest, ::testing::Values("splice", "copy"), mode_name);

}  // namespace
}  // namespace spliceproxy::test
