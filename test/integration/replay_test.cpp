// spliceproxy-replay on a mixed capture made through the proxy: every gapless flow reaches the
// target byte for byte (SHA-256), the flow with gaps is skipped and reported (or sent up to its
// first gap when asked), a target that answers one flow differently is reported at the right
// offset, and the time window and address filters select the flows they name.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "test/integration/replay_fixture.hpp"

namespace spliceproxy::test {
namespace {

constexpr std::uint64_t kAlteredOffset = 100;  // every small flow sends more than this

class ReplayTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    capture_ = new MixedCapture;
    make_mixed_capture(*capture_);
    ready_ = !HasFailure();
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(capture_->dir);
    delete capture_;
  }
  void SetUp() override { ASSERT_TRUE(ready_) << "the mixed capture could not be made"; }

  static std::string report_path(const std::string& name) {
    return capture_->dir + "/" + name + ".jsonl";
  }
  // The lines of `lines` whose `field` is `value`.
  static std::vector<std::string> where(const std::vector<std::string>& lines,
                                        const std::string& field, const std::string& value) {
    std::vector<std::string> out;
    std::copy_if(lines.begin(), lines.end(), std::back_inserter(out),
                 [&](const std::string& line) { return json_field(line, field) == value; });
    return out;
  }

  static inline MixedCapture* capture_ = nullptr;
  static inline bool ready_ = false;
};

// The target echoes like the captured backend, but inverts one byte of one small flow's reply.
TEST_F(ReplayTest, TargetGetsEveryGaplessFlowExactlyAndReportNamesSkipAndDifference) {
  const ClientPlan& altered = capture_->plans[7];
  BackendBehavior behavior = BackendBehavior::echo();
  behavior.alter_when_first.resize(16);
  ByteStream(altered.send_seed).fill(behavior.alter_when_first);
  behavior.keep_first = 16;
  behavior.alter_offset = kAlteredOffset;
  TestBackend target(behavior);
  const std::string report = report_path("mixed");
  const CommandResult run =
      run_replay({capture_->gapped, capture_->exact, "--target", loopback(target.port()), "--speed",
                  "0", "--concurrency", "8", "--report", report});
  EXPECT_EQ(run.exit_code, 1) << "one reply differs\n" << run.out << run.err;

  const auto results = target.wait_for_results(capture_->plans.size(), Clock::now() + 60s);
  ASSERT_EQ(results.size(), capture_->plans.size()) << run.out << run.err;
  const SortedDigests digests = sorted_digests(capture_->clients, results);
  EXPECT_EQ(digests.received, digests.sent) << "the target got each flow's client bytes";
  EXPECT_EQ(target.accepted(), capture_->plans.size()) << "the gapped flow is not sent";

  const auto lines = read_lines(report);
  ASSERT_EQ(lines.size(), capture_->plans.size() + 1) << run.out;
  const auto skipped = where(lines, "outcome", "\"skipped_gap\"");
  ASSERT_EQ(skipped.size(), 1u) << run.out;
  EXPECT_LT(std::stoull(json_field(skipped[0], "to_send")), capture_->gap_plan.send_bytes);
  EXPECT_EQ(json_field(skipped[0], "sent"), "0");
  const auto different = where(lines, "compare", "\"different\"");
  ASSERT_EQ(different.size(), 1u) << run.out;
  EXPECT_EQ(json_field(different[0], "offset"), std::to_string(kAlteredOffset));
  EXPECT_EQ(json_field(different[0], "to_send"), std::to_string(altered.send_bytes));
  EXPECT_EQ(where(lines, "compare", "\"equal\"").size(), capture_->plans.size() - 1) << run.out;
  EXPECT_NE(run.out.find("1 skipped_gap"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("different at offset " + std::to_string(kAlteredOffset)),
            std::string::npos)
      << run.out;
}

TEST_F(ReplayTest, AllowGapsSendsTheGappedFlowUpToItsFirstGap) {
  TestBackend target(BackendBehavior::sink());
  const std::string report = report_path("gaps");
  const CommandResult run = run_replay({capture_->gapped, "--target", loopback(target.port()),
                                        "--speed", "0", "--allow-gaps", "--report", report});
  // Only the client's direction was captured, and a sink answers nothing: the replies match.
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  const auto lines = read_lines(report);
  ASSERT_EQ(lines.size(), 1u) << run.out << run.err;
  EXPECT_EQ(json_field(lines[0], "outcome"), "\"replayed\"");
  EXPECT_EQ(json_field(lines[0], "compare"), "\"equal\"");
  const std::uint64_t to_send = std::stoull(json_field(lines[0], "to_send"));
  EXPECT_GT(to_send, 0u);
  EXPECT_LT(to_send, capture_->gap_plan.send_bytes);
  EXPECT_EQ(json_field(lines[0], "sent"), std::to_string(to_send));
  const auto results = target.wait_for_results(1, Clock::now() + 60s);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].bytes_received, to_send);
  EXPECT_EQ(results[0].received_sha256, stream_sha256(capture_->gap_plan.send_seed, to_send))
      << "the bytes before the first gap, exactly";
}

TEST_F(ReplayTest, TimeWindowAndBackendFilterSelectFlows) {
  TestBackend target(BackendBehavior::echo());
  const std::string from = std::to_string(capture_->gap_started_us / 1'000'000.0);
  const std::string report = report_path("window");
  CommandResult run =
      run_replay({capture_->exact, capture_->gapped, "--target", loopback(target.port()), "--speed",
                  "0", "--from", from, "--report", report});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  auto lines = read_lines(report);
  ASSERT_EQ(lines.size(), 1u) << "only the flow that started after --from\n" << run.out;
  EXPECT_EQ(json_field(lines[0], "outcome"), "\"skipped_gap\"");

  run = run_replay({capture_->exact, capture_->gapped, "--target", loopback(target.port()),
                    "--speed", "0", "--until", from, "--backend", "127.0.0.1", "--report", report});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  lines = read_lines(report);
  EXPECT_EQ(lines.size(), capture_->plans.size()) << "the flows that started before\n" << run.out;
  EXPECT_EQ(target.wait_for_results(capture_->plans.size(), Clock::now() + 60s).size(),
            capture_->plans.size());

  run =
      run_replay({capture_->exact, "--target", loopback(target.port()), "--backend", "127.0.0.2"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("no flow of the 32 in the capture is selected"), std::string::npos)
      << run.err;
}

}  // namespace
}  // namespace spliceproxy::test
