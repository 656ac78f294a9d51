// Unit tests of proxy/ops/access_log: the JSON line (escaping, nulls, time format, codes) and the
// writer: lines from several threads arrive whole, and a stalled output drops and counts lines
// without blocking the writers.
#include "proxy/ops/access_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace spliceproxy {
namespace {

SessionRecord sample_record() {
  SessionRecord r;
  r.id = 42;
  r.start = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'700'000'000'123));
  r.duration = std::chrono::milliseconds(15);
  r.client = "127.0.0.1:5000";
  r.listener = "web";
  r.backend = "pool";
  r.reason = CloseReason::connect_failed;
  r.connect_attempts = 2;
  return r;
}

TEST(AccessLog, LineHasEveryFieldWithNullsForTheUnknown) {
  EXPECT_EQ(format_access_line(sample_record()),
            "{\"start\":\"2023-11-14T22:13:20.123Z\",\"duration_ms\":15,\"session\":42,"
            "\"client\":\"127.0.0.1:5000\",\"server\":null,\"listener\":\"web\",\"backend\":"
            "\"pool\",\"bytes_client_to_backend\":0,\"bytes_backend_to_client\":0,\"closed_by\":"
            "\"proxy\",\"termination\":\"SC\",\"reason\":\"connect_failed\",\"connect_attempts\":"
            "2,\"mirror_dropped_bytes\":null,\"sni\":null}\n");
}

TEST(AccessLog, StringsAreJsonEscaped) {
  SessionRecord r = sample_record();
  r.listener = "a\"b\\c\nd\x01";
  const std::string line = format_access_line(r);
  EXPECT_NE(line.find("\"listener\":\"a\\\"b\\\\c\\nd\\u0001\""), std::string::npos) << line;
  EXPECT_EQ(line.find('\n'), line.size() - 1);  // one line, whatever the names hold
}

TEST(AccessLog, Utf8PassesAndOtherHighBytesBecomeTheReplacementCharacter) {
  SessionRecord r = sample_record();
  // "é" and "€" are UTF-8; 0xFF, a lone continuation byte, a truncated sequence and an overlong
  // "/" are not.
  r.client = "unix:/run/\xC3\xA9\xE2\x82\xAC-\xFF\x80\xE2\x82-\xC0\xAF";
  const std::string line = format_access_line(r);
  EXPECT_NE(line.find("\"client\":\"unix:/run/\xC3\xA9\xE2\x82\xAC-\\ufffd\\ufffd\\ufffd\\ufffd-"
                      "\\ufffd\\ufffd\""),
            std::string::npos)
      << line;
}

TEST(AccessLog, TerminationCodesFollowTheReason) {
  SessionRecord r = sample_record();
  r.server = "127.0.0.1:80";
  const std::pair<CloseReason, std::string_view> cases[] = {
      {CloseReason::completed, "--"},     {CloseReason::connect_timeout, "sC"},
      {CloseReason::idle_timeout, "cD"},  {CloseReason::client_error, "CD"},
      {CloseReason::backend_error, "SD"}, {CloseReason::shutdown, "KD"}};
  for (const auto& [reason, code] : cases) {
    r.reason = reason;
    EXPECT_EQ(termination_code(r), code) << to_string(reason);
  }
  // Clients closed before a session began: by the proxy, or by the client mid-header.
  r.server.reset();
  r.closed_by = ClosedBy::proxy;
  r.reason = CloseReason::denied;
  EXPECT_EQ(termination_code(r), "PR");
  r.reason = CloseReason::proxy_protocol_error;
  EXPECT_EQ(termination_code(r), "PR");
  r.closed_by = ClosedBy::client;
  EXPECT_EQ(termination_code(r), "CR");
}

std::filesystem::path temp_log() {
  return std::filesystem::temp_directory_path() /
         ("spliceproxy-unit-access-" + std::to_string(::getpid()) + ".log");
}

TEST(AccessLog, LinesFromSeveralThreadsArriveWhole) {
  const auto path = temp_log();
  std::filesystem::remove(path);
  {
    AccessLog log(path.string());
    log.start();
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&log, t] {
        SessionRecord r = sample_record();
        r.listener = std::string(200 + t, 'a' + t);
        for (int i = 0; i < 500; ++i)
          log.write(r);
      });
    }
    for (auto& thread : threads)
      thread.join();
    log.stop();
    EXPECT_EQ(log.lines(), 2000u);
    EXPECT_EQ(log.dropped(), 0u);
  }
  std::ifstream in(path);
  std::size_t count = 0;
  for (std::string line; std::getline(in, line); ++count) {
    SessionRecord r = sample_record();
    const char c = line[line.find("\"listener\":\"") + 12];
    r.listener = std::string(200 + (c - 'a'), c);
    ASSERT_EQ(line + "\n", format_access_line(r));
  }
  EXPECT_EQ(count, 2000u);
  std::filesystem::remove(path);
}

TEST(AccessLog, StalledOutputDropsAndCountsWithoutBlocking) {
  std::signal(SIGPIPE, SIG_IGN);  // as the proxy does: a closed reader is an EPIPE
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  // Nobody reads the pipe: the writer thread blocks once it is full.
  {
    AccessLog log("/proc/self/fd/" + std::to_string(fds[1]));
    log.start();
    const SessionRecord r = sample_record();
    const std::size_t line = format_access_line(r).size();
    const std::size_t total = 3 * (AccessLog::kMaxBuffered / line);
    for (std::size_t i = 0; i < total; ++i)
      log.write(r);  // returns at once even with the output stalled
    EXPECT_GT(log.dropped(), 0u);
    EXPECT_EQ(log.lines() + log.dropped(), total);
    ::close(fds[0]);  // the writer's blocked write fails with EPIPE and it can stop
    log.stop();
  }
  ::close(fds[1]);
}

// A flood of refused clients takes half the buffer at most: with nothing draining the buffer
// (no writer thread) and the refused lines already dropping, the other half still takes the
// lines of sessions.
TEST(AccessLog, RefusedClientsCannotCrowdOutSessions) {
  AccessLog log("/dev/null");  // not started: the buffer only fills
  SessionRecord refused = sample_record();
  refused.reason = CloseReason::denied;
  const std::size_t line = format_access_line(refused).size();
  for (std::size_t i = 0; i < AccessLog::kMaxBuffered / line; ++i)
    log.write(refused);
  const std::uint64_t dropped = log.dropped();
  EXPECT_GT(dropped, 0u);
  EXPECT_LE(log.lines() * line, AccessLog::kMaxBufferedRefused);
  const SessionRecord session = sample_record();
  const std::size_t room = AccessLog::kMaxBuffered - AccessLog::kMaxBufferedRefused;
  for (std::size_t i = 0; i < room / format_access_line(session).size(); ++i)
    log.write(session);
  EXPECT_EQ(log.dropped(), dropped) << "a session's line was dropped";
}

}  // namespace
}  // namespace spliceproxy
