// Several workers through the real binary: with `workers: 2` many concurrent sessions come
// through byte-exact, and both workers serve some of them (SO_REUSEPORT spreads connections by
// a hash of the client's port), as the per-worker lines of the exit summary show; both feed
// one mirror sink without mixing streams; and the admin endpoint, scraped while both workers
// forward, sums their figures.
#include <gtest/gtest.h>

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <future>
#include <regex>

#include "test/integration/admin_client.hpp"
#include "test/integration/operations.hpp"
#include "test/integration/test_backend.hpp"

namespace spliceproxy::test {
namespace {

// sessions_accepted_total of worker `index` from its exit summary line.
std::optional<std::uint64_t> worker_sessions(const std::string& log, unsigned index) {
  const std::regex line("worker " + std::to_string(index) + ": sessions_accepted_total=([0-9]+)");
  std::smatch match;
  if (!std::regex_search(log, match, line)) return std::nullopt;
  return std::strtoull(match[1].str().c_str(), nullptr, 10);
}

TEST(WorkersTest, TwoWorkersCarryManyConcurrentSessionsIntactAndBothServe) {
  constexpr int kSessions = 64;
  TestBackend backend(BackendBehavior::echo());
  ProxyProcess proxy(with_workers(proxy_yaml("splice", {{.backend_port = backend.port()}}), 2));
  ASSERT_TRUE(proxy.stderr_text().find("2 workers") != std::string::npos) << proxy.stderr_text();
  std::vector<ClientPlan> plans;
  for (int i = 0; i < kSessions; ++i) {
    plans.push_back({.send_bytes = 512 * kKiB + static_cast<std::uint64_t>(i) * 4099,
                     .send_seed = static_cast<std::uint64_t>(i + 1),
                     .chunk_seed = static_cast<std::uint64_t>(i + 100)});
  }
  const auto results = run_clients(proxy.port(), plans, Clock::now() + 120s);
  for (int i = 0; i < kSessions; ++i) {
    ASSERT_TRUE(results[i].complete()) << "session " << i << ": " << results[i].describe();
    ASSERT_EQ(results[i].received_sha256, results[i].sent_sha256) << "session " << i;
  }
  ASSERT_EQ(proxy.stop(), 0);
  const std::string log = proxy.stderr_text();
  const auto first = worker_sessions(log, 0);
  const auto second = worker_sessions(log, 1);
  ASSERT_TRUE(first && second) << log;
  EXPECT_GT(*first, 0u) << "worker 0 served no session";
  EXPECT_GT(*second, 0u) << "worker 1 served no session";
  EXPECT_EQ(*first + *second, static_cast<std::uint64_t>(kSessions));
  EXPECT_EQ(stat_value(log, "sessions_accepted_total"), kSessions);
  EXPECT_EQ(stat_value(log, "sessions_closed_total{reason=\"completed\"}"), kSessions);
}

// A mirror sink fed by two workers (each through its own feed pipes) gets every session's
// client bytes, whole and unmixed: the shadow server sees exactly the streams the clients sent.
TEST(WorkersTest, TwoWorkersFeedOneShadowMirrorWithEveryStreamIntact) {
  constexpr int kSessions = 16;
  TestBackend backend(BackendBehavior::echo());
  TestBackend shadow(BackendBehavior::sink());
  const std::string yaml =
      with_workers(proxy_yaml("splice", {{.backend_port = backend.port(),
                                          .extra_keys = "    mirrors: [{mirror: twin}]\n"}}),
                   2) +
      "mirrors:\n  - {name: twin, type: shadow, address: 127.0.0.1:" +
      std::to_string(shadow.port()) + "}\n";
  ProxyProcess proxy(yaml);
  std::vector<ClientPlan> plans;
  for (int i = 0; i < kSessions; ++i) {
    plans.push_back({.send_bytes = 256 * kKiB + static_cast<std::uint64_t>(i),
                     .send_seed = static_cast<std::uint64_t>(i + 7),
                     .send_rate = 1 * kMiB});
  }
  const auto deadline = Clock::now() + 120s;
  const auto clients = run_clients(proxy.port(), plans, deadline);
  const auto copies = shadow.wait_for_results(plans.size(), deadline);
  for (const ClientResult& client : clients) {
    ASSERT_TRUE(client.complete()) << client.describe();
    ASSERT_EQ(client.received_sha256, client.sent_sha256);
  }
  const SortedDigests digests = sorted_digests(clients, copies);
  EXPECT_EQ(digests.received, digests.sent);
  ASSERT_EQ(proxy.stop(), 0);
  const std::string log = proxy.stderr_text();
  EXPECT_EQ(stat_value(log, "mirror_dropped_bytes_total"), 0u);
  EXPECT_GT(worker_sessions(log, 0).value_or(0), 0u);
  EXPECT_GT(worker_sessions(log, 1).value_or(0), 0u);
}

// SO_REUSEPORT lets sockets of one user share a port: a second proxy on the port the first
// listens on must still fail to start, rather than silently take some of its clients.
TEST(WorkersTest, ASecondProxyOnAPortInUseFailsToStart) {
  TestBackend backend(BackendBehavior::echo());
  const std::string yaml = proxy_yaml("splice", {{.backend_port = backend.port()}});
  ProxyProcess first(with_workers(yaml, 2));
  std::string second = yaml;
  second.replace(second.find("127.0.0.1:0"), 11, "127.0.0.1:" + std::to_string(first.port()));
  std::string path = testing::TempDir() + "spliceproxy-second-XXXXXX.yaml";
  const int fd = ::mkstemps(path.data(), 5);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, second.data(), second.size()), static_cast<ssize_t>(second.size()));
  ::close(fd);
  const CommandResult result = run_command({SPLICEPROXY_BINARY, "-c", path}, 20s);
  ::unlink(path.c_str());
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_NE(result.err.find("listener web: bind 127.0.0.1:" + std::to_string(first.port()) +
                            ": Address already in use"),
            std::string::npos)
      << result.err;
  // The first proxy still serves every client.
  const ClientPlan plan{.send_bytes = 64 * kKiB, .send_seed = 5};
  const ClientResult client = run_client(first.port(), plan, Clock::now() + 20s);
  ASSERT_TRUE(client.complete()) << client.describe();
  EXPECT_EQ(client.received_sha256, client.sent_sha256);
}

// /metrics is read on the admin thread while both workers write their counters (under
// ThreadSanitizer too): once the sessions ended it counts every session and byte of both
// workers, and the access log has one line per session.
TEST(WorkersTest, AdminMetricsScrapedDuringTrafficSumBothWorkers) {
  constexpr int kSessions = 32;
  constexpr std::uint64_t kBytes = 256 * kKiB;
  TestBackend backend(BackendBehavior::echo());
  std::string yaml = with_workers(proxy_yaml("splice", {{.backend_port = backend.port()}}), 2);
  yaml.replace(yaml.find("log: {level: info}\n"), 19,
               "log: {level: info}\nadmin: {listen: 127.0.0.1:0}\n");
  ProxyProcess proxy(yaml);
  const std::uint16_t admin = admin_port(proxy);
  std::vector<ClientPlan> plans;
  for (int i = 0; i < kSessions; ++i) {
    plans.push_back({.send_bytes = kBytes,
                     .send_seed = static_cast<std::uint64_t>(i + 3),
                     .send_rate = 2 * kMiB});
  }
  auto clients = std::async(std::launch::async,
                            [&] { return run_clients(proxy.port(), plans, Clock::now() + 120s); });
  int scrapes = 0;
  while (clients.wait_for(50ms) != std::future_status::ready) {
    ASSERT_EQ(http_request(admin, "/metrics").status, 200);
    ++scrapes;
  }
  for (const ClientResult& client : clients.get()) {
    ASSERT_TRUE(client.complete()) << client.describe();
    ASSERT_EQ(client.received_sha256, client.sent_sha256);
  }
  EXPECT_GT(scrapes, 0);
  const std::string completed = "spliceproxy_sessions_closed_total{reason=\"completed\"}";
  std::string text;
  ASSERT_TRUE(run_until(
      [&] {
        text = http_request(admin, "/metrics").body;
        return metric_value(text, completed) == kSessions;
      },
      Clock::now() + 20s, 50ms))
      << text;
  EXPECT_EQ(run_promtool_check(text).exit_code, 0) << text;
  EXPECT_EQ(metric_value(text, "spliceproxy_sessions_accepted_total"), kSessions);
  EXPECT_EQ(metric_value(text, "spliceproxy_bytes_client_to_backend_total"), kSessions * kBytes);
  EXPECT_EQ(metric_value(text,
                         "spliceproxy_listener_bytes_total{listener=\"web\","
                         "direction=\"backend_to_client\"}"),
            kSessions * kBytes);
  EXPECT_EQ(metric_value(text, "spliceproxy_sessions_active"), 0u);
  ASSERT_EQ(proxy.stop(), 0);
  const std::string log = proxy.stderr_text();
  EXPECT_GT(worker_sessions(log, 0).value_or(0), 0u);
  EXPECT_GT(worker_sessions(log, 1).value_or(0), 0u);
  const std::string access = proxy.stdout_text();
  EXPECT_EQ(std::count(access.begin(), access.end(), '\n'), kSessions) << access;
}

}  // namespace
}  // namespace spliceproxy::test
