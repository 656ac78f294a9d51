// spliceproxy-replay on real and on bad input: a redis-benchmark run captured through the proxy
// and replayed on a fresh redis-server leaves the same keys and command counts; a truncated or
// corrupt capture, a file that is no capture, another tool's capture of unrelated traffic and
// an unreachable target each end with a clear error and no crash.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "test/integration/redis_server.hpp"
#include "test/integration/replay_fixture.hpp"

namespace spliceproxy::test {
namespace {

std::string file_mirror(const std::string& path) {
  return "  - {name: cap, type: pcapng_file, path: " + path + "}\n";
}

TEST(ReplayRedisTest, BenchmarkReplayedOnFreshServerLeavesSameKeysAndCommands) {
  ASSERT_TRUE(have_redis()) << "redis-server/redis-tools missing (tools/deps.sh --test)";
  const std::string dir = capture_dir("replay-redis");
  RedisServer source(dir), fresh(dir);
  const std::string capture = dir + "/redis.pcapng";
  ProxyProcess proxy(
      mirror_yaml("splice", source.port(), "      - {mirror: cap}\n", file_mirror(capture)));
  // Pipelined 16 deep: 16 commands per mirrored chunk keep the capture's sink far from its
  // 4096-chunk queue on a busy machine (unpipelined, a loaded run drops: the mirror's contract).
  const CommandResult bench = run_command(
      {"/usr/bin/redis-benchmark", "-h", "127.0.0.1", "-p", std::to_string(proxy.port()), "-n",
       "2000", "-c", "2", "-P", "16", "-r", "500", "-t", "set,get,incr,lpush", "-q"},
      std::chrono::minutes(2));
  ASSERT_EQ(bench.exit_code, 0) << bench.out << bench.err;
  ASSERT_EQ(proxy.stop(), 0);
  ASSERT_EQ(stat_value(proxy.stderr_text(), "mirror_dropped_bytes_total"), 0u);

  const std::string report = dir + "/report.jsonl";
  const CommandResult run = run_replay({capture, "--target", loopback(fresh.port()), "--speed", "0",
                                        "--concurrency", "4", "--report", report});
  // Replies may differ (GET and INCR see the flows interleaved otherwise): 0 or 1, never 2.
  EXPECT_TRUE(run.exit_code == 0 || run.exit_code == 1) << run.out << run.err;
  for (const std::string& line : read_lines(report))
    EXPECT_EQ(json_field(line, "outcome"), "\"replayed\"") << line;
  const std::uint64_t keys = source.dbsize();
  EXPECT_GT(keys, 0u);
  EXPECT_EQ(fresh.dbsize(), keys);
  const auto captured = source.command_calls();
  const auto replayed = fresh.command_calls();
  for (const char* command : {"set", "get", "incr", "lpush"}) {
    ASSERT_TRUE(captured.contains(command)) << command;
    EXPECT_EQ(captured.at(command), 2000u) << command;
    EXPECT_EQ(replayed.contains(command) ? replayed.at(command) : 0, 2000u) << command;
  }
  std::filesystem::remove_all(dir);
}

class ReplayBadInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = capture_dir("replay-bad");
    capture_ = dir_ + "/good.pcapng";
    TestBackend backend(BackendBehavior::echo());
    ProxyProcess proxy(
        mirror_yaml("splice", backend.port(), "      - {mirror: cap}\n", file_mirror(capture_)));
    std::vector<ClientPlan> plans;
    for (std::uint64_t i = 0; i < 4; ++i)
      plans.push_back({.send_bytes = 64 * kKiB, .send_seed = 0xbad + i, .max_chunk = 4 * kKiB});
    for (const ClientResult& c : run_clients(proxy.port(), plans, Clock::now() + 60s))
      ASSERT_TRUE(c.complete()) << c.describe();
    ASSERT_EQ(proxy.stop(), 0);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A copy of the good capture with `edit` applied to its bytes.
  std::string edited(const std::string& name, const std::function<void(std::string&)>& edit) {
    std::ifstream in(capture_, std::ios::binary);
    std::string bytes(std::istreambuf_iterator<char>(in), {});
    edit(bytes);
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  // Replays `files` to a target that must see no connection; returns the result.
  CommandResult replay_refused(const std::vector<std::string>& files) {
    TestBackend target(BackendBehavior::echo());
    std::vector<std::string> args = files;
    args.insert(args.end(), {"--target", loopback(target.port()), "--speed", "0"});
    CommandResult run = run_replay(args);
    EXPECT_LT(run.exit_code, 128) << "killed by a signal\n" << run.err;
    EXPECT_EQ(target.accepted(), 0u) << "nothing is replayed from a bad capture";
    return run;
  }

  std::string dir_;
  std::string capture_;
};

TEST_F(ReplayBadInputTest, TruncatedCaptureIsAnErrorNamingTheFile) {
  const std::string cut = edited("cut.pcapng", [](std::string& b) { b.resize(b.size() / 2 + 3); });
  const CommandResult run = replay_refused({cut});
  EXPECT_EQ(run.exit_code, 2) << run.out;
  EXPECT_NE(run.err.find(cut + ": after "), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("truncated"), std::string::npos) << run.err;
}

// The 5th block's length field says 0xfffffff0: no reader may follow it.
TEST_F(ReplayBadInputTest, CorruptBlockLengthIsAnError) {
  const std::string bad = edited("corrupt.pcapng", [](std::string& b) {
    std::size_t at = 0;
    for (int block = 0; block < 5; ++block) {
      std::uint32_t length;
      std::memcpy(&length, b.data() + at + 4, 4);
      at += length;
    }
    const std::uint32_t huge = 0xfffffff0;
    std::memcpy(b.data() + at + 4, &huge, 4);
  });
  const CommandResult run = replay_refused({bad});
  EXPECT_EQ(run.exit_code, 2) << run.out;
  EXPECT_NE(run.err.find(bad + ": "), std::string::npos) << run.err;
}

TEST_F(ReplayBadInputTest, FilesThatAreNoCaptureAreErrors) {
  const std::string text = dir_ + "/notes.txt";
  std::ofstream(text) << "not a capture\n";
  CommandResult run = replay_refused({text});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find(text + ": unknown file format"), std::string::npos) << run.err;
  run = replay_refused({dir_ + "/missing.pcapng"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("No such file"), std::string::npos) << run.err;
}

// text2pcap (Wireshark's) writes an Ethernet pcapng as tcpdump would: UDP only is "no TCP
// flow"; TCP caught mid-stream (no SYN) is read, and each flow reported as not replayable.
TEST_F(ReplayBadInputTest, OtherToolsCaptureOfUnrelatedTrafficIsReported) {
  const std::string hex = dir_ + "/packets.txt";
  std::ofstream(hex) << "0000  68 65 6c 6c 6f 20 77 6f 72 6c 64\n0000  6f 6b\n";
  const std::string udp = dir_ + "/udp.pcapng";
  const std::string tcp = dir_ + "/tcp.pcapng";
  for (const auto& [out, flag] : {std::pair{udp, "-u"}, std::pair{tcp, "-T"}}) {
    const CommandResult make =
        run_command({"/usr/bin/text2pcap", "-q", flag, "5353,8080", hex, out}, 30s);
    ASSERT_EQ(make.exit_code, 0) << make.err;
  }
  CommandResult run = replay_refused({udp});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("no TCP flow in the capture (2 packets, 2 of them not TCP over IP)"),
            std::string::npos)
      << run.err;
  run = replay_refused({tcp});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("1 skipped_start_not_captured"), std::string::npos) << run.out;
}

TEST_F(ReplayBadInputTest, UnreachableTargetIsAClearError) {
  RefusingPort nowhere;
  const CommandResult run =
      run_replay({capture_, "--target", loopback(nowhere.port()), "--speed", "0"});
  EXPECT_EQ(run.exit_code, 2) << run.out;
  EXPECT_NE(run.err.find("cannot reach the target: connect to " + loopback(nowhere.port()) +
                         ": Connection refused"),
            std::string::npos)
      << run.err;
}

}  // namespace
}  // namespace spliceproxy::test
