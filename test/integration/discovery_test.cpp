// DNS service discovery through the real binary and a real DNS server (dnsmasq, started per
// test on 127.0.0.1 and a free port, records changed by rewriting its hosts file and SIGHUP):
// an address added joins within the re-resolution bound, one removed takes no new session
// while a 64 MiB transfer on it completes intact, a resolver that stops answering changes
// nothing for the hold time, NXDOMAIN empties the backend only after the hold, SRV weights
// show in the share of sessions, and a huge answer changes nothing.
//
// Backends listen on 127.0.0.2 and 127.0.0.3 (one port for both: an A record has no port).
#include <gtest/gtest.h>

#include <unistd.h>

#include <future>
#include <memory>
#include <sstream>

#include "test/integration/dns_server.hpp"
#include "test/integration/harness.hpp"
#include "test/integration/test_backend.hpp"
#include "test/integration/traffic.hpp"

namespace spliceproxy::test {
namespace {

constexpr std::uint64_t kSessionBytes = 16 * kKiB;
// resolve: min_interval 200ms, max_interval 1s, hold 3s, timeout 500ms; dnsmasq's TTL is 1s.
constexpr auto kMaxInterval = 1s;
constexpr auto kHold = 3s;

class DiscoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!DnsServer::installed()) GTEST_SKIP() << "dnsmasq not installed (tools/deps.sh --test)";
    first_ = std::make_unique<TestBackend>(BackendBehavior::echo(), "127.0.0.2", 0);
    port_ = first_->port();
    second_ = std::make_unique<TestBackend>(BackendBehavior::echo(), "127.0.0.3", port_);
  }

  std::string yaml(const std::string& servers, const std::string& backend_keys = "") const {
    std::ostringstream out;
    out << "log: {level: info}\n"
        << "resolve: {nameservers: [\"" << dns_->address() << "\"], min_interval: 200ms, "
        << "max_interval: 1s, hold: 3s, timeout: 500ms}\n"
        << "listeners:\n  - name: web\n    listen: 127.0.0.1:0\n    backend: app\n"
        << "    timeouts: {connect: 2s}\n"
        << "backends:\n  - name: app\n"
        << backend_keys << "    servers:\n"
        << servers;
    return out.str();
  }

  std::string app_entry() const {
    return "      - {address: app.test:" + std::to_string(port_) + ", resolve: true}\n";
  }

  void start(const std::string& config) { proxy_ = std::make_unique<ProxyProcess>(config); }

  ClientResult session(std::uint64_t seed, std::uint64_t bytes = kSessionBytes,
                       std::uint64_t rate = 0) const {
    ClientPlan plan{.send_bytes = bytes, .send_seed = seed, .send_rate = rate};
    return run_client(proxy_->port(), plan, Clock::now() + 60s);
  }

  void run_sessions(int count) {
    for (int i = 0; i < count; ++i) {
      const ClientResult client = session(static_cast<std::uint64_t>(i));
      ASSERT_TRUE(client.complete()) << "session " << i << ": " << client.describe();
      ASSERT_EQ(client.received_sha256, client.sent_sha256);
    }
  }

  std::string server(const char* ip) const { return std::string(ip) + ":" + std::to_string(port_); }

  std::unique_ptr<DnsServer> dns_;
  std::unique_ptr<TestBackend> first_;
  std::unique_ptr<TestBackend> second_;
  std::uint16_t port_ = 0;
  std::unique_ptr<ProxyProcess> proxy_;
};

TEST_F(DiscoveryTest, NewAddressJoinsWithinTheReResolutionBound) {
  dns_ = std::make_unique<DnsServer>(std::vector<std::string>{"127.0.0.2 app.test"});
  start(yaml(app_entry()));
  EXPECT_TRUE(proxy_->wait_for_stderr(
      "app.test:" + std::to_string(port_) + " -> [" + server("127.0.0.2") + "]",
      Clock::now() + 5s));
  run_sessions(4);
  EXPECT_EQ(first_->accepted(), 4u);
  const auto changed = Clock::now();
  dns_->set_hosts({"127.0.0.2 app.test", "127.0.0.3 app.test"});
  // The TTL (1s, within [200ms, 1s]) plus one lookup (at most 500ms), and some slack for a
  // loaded machine.
  ASSERT_TRUE(proxy_->wait_for_stderr("added [" + server("127.0.0.3") + "]", changed + 5s))
      << proxy_->stderr_text();
  EXPECT_LT(ms_since(changed), 1000 * (kMaxInterval.count() + 2));
  run_sessions(10);
  EXPECT_EQ(first_->accepted(), 9u);  // round robin over the two
  EXPECT_EQ(second_->accepted(), 5u);
  EXPECT_EQ(proxy_->stop(), 0);
  EXPECT_EQ(stat_value(proxy_->stderr_text(), "servers_added_total"), 2u);
}

TEST_F(DiscoveryTest, RemovedAddressTakesNoNewSessionWhileItsTransferCompletes) {
  dns_ = std::make_unique<DnsServer>(
      std::vector<std::string>{"127.0.0.2 app.test", "127.0.0.3 app.test"});
  start(yaml(app_entry()));
  // 64 MiB at 16 MiB/s: about 4 s, running through the change.
  auto transfer = std::async(std::launch::async, [&] { return session(99, 64 * kMiB, 16 * kMiB); });
  ASSERT_TRUE(
      run_until([&] { return first_->accepted() + second_->accepted() == 1; }, Clock::now() + 10s));
  const bool on_first = first_->accepted() == 1;
  TestBackend& busy = on_first ? *first_ : *second_;
  TestBackend& other = on_first ? *second_ : *first_;
  const std::string stays = on_first ? "127.0.0.3" : "127.0.0.2";
  dns_->set_hosts({stays + " app.test"});
  ASSERT_TRUE(proxy_->wait_for_stderr(
      "removed [" + server(on_first ? "127.0.0.2" : "127.0.0.3") + "]", Clock::now() + 5s));
  EXPECT_EQ(transfer.wait_for(0s), std::future_status::timeout) << "the transfer ended early";
  run_sessions(6);
  EXPECT_EQ(busy.accepted(), 1u);
  EXPECT_EQ(other.accepted(), 6u);
  const ClientResult big = transfer.get();
  ASSERT_TRUE(big.complete()) << big.describe();
  EXPECT_EQ(big.bytes_received, 64 * kMiB);
  EXPECT_EQ(big.received_sha256, big.sent_sha256);
}

TEST_F(DiscoveryTest, ResolverThatStopsAnsweringChangesNothingForTheHold) {
  dns_ = std::make_unique<DnsServer>(std::vector<std::string>{"127.0.0.2 app.test"});
  start(yaml(app_entry()));
  dns_->pause();
  const auto paused = Clock::now();
  ASSERT_TRUE(proxy_->wait_for_stderr("lookup of app.test:" + std::to_string(port_) + " failed",
                                      Clock::now() + 5s));
  // Sessions keep going to the last good set until the hold (3s from the first failure, which
  // came after `paused`) is over.
  while (Clock::now() < paused + kHold - 500ms) {
    run_sessions(1);
    EXPECT_EQ(proxy_->stderr_text().find("leave the pool"), std::string::npos);
  }
  EXPECT_EQ(proxy_->stderr_text().find("removed [127"), std::string::npos);
  EXPECT_TRUE(proxy_->wait_for_stderr("leave the pool", Clock::now() + 5s));
  dns_->resume();
  // Answers again: the address comes back.
  EXPECT_TRUE(proxy_->wait_for_stderr("answers again", Clock::now() + 5s));
  run_sessions(1);
}

TEST_F(DiscoveryTest, NxdomainEmptiesTheBackendOnlyAfterTheHoldAndClientsAreRefused) {
  dns_ = std::make_unique<DnsServer>(std::vector<std::string>{"127.0.0.2 app.test"});
  start(yaml(app_entry()));
  dns_->set_hosts({});  // app.test: NXDOMAIN (dnsmasq is authoritative for .test)
  const auto gone = Clock::now();
  ASSERT_TRUE(proxy_->wait_for_stderr("gave no server", Clock::now() + 5s));
  run_sessions(2);  // still held
  ASSERT_TRUE(proxy_->wait_for_stderr("has no server", gone + kHold + 5s));
  EXPECT_GE(ms_since(gone), 1000 * kHold.count() - 1000);
  for (int i = 0; i < 5; ++i) {
    const ClientResult refused = session(i);
    EXPECT_FALSE(refused.complete());
    EXPECT_EQ(refused.bytes_received, 0u);
  }
  EXPECT_EQ(proxy_->stop(), 0);
  const std::string log = proxy_->stderr_text();
  std::size_t said = 0;
  for (auto at = log.find("has no server"); at != std::string::npos;
       at = log.find("has no server", at + 1))
    ++said;
  EXPECT_EQ(said, 1u) << "logged once per change, not per client";
  EXPECT_EQ(stat_value(log, "backend_empty_rejects_total"), 5u);
}

// Smooth weighted round robin is exact over a full cycle: 1:3 over 40 sessions is 10 and 30.
// The tolerance (±2) covers only the cycle's phase; the priority-1 record takes none.
TEST_F(DiscoveryTest, SrvWeightsShowInTheShareOfSessions) {
  const std::string p = std::to_string(port_);
  dns_ = std::make_unique<DnsServer>(
      std::vector<std::string>{"127.0.0.2 a.test", "127.0.0.3 b.test", "127.0.0.4 c.test"},
      std::vector<std::string>{"_app._tcp.svc.test,a.test," + p + ",0,1",
                               "_app._tcp.svc.test,b.test," + p + ",0,3",
                               "_app._tcp.svc.test,c.test," + p + ",1,100"});
  start(yaml("      - srv: _app._tcp.svc.test\n"));
  ASSERT_TRUE(proxy_->wait_for_stderr("_app._tcp.svc.test -> [", Clock::now() + 5s));
  run_sessions(40);
  EXPECT_NEAR(static_cast<double>(first_->accepted()), 10.0, 2.0);
  EXPECT_NEAR(static_cast<double>(second_->accepted()), 30.0, 2.0);
  EXPECT_EQ(proxy_->stderr_text().find("127.0.0.4"), std::string::npos);
}

// 300 addresses for one name: more than a pool takes from one answer (256). The lookup is
// refused as a bad answer, logged, and the servers the name had stay.
TEST_F(DiscoveryTest, HugeAnswerIsRefusedAndChangesNothing) {
  dns_ = std::make_unique<DnsServer>(std::vector<std::string>{"127.0.0.2 app.test"});
  start(yaml(app_entry()));
  std::vector<std::string> many;
  for (int i = 0; i < 300; ++i)
    many.push_back("127.0." + std::to_string(1 + i / 250) + "." + std::to_string(i % 250) +
                   " app.test");
  dns_->set_hosts(many);
  ASSERT_TRUE(proxy_->wait_for_stderr("more than 256", Clock::now() + 5s)) << proxy_->stderr_text();
  run_sessions(3);
  EXPECT_EQ(first_->accepted(), 3u);
  EXPECT_EQ(proxy_->stderr_text().find("added [127.0.1."), std::string::npos);
  EXPECT_EQ(proxy_->stderr_text().find("removed [127"), std::string::npos);
}

// --check prints what each name expands to, as YAML comments after the effective config.
TEST_F(DiscoveryTest, CheckShowsWhatEachNameExpandsTo) {
  dns_ = std::make_unique<DnsServer>(std::vector<std::string>{"127.0.0.2 app.test"});
  const std::string config = yaml(
      app_entry() + "      - {address: gone.test:" + std::to_string(port_) + ", resolve: true}\n");
  char path[] = "/tmp/spliceproxy-check-XXXXXX.yaml";
  Fd file(mkstemps(path, 5));
  ASSERT_EQ(write(file.get(), config.data(), config.size()), static_cast<ssize_t>(config.size()));
  const CommandResult result = run_command({SPLICEPROXY_BINARY, "-c", path, "--check"}, 20s);
  ::unlink(path);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("# backend app: app.test:" + std::to_string(port_) + " -> [" +
                            server("127.0.0.2") + "]"),
            std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find("gone.test:" + std::to_string(port_) + " -> nxdomain"),
            std::string::npos)
      << result.out;
}

}  // namespace
}  // namespace spliceproxy::test
