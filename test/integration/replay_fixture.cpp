// The mixed capture of the replay suites, and report reading.
#include "test/integration/replay_fixture.hpp"

#include <chrono>

namespace spliceproxy::test {
namespace {

// Two bulk flows (MiBs each way through an echo backend) and 30 small request/response flows
// (a few KiB in writes of 16 to 512 bytes, each echoed), all paced well below what a file sink
// writes, so that none of their bytes may be dropped.
std::vector<ClientPlan> mixed_plans() {
  SplitMix64 rng(0x2e9a7);
  std::vector<ClientPlan> plans;
  for (std::uint64_t i = 0; i < 2; ++i) {
    plans.push_back({.send_bytes = 3 * kMiB + rng.uniform(0, kMiB),
                     .send_seed = 0xb01c + i,
                     .chunk_seed = rng.next(),
                     .max_chunk = 256 * kKiB,
                     .min_chunk = 16 * kKiB,
                     .send_rate = 4 * kMiB});
  }
  for (std::uint64_t i = 0; i < 30; ++i) {
    plans.push_back({.send_bytes = rng.uniform(200, 6000),
                     .send_seed = 0x5a11 + i,
                     .chunk_seed = rng.next(),
                     .max_chunk = 512,
                     .min_chunk = 16,
                     .send_rate = 64 * kKiB});
  }
  return plans;
}

void capture_exact(MixedCapture& out, TestBackend& backend) {
  ProxyProcess proxy(mirror_yaml("splice", backend.port(), "      - {mirror: cap}\n",
                                 "  - {name: cap, type: pcapng_file, path: " + out.exact + "}\n"));
  const auto deadline = Clock::now() + 120s;
  out.plans = mixed_plans();
  out.clients = run_clients(proxy.port(), out.plans, deadline);
  backend.wait_for_results(out.plans.size(), deadline);
  for (const ClientResult& client : out.clients) {
    ASSERT_TRUE(client.complete()) << client.describe();
    ASSERT_EQ(client.received_sha256, client.sent_sha256);
  }
  ASSERT_EQ(proxy.stop(), 0);
  ASSERT_EQ(stat_value(proxy.stderr_text(), "mirror_dropped_bytes_total"), 0u)
      << "the file sink fell behind: the capture meant to be exact is not";
}

// 48 MiB sent unpaced and echoed, its client-to-backend direction mirrored live to a consumer
// reading 8 MiB/s: the sink falls behind and drops, so the capture has gaps in the direction
// that replay sends (MirrorDropTest shows the same with tshark). With both directions mirrored,
// the drops could all land in the replies.
void capture_gapped(MixedCapture& out, TestBackend& backend) {
  CaptureReceiver receiver(out.gapped, {.read_rate = 8 * kMiB});
  ProxyProcess proxy(mirror_yaml(
      "splice", backend.port(), "      - {mirror: live, direction: client_to_backend}\n",
      "  - {name: live, type: pcapng_tcp, address: 127.0.0.1:" + std::to_string(receiver.port()) +
          "}\n"));
  ASSERT_TRUE(proxy.wait_for_stderr("mirror live: streaming", Clock::now() + 10s));
  const auto deadline = Clock::now() + 120s;
  out.gap_plan = {.send_bytes = 48 * kMiB, .send_seed = 0x9a9, .max_chunk = kMiB};
  out.gap_started_us = std::chrono::duration_cast<std::chrono::microseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  const ClientResult client = run_client(proxy.port(), out.gap_plan, deadline);
  ASSERT_TRUE(client.complete()) << client.describe();
  ASSERT_EQ(proxy.stop(), 0);
  ASSERT_TRUE(receiver.wait_for_eof(deadline));
  ASSERT_GT(stat_value(proxy.stderr_text(), "mirror_dropped_bytes_total").value_or(0), 0u)
      << "a consumer this slow must make the sink drop";
}

}  // namespace

void make_mixed_capture(MixedCapture& out) {
  out.dir = capture_dir("replay");
  out.exact = out.dir + "/exact.pcapng";
  out.gapped = out.dir + "/gapped.pcapng";
  TestBackend backend(BackendBehavior::echo());
  capture_exact(out, backend);
  if (::testing::Test::HasFatalFailure()) return;
  capture_gapped(out, backend);
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

std::string json_field(const std::string& line, const std::string& name) {
  const std::string key = "\"" + name + "\":";
  const std::size_t at = line.find(key);
  if (at == std::string::npos) return "";
  const std::size_t start = at + key.size();
  if (line[start] == '"') return line.substr(start, line.find('"', start + 1) - start + 1);
  return line.substr(start, line.find_first_of(",}", start) - start);
}

}  // namespace spliceproxy::test
