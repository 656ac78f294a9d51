// Mirroring to pcapng files, judged by tshark: the capture of many concurrent sessions holds
// exactly what the client and the backend sent (SHA-256 of tshark's reassembly by sequence
// number), also under a bandwidth cap, and a rotated capture is a set of files each readable on
// its own.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "test/integration/mirror_fixture.hpp"
#include "test/integration/mode_fixture.hpp"
#include "test/integration/test_backend.hpp"

namespace spliceproxy::test {
namespace {

class MirrorCaptureTest : public MirrorTest {
 protected:
  // Runs `plans` through the proxy to an echo backend, stops the proxy (the sinks write
  // everything queued) and checks every session arrived intact.
  std::vector<ClientResult> run_and_stop(ProxyProcess& proxy, TestBackend& backend,
                                         const std::vector<ClientPlan>& plans) {
    const auto deadline = Clock::now() + 120s;
    auto clients = run_clients(proxy.port(), plans, deadline);
    backend.wait_for_results(plans.size(), deadline);
    for (const ClientResult& client : clients) {
      EXPECT_TRUE(client.complete()) << client.describe();
      EXPECT_EQ(client.received_sha256, client.sent_sha256) << "echo came back changed";
    }
    EXPECT_EQ(proxy.stop(), 0);
    return clients;
  }

  // tools/capture_reader on the same capture: one line per flow, none with a gap, and the
  // extracted bytes of flow 0 are what one of the clients sent.
  void check_capture_reader(const std::string& dir, int sessions,
                            const std::vector<ClientResult>& clients) {
    const std::string capture = dir + "/cap.pcapng";
    const CommandResult list = run_command({CAPTURE_READER_BINARY, capture}, 60s);
    ASSERT_EQ(list.exit_code, 0) << list.err;
    EXPECT_EQ(std::count(list.out.begin(), list.out.end(), '\n'), sessions);
    EXPECT_EQ(list.out.find("gaps=1"), std::string::npos) << list.out;
    const std::string out = dir + "/flow0.bin";
    const CommandResult extract =
        run_command({CAPTURE_READER_BINARY, capture, "0", "client_to_backend", out}, 60s);
    ASSERT_EQ(extract.exit_code, 0) << extract.err;
    std::ifstream in(out, std::ios::binary);
    const std::vector<std::uint8_t> bytes(std::istreambuf_iterator<char>(in), {});
    Sha256 sha;
    sha.update(bytes);
    const std::string digest = sha.hex_digest();
    EXPECT_TRUE(std::any_of(clients.begin(), clients.end(),
                            [&](const ClientResult& c) { return c.sent_sha256 == digest; }));
  }
};

TEST_P(MirrorCaptureTest, TsharkReassemblesEveryFlowExactlyAsSent) {
  // Splice mode carries the full load; copy mode the same path at a smaller scale.
  const bool full = GetParam() == "splice";
  const int sessions = full ? 50 : 10;
  const std::uint64_t max_bytes = full ? 4 * kMiB : kMiB;
  TestBackend backend(BackendBehavior::echo());
  const std::string dir = capture_dir("exact-" + GetParam());
  auto& proxy = start(backend.port(), "      - {mirror: cap}\n",
                      "  - {name: cap, type: pcapng_file, path: " + dir + "/cap.pcapng}\n");
  // Paced well below what the sink writes even when 50 echo threads and the clients starve it
  // of CPU on a small machine, so that no byte may be dropped.
  const auto clients = run_and_stop(proxy, backend, paced_plans(sessions, max_bytes, kMiB, 0x5eed));

  const std::string err = proxy.stderr_text();
  EXPECT_EQ(stat_value(err, "mirror_dropped_bytes_total"), 0u) << "the sink fell behind";
  TsharkSummary summary;
  const auto flows = flows_with_tshark(dir + "/cap.pcapng", backend.port(), &summary);
  ASSERT_TRUE(summary.ok) << summary.error;
  EXPECT_EQ(summary.lost_segment_reports, 0u);
  EXPECT_EQ(summary.syn_packets, 2u * sessions) << "SYN and SYN-ACK per flow";
  EXPECT_EQ(summary.fin_packets, 2u * sessions) << "a FIN each way per flow";
  ASSERT_EQ(flows.size(), static_cast<std::size_t>(sessions));
  for (const auto& [stream, flow] : flows) {
    EXPECT_EQ(flow.to_backend.gaps + flow.to_backend.overlaps, 0u) << "stream " << stream;
    EXPECT_EQ(flow.to_client.gaps + flow.to_client.overlaps, 0u) << "stream " << stream;
  }
  EXPECT_EQ(digests(flows), digests(clients));
  EXPECT_EQ(file_mode(dir + "/cap.pcapng"), 0640u);
  check_capture_reader(dir, sessions, clients);
  std::filesystem::remove_all(dir);
}

// A bandwidth cap bounds each read, nothing else: the capture of capped sessions holds exactly
// the bytes sent, as an uncapped one does, and in splice mode they still moved by splice.
TEST_P(MirrorCaptureTest, CappedSessionsAreCapturedExactlyAsSent) {
  constexpr int kSessions = 4;
  TestBackend backend(BackendBehavior::echo());
  const std::string dir = capture_dir("capped-" + GetParam());
  auto& proxy = start(backend.port(),
                      "      - {mirror: cap}\n    bandwidth: {client_to_backend: 2MiB/s, "
                      "backend_to_client: 2MiB/s}\n",
                      "  - {name: cap, type: pcapng_file, path: " + dir + "/cap.pcapng}\n");
  const auto clients =
      run_and_stop(proxy, backend, paced_plans(kSessions, 2 * kMiB, 8 * kMiB, 0xca9));
  const std::string err = proxy.stderr_text();
  EXPECT_EQ(stat_value(err, "mirror_dropped_bytes_total"), 0u) << "the sink fell behind";
  EXPECT_GE(stat_value(err, "bandwidth_waits_total").value_or(0), 1u) << "the cap never bit";
  if (GetParam() == "splice") {
    EXPECT_GT(stat_value(err, "bytes_spliced_total").value_or(0), 0u);
  }
  TsharkSummary summary;
  const auto flows = flows_with_tshark(dir + "/cap.pcapng", backend.port(), &summary);
  ASSERT_TRUE(summary.ok) << summary.error;
  EXPECT_EQ(summary.lost_segment_reports, 0u);
  ASSERT_EQ(flows.size(), static_cast<std::size_t>(kSessions));
  EXPECT_EQ(digests(flows), digests(clients));
  std::filesystem::remove_all(dir);
}

TEST_P(MirrorCaptureTest, RotatedCaptureIsFilesEachReadableByTshark) {
  TestBackend backend(BackendBehavior::echo());
  const std::string dir = capture_dir("rotate-" + GetParam());
  const std::string path = dir + "/cap.pcapng";
  auto& proxy =
      start(backend.port(), "      - {mirror: cap, direction: client_to_backend}\n",
            "  - {name: cap, type: pcapng_file, path: " + path + ", max_size: 256KiB, keep: 3}\n");
  run_and_stop(proxy, backend, paced_plans(4, 2 * kMiB, 4 * kMiB, 0x707a7e));

  for (const std::string& file : {path, path + ".1", path + ".2", path + ".3"}) {
    ASSERT_TRUE(std::filesystem::exists(file)) << file;
    EXPECT_LE(std::filesystem::file_size(file), 256 * kKiB) << file;
    EXPECT_EQ(file_mode(file), 0640u) << file;
    const TsharkSummary summary = read_with_tshark(file, backend.port(), [](const auto&) {});
    EXPECT_TRUE(summary.ok) << file << ": " << summary.error;
    EXPECT_GT(summary.packets, 0u) << file;
  }
  EXPECT_FALSE(std::filesystem::exists(path + ".4")) << "keep: 3 keeps three old files";
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Modes, MirrorCaptureTest, ::testing::Values("splice", "copy", "auto"),
                         mode_name);

}  // namespace
}  // namespace spliceproxy::test
