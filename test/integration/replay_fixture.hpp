// What the replay suites share: a mixed capture made through the real proxy, spliceproxy-replay
// run as a child, and its JSON-lines report read back.
//
// The capture is two files replayed as one: `exact`, a pcapng_file mirror of bulk flows (echo
// both ways) and many small request/response flows, and `gapped`, the pcapng_tcp mirror of one
// large flow sent to a consumer that reads too slowly (a stalled sink), so it holds gaps.
#pragma once

#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test/integration/capture_receiver.hpp"
#include "test/integration/harness.hpp"
#include "test/integration/mirror_fixture.hpp"
#include "test/integration/test_backend.hpp"
#include "test/integration/traffic.hpp"

namespace spliceproxy::test {

struct MixedCapture {
  std::string dir;
  std::string exact;              // the bulk and small flows, no byte lost
  std::string gapped;             // the large flow whose capture lost bytes
  std::vector<ClientPlan> plans;  // the flows of `exact`
  std::vector<ClientResult> clients;
  ClientPlan gap_plan;
  std::int64_t gap_started_us = 0;  // wall clock just before the large flow
};

// Runs the mixed traffic through two proxies to one echo backend; asserts (gtest fatal
// failures) that every client completed, that `exact` lost nothing and `gapped` lost bytes.
void make_mixed_capture(MixedCapture& out);

// One line of a replay report as text, and the raw text of a field ("null", "12", "\"equal\"").
std::vector<std::string> read_lines(const std::string& path);
std::string json_field(const std::string& line, const std::string& name);

// spliceproxy-replay with `args`, bounded by a deadline.
inline CommandResult run_replay(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {REPLAY_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, std::chrono::minutes(3));
}

inline std::string loopback(std::uint16_t port) {
  return "127.0.0.1:" + std::to_string(port);
}

}  // namespace spliceproxy::test
