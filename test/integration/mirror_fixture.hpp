// What the mirror suites share: a proxy config with mirrors, paced client plans whose
// captures can be compared with what the clients really sent, and file helpers.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "test/integration/harness.hpp"
#include "test/integration/mode_fixture.hpp"
#include "test/integration/traffic.hpp"
#include "test/integration/tshark_capture.hpp"

namespace spliceproxy::test {

// proxy_yaml's one listener "web" feeding `refs` (YAML list items under `mirrors:`), plus the
// top-level `mirrors` section `mirrors`.
inline std::string mirror_yaml(std::string_view mode, std::uint16_t backend_port,
                               const std::string& refs, const std::string& mirrors) {
  std::string yaml = proxy_yaml(mode, {{.backend_port = backend_port}});
  const std::size_t backends = yaml.find("backends:");
  yaml.insert(backends, "    mirrors:\n" + refs);
  return yaml + "mirrors:\n" + mirrors;
}

// A proxy in the test's data path mode with mirrors. tshark is the judge of every capture:
// without it (tools/deps.sh --test installs it) the tests fail rather than pass unchecked.
class MirrorTest : public ProxyModeTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(have_tshark()) << "tshark is not installed (tools/deps.sh --test)";
  }

  ProxyProcess& start(std::uint16_t backend_port, const std::string& refs,
                      const std::string& mirrors) {
    proxy_ = std::make_unique<ProxyProcess>(mirror_yaml(GetParam(), backend_port, refs, mirrors));
    return *proxy_;
  }
};

// A fresh directory for one test's captures: on tmpfs when there is one, as the tests that
// expect no drop need a sink that keeps up, and a busy shared disk can stall a write for tens
// of milliseconds (the proxy then drops, as it should; tests of drops make their own stalls).
inline std::string capture_dir(const std::string& test) {
  const std::filesystem::path base =
      ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : std::filesystem::temp_directory_path();
  const auto dir = base / ("spliceproxy-mirror-" + test + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

// `count` clients sending random sizes in [1, max_bytes] at `rate` bytes per second each, in
// writes of 16 to 256 KiB: a mirror's feed pipes hold 256 buffers each, and a stream of tiny
// writes would measure how many tiny chunks a stalled sink can absorb rather than exactness.
inline std::vector<ClientPlan> paced_plans(int count, std::uint64_t max_bytes, std::uint64_t rate,
                                           std::uint64_t seed) {
  SplitMix64 rng(seed);
  std::vector<ClientPlan> plans;
  for (int i = 0; i < count; ++i) {
    plans.push_back({.send_bytes = rng.uniform(1, max_bytes),
                     .send_seed = seed * 1000 + static_cast<unsigned>(i),
                     .chunk_seed = rng.next(),
                     .max_chunk = 256 * kKiB,
                     .min_chunk = 16 * kKiB,
                     .send_rate = rate});
  }
  return plans;
}

// (to backend, to client) digests of each flow, sorted, to compare as multisets.
inline std::vector<std::pair<std::string, std::string>> digests(const std::map<int, Flow>& flows) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [stream, flow] : flows)
    out.emplace_back(flow.to_backend.sha256, flow.to_client.sha256);
  std::sort(out.begin(), out.end());
  return out;
}

inline std::vector<std::pair<std::string, std::string>> digests(
    const std::vector<ClientResult>& clients) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const ClientResult& client : clients)
    out.emplace_back(client.sent_sha256, client.received_sha256);
  std::sort(out.begin(), out.end());
  return out;
}

inline unsigned file_mode(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 0777) : 0;
}

}  // namespace spliceproxy::test
