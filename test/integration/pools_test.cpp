// Backend pools through the real binary, with three backends on loopback: how each balance
// policy spreads sessions, a killed server retried then ejected, allow/deny lists applied
// before any backend connect, max_connections under twice the load, and IPv6 and Unix socket
// listeners and backends carrying bytes intact. The data path is the same in both modes, so
// these run in splice mode only.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

#include "test/integration/harness.hpp"
#include "test/integration/mode_fixture.hpp"
#include "test/integration/test_backend.hpp"
#include "test/integration/traffic.hpp"

namespace spliceproxy::test {
namespace {

// Backends on `host` and `ports` behind listener "web", with `listener_keys` and
// `backend_keys` (YAML lines, indented 4 spaces) added to the listener and the backend.
std::string pool_yaml(const std::vector<std::uint16_t>& ports, const std::vector<unsigned>& weights,
                      const std::string& listener_keys, const std::string& backend_keys,
                      const std::string& host = "127.0.0.1") {
  std::ostringstream yaml;
  yaml << "log: {level: info}\n"
       << "listeners:\n  - name: web\n    listen: 127.0.0.1:0\n    backend: pool\n"
       << "    timeouts: {connect: 2s}\n"
       << listener_keys << "backends:\n  - name: pool\n"
       << backend_keys << "    servers:\n";
  for (std::size_t i = 0; i < ports.size(); ++i) {
    yaml << "      - {address: " << host << ":" << ports[i]
         << ", weight: " << (i < weights.size() ? weights[i] : 1) << "}\n";
  }
  return yaml.str();
}

class PoolsTest : public ProxyModeTest {
 protected:
  static constexpr std::uint64_t kSessionBytes = 16 * kKiB;

  PoolsTest() {
    for (int i = 0; i < 3; ++i)
      backends_.push_back(std::make_unique<TestBackend>(BackendBehavior::echo()));
  }

  std::vector<std::uint16_t> ports() const {
    std::vector<std::uint16_t> ports;
    for (const auto& backend : backends_)
      ports.push_back(backend ? backend->port() : 0);
    return ports;
  }

  void start(const std::string& yaml) { proxy_ = std::make_unique<ProxyProcess>(yaml); }

  // `count` echo sessions one after the other, each of which must come through intact.
  void run_sessions(int count, const LoopbackTarget& target = {}) {
    for (int i = 0; i < count; ++i) {
      ClientPlan plan{.send_bytes = kSessionBytes, .send_seed = static_cast<std::uint64_t>(i)};
      plan.target = target;
      const ClientResult client = run_client(proxy_->port(), plan, Clock::now() + 20s);
      ASSERT_TRUE(client.complete()) << "session " << i << ": " << client.describe();
      ASSERT_EQ(client.received_sha256, client.sent_sha256);
    }
  }

  std::vector<std::size_t> accepted() const {
    std::vector<std::size_t> counts;
    for (const auto& backend : backends_)
      counts.push_back(backend ? backend->accepted() : 0);
    return counts;
  }

  // Connections `backend` ended that were sessions of run_sessions (health checks are not).
  static std::size_t sessions_on(const TestBackend& backend) {
    const auto results = backend.wait_for_results(0, Clock::now());
    return std::count_if(results.begin(), results.end(),
                         [](const BackendResult& r) { return r.bytes_received == kSessionBytes; });
  }

  // A counter from the proxy's exit line; stops the proxy first.
  std::uint64_t stat(std::string_view name) {
    EXPECT_EQ(proxy_->stop(), 0);
    const auto value = stat_value(proxy_->stderr_text(), name);
    EXPECT_TRUE(value.has_value()) << name;
    return value.value_or(0);
  }

  std::vector<std::unique_ptr<TestBackend>> backends_;
};

TEST_P(PoolsTest, RoundRobinSpreadsSessionsByWeight) {
  start(pool_yaml(ports(), {1, 1, 2}, "", "    balance: round_robin\n"));
  run_sessions(20);
  EXPECT_EQ(accepted(), (std::vector<std::size_t>{5, 5, 10}));
}

TEST_P(PoolsTest, LeastConnectionsTakesTurnsAmongIdleServers) {
  start(pool_yaml(ports(), {}, "", "    balance: least_connections\n"));
  run_sessions(30);
  EXPECT_EQ(accepted(), (std::vector<std::size_t>{10, 10, 10}));
}

TEST_P(PoolsTest, RandomTwoChoicesUsesEveryServer) {
  start(pool_yaml(ports(), {}, "", "    balance: random\n"));
  run_sessions(60);
  // 20 expected each; below 5 is over 4 standard deviations away.
  for (std::size_t count : accepted())
    EXPECT_GE(count, 5u);
}

TEST_P(PoolsTest, SourceHashKeepsEachClientAddressOnItsServer) {
  start(pool_yaml(ports(), {}, "", "    balance: source_hash\n"));
  const auto round = [&] {
    for (int host = 1; host <= 30; ++host)
      run_sessions(1, {.source = "127.0.0." + std::to_string(host)});
  };
  round();
  const auto first = accepted();
  round();
  const auto second = accepted();
  int used = 0;
  for (std::size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(second[i], 2 * first[i]) << "server " << i << " got other clients the 2nd time";
    used += first[i] > 0 ? 1 : 0;
  }
  EXPECT_GE(used, 2) << "30 client addresses all hashed to one server";
}

TEST_P(PoolsTest, KilledServerIsRetriedElsewhereThenEjected) {
  start(pool_yaml(ports(), {}, "",
                  "    max_connect_attempts: 3\n"
                  "    ejection: {consecutive_failures: 2, base: 1m}\n"));
  run_sessions(6);
  EXPECT_EQ(accepted(), (std::vector<std::size_t>{2, 2, 2}));
  backends_[1].reset();  // its port now refuses connections
  run_sessions(12);      // every client is served: retried at first, then never sent there
  const auto counts = accepted();
  EXPECT_EQ(counts[0] + counts[2], 4u + 12u);
  EXPECT_EQ(stat("servers_ejected_total"), 1u);
  const auto text = proxy_->stderr_text();
  EXPECT_EQ(stat_value(text, "connect_retries_total"), 2u) << "one per failure before ejection";
  EXPECT_EQ(stat_value(text, "no_server_total"), 0u);
}

TEST_P(PoolsTest, HealthChecksTakeADeadServerOutAndBringItBackAfterRise) {
  start(pool_yaml(ports(), {}, "",
                  "    health_check: {interval: 100ms, timeout: 1s, jitter: 20ms, rise: 3, fall: "
                  "2, send: PING, expect: PING}\n"));
  const std::uint16_t dead_port = backends_[1]->port();
  const std::string server = "server 127.0.0.1:" + std::to_string(dead_port);
  backends_[1].reset();
  ASSERT_TRUE(proxy_->wait_for_stderr(server + " is down", Clock::now() + 20s));
  run_sessions(6);  // none of them goes near the dead server: no retry needed
  EXPECT_TRUE(
      run_until([&] { return sessions_on(*backends_[0]) + sessions_on(*backends_[2]) == 6; },
                Clock::now() + 10s));
  backends_[1] =
      std::make_unique<TestBackend>(BackendBehavior::echo(), TestBackend::Family::ipv4, dead_port);
  ASSERT_TRUE(proxy_->wait_for_stderr(server + " is up (3 checks in a row", Clock::now() + 20s));
  run_sessions(6);
  EXPECT_TRUE(run_until([&] { return sessions_on(*backends_[1]) >= 1; }, Clock::now() + 10s))
      << "traffic did not return to the server that came back";
  EXPECT_EQ(stat("connect_retries_total"), 0u);
  EXPECT_EQ(stat_value(proxy_->stderr_text(), "health_check_transitions_total"), 2u);
}

TEST_P(PoolsTest, AclClosesDeniedClientsBeforeAnyBackendConnect) {
  start(pool_yaml(ports(), {}, "    allow: [127.0.0.0/24]\n    deny: [127.0.0.2/32]\n", ""));
  for (const char* source : {"127.0.0.2", "127.0.1.1"}) {
    Fd client = connect_loopback(proxy_->port(), Clock::now() + 5s, {.source = source});
    const CloseEvent close = wait_for_peer_close(client.get(), Clock::now() + 10s);
    EXPECT_TRUE(close.closed) << source << " was not closed";
  }
  EXPECT_EQ(accepted(), (std::vector<std::size_t>{0, 0, 0})) << "a denied client reached a backend";
  run_sessions(1, {.source = "127.0.0.1"});
  EXPECT_EQ(stat("acl_denied_total"), 2u);
}

TEST_P(PoolsTest, MaxConnectionsHoldsUnderTwiceTheLoadAndRecovers) {
  // Slow readers (64 KiB burst, then 128 KiB/s) keep each session open for about a second, so
  // all 8 clients overlap and the second four wait for the first.
  TestBackend slow(BackendBehavior::slow_reader(128 * kKiB));
  start(pool_yaml({slow.port()}, {}, "    max_connections: 4\n", ""));
  const int at_rest = proxy_->open_socket_count();  // listener and anything else idle
  std::atomic<bool> done{false};
  std::atomic<int> most = 0;
  std::thread watcher([&] {
    run_until(
        [&] {
          most = std::max(most.load(), proxy_->open_socket_count());
          return done.load();
        },
        Clock::now() + 60s, 2ms);
  });
  const std::vector<ClientPlan> plans(8, ClientPlan{.send_bytes = 192 * kKiB});
  const auto results = run_clients(proxy_->port(), plans, Clock::now() + 30s);
  done = true;
  watcher.join();
  for (const auto& client : results)
    EXPECT_TRUE(client.complete()) << client.describe();
  EXPECT_EQ(slow.accepted(), 8u);
  // Two sockets per session (client, backend): never more than 4 sessions at once.
  EXPECT_LE(most.load(), at_rest + 2 * 4);
  EXPECT_GE(most.load(), at_rest + 2 * 2) << "the sessions never overlapped: the test is void";
  EXPECT_GE(stat("listener_pauses_total"), 1u);
}

// Client ─IPv6─▶ listener v6 ─unix─▶ listener local ─IPv6─▶ backend on ::1: an IPv6 and a
// Unix socket listener, and a Unix socket and an IPv6 backend, in one transfer.
TEST_P(PoolsTest, Ipv6AndUnixSocketListenersAndBackendsCarryBytesIntact) {
  TestBackend v6_backend(BackendBehavior::echo(), TestBackend::Family::ipv6);
  const std::string path = "/tmp/spliceproxy-pools-" + std::to_string(getpid()) + ".sock";
  {
    // A stale socket file, as a crashed earlier run leaves it: it must be replaced.
    Fd stale(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    ASSERT_EQ(bind(stale.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  }
  std::ostringstream yaml;
  yaml << "listeners:\n"
       << "  - {name: v6, listen: \"[::1]:0\", backend: to_unix}\n"
       << "  - {name: local, listen: \"unix:" << path << "\", mode: \"0600\", backend: to_v6}\n"
       << "backends:\n"
       << "  - {name: to_unix, servers: [{address: \"unix:" << path << "\"}]}\n"
       << "  - {name: to_v6, servers: [{address: \"[::1]:" << v6_backend.port() << "\"}]}\n";
  proxy_ = std::make_unique<ProxyProcess>(yaml.str(), ProxyOptions{.listeners = {"v6", "local"}});
  struct stat info {};
  ASSERT_EQ(lstat(path.c_str(), &info), 0);
  EXPECT_TRUE(S_ISSOCK(info.st_mode));
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  ClientPlan plan{.send_bytes = 2 * kMiB, .send_seed = 6};
  plan.target.host = "::1";
  const ClientResult client = run_client(proxy_->port("v6"), plan, Clock::now() + 30s);
  ASSERT_TRUE(client.complete()) << client.describe();
  EXPECT_EQ(client.bytes_received, 2 * kMiB);
  EXPECT_EQ(client.received_sha256, client.sent_sha256);
  EXPECT_EQ(v6_backend.accepted(), 1u);
  EXPECT_EQ(proxy_->stop(), 0);
  EXPECT_NE(lstat(path.c_str(), &info), 0) << "the socket file was left behind";
  unlink(path.c_str());
}

// "localhost" resolves at start, to 127.0.0.1 or ::1 depending on the machine: a backend
// listens on both (when ::1 has that port free), and the log names what was used.
TEST_P(PoolsTest, HostnameIsResolvedAtStartAndLogged) {
  const std::uint16_t port = backends_[0]->port();
  std::unique_ptr<TestBackend> v6;
  try {
    v6 = std::make_unique<TestBackend>(BackendBehavior::echo(), TestBackend::Family::ipv6, port);
  } catch (const std::exception&) {  // ::1 port taken: an IPv4 answer is then needed
  }
  start(pool_yaml({port}, {}, "", "    max_connect_attempts: 1\n", "localhost"));
  EXPECT_TRUE(proxy_->wait_for_stderr("localhost:" + std::to_string(port) + " resolved to",
                                      Clock::now() + 5s));
  run_sessions(1);
  EXPECT_EQ(backends_[0]->accepted() + (v6 ? v6->accepted() : 0), 1u);
}

INSTANTIATE_TEST_SUITE_P(Splice, PoolsTest, ::testing::Values("splice"), mode_name);

}  // namespace
}  // namespace spliceproxy::test
