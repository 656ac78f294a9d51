// UpstreamPool: the server set changing live (DNS discovery), the operator's state and weight,
// and the queue of clients waiting for a slot. No sockets: picks and releases only.
#include "proxy/upstream/upstream_pool.hpp"

#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>

namespace spliceproxy {
namespace {

net::Endpoint endpoint(const char* ip, std::uint16_t port = 80) {
  return net::Endpoint(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address(ip), port));
}

config::Backend discovered_backend(std::size_t max_connections = 0, std::size_t max_queued = 0) {
  config::Backend backend;
  backend.name = "app";
  config::Server server;
  server.address = {"app.test", 80};
  server.discovery = config::ServerDiscovery::dns;
  server.max_connections = max_connections;
  backend.servers.push_back(server);
  backend.max_queued = max_queued;
  return backend;
}

std::vector<std::string> names(const UpstreamPool& pool) {
  std::vector<std::string> out;
  for (const ServerRef& server : pool.servers())
    out.push_back(server->name);
  return out;
}

TEST(UpstreamPool, AServerThatStaysKeepsItsStateAndARemovedOneLivesOnForItsSessions) {
  UpstreamPool pool(discovered_backend());
  auto change = pool.set_entry_servers(0, {{endpoint("10.0.0.1")}, {endpoint("10.0.0.2")}});
  EXPECT_EQ(change.added, (std::vector<std::string>{"10.0.0.1:80", "10.0.0.2:80"}));
  const ServerRef first = pool.pick(0, {});
  const ServerRef second = pool.pick(0, {});
  ASSERT_TRUE(first && second);
  EXPECT_NE(first, second);
  pool.set_health(first, false);
  change = pool.set_entry_servers(
      0,
      {{endpoint(first->name == "10.0.0.1:80" ? "10.0.0.1" : "10.0.0.2")}, {endpoint("10.0.0.3")}});
  EXPECT_EQ(change.added, (std::vector<std::string>{"10.0.0.3:80"}));
  EXPECT_EQ(change.removed, (std::vector<std::string>{second->name}));
  const auto status = pool.status(Clock::now());
  ASSERT_EQ(status.size(), 2u);
  EXPECT_EQ(status[0].address, first->name);
  EXPECT_EQ(status[0].active, 1u) << "its session is still counted";
  EXPECT_FALSE(status[0].checked_up) << "its health is kept";
  EXPECT_FALSE(second->in_pool);
  pool.release(second);  // the removed server's session ends: no crash, no effect on the pool
  EXPECT_EQ(second->active, 0u);
  for (int i = 0; i < 4; ++i) {
    const ServerRef picked = pool.pick(0, {});
    ASSERT_TRUE(picked);
    EXPECT_NE(picked, second) << "a removed server takes no new session";
    pool.release(picked);
  }
}

TEST(UpstreamPool, DrainedAndDisabledServersTakeNoNewSessionAndWeightsChangeTheShare) {
  UpstreamPool pool(discovered_backend());
  pool.set_entry_servers(0, {{endpoint("10.0.0.1")}, {endpoint("10.0.0.2")}});
  EXPECT_TRUE(pool.set_admin("10.0.0.1:80", ServerAdminState::drain, std::nullopt));
  EXPECT_FALSE(pool.set_admin("10.0.0.9:80", ServerAdminState::drain, std::nullopt));
  for (int i = 0; i < 4; ++i) {
    const ServerRef picked = pool.pick(0, {});
    ASSERT_TRUE(picked);
    EXPECT_EQ(picked->name, "10.0.0.2:80");
    pool.release(picked);
  }
  pool.set_admin("10.0.0.2:80", ServerAdminState::disabled, std::nullopt);
  EXPECT_FALSE(pool.pick(0, {}));
  EXPECT_FALSE(pool.any_healthy(Clock::now()));
  pool.set_admin("10.0.0.1:80", ServerAdminState::enabled, 3u);
  pool.set_admin("10.0.0.2:80", ServerAdminState::enabled, std::nullopt);
  // A DNS answer that keeps the address keeps the operator's weight.
  pool.set_entry_servers(0, {{endpoint("10.0.0.1")}, {endpoint("10.0.0.2")}});
  int first = 0;
  for (int i = 0; i < 40; ++i) {
    const ServerRef picked = pool.pick(0, {});
    first += picked->name == "10.0.0.1:80";
    pool.release(picked);
  }
  EXPECT_EQ(first, 30);
}

TEST(UpstreamPool, QueuedClientsGetFreedSlotsInArrivalOrder) {
  UpstreamPool pool(discovered_backend(/*max_connections=*/1, /*max_queued=*/2));
  pool.set_entry_servers(0, {{endpoint("10.0.0.1")}});
  std::vector<std::pair<int, ServerRef>> woken;
  const auto wake = [&](int id) { return [&, id](ServerRef s) { woken.emplace_back(id, s); }; };
  FirstPick a = pool.pick_first(0, 1, wake(1));
  ASSERT_TRUE(a.server);
  EXPECT_TRUE(pool.pick_first(0, 2, wake(2)).queued);
  EXPECT_TRUE(pool.pick_first(0, 3, wake(3)).queued);
  EXPECT_TRUE(pool.pick_first(0, 4, wake(4)).queue_full);
  EXPECT_EQ(pool.queued(), 2u);
  pool.release(a.server);
  ASSERT_EQ(woken.size(), 1u);
  EXPECT_EQ(woken[0].first, 2);
  EXPECT_TRUE(pool.cancel_wait(3));  // 3 gave up (its queue timeout)
  EXPECT_FALSE(pool.cancel_wait(2)) << "2 was served already";
  pool.release(woken[0].second);
  EXPECT_EQ(woken.size(), 1u);
  EXPECT_EQ(pool.queued(), 0u);
  // A new server frees room for the queue at once.
  FirstPick b = pool.pick_first(0, 5, wake(5));
  ASSERT_TRUE(b.server);
  EXPECT_TRUE(pool.pick_first(0, 6, wake(6)).queued);
  pool.set_entry_servers(0, {{endpoint("10.0.0.1")}, {endpoint("10.0.0.2")}});
  ASSERT_EQ(woken.size(), 2u);
  EXPECT_EQ(woken[1].first, 6);
  EXPECT_EQ(woken[1].second->name, "10.0.0.2:80");
}

TEST(UpstreamPool, AnEmptyAnswerEmptiesOnlyItsEntry) {
  config::Backend backend = discovered_backend();
  config::Server fixed;
  fixed.address = {"127.0.0.1", 9000};
  backend.servers.push_back(fixed);
  UpstreamPool pool(backend);
  pool.set_entry_servers(1, {{endpoint("127.0.0.1", 9000)}});
  pool.set_entry_servers(0, {{endpoint("10.0.0.1")}});
  EXPECT_EQ(names(pool), (std::vector<std::string>{"10.0.0.1:80", "127.0.0.1:9000"}));
  const auto change = pool.set_entry_servers(0, {});
  EXPECT_EQ(change.removed, (std::vector<std::string>{"10.0.0.1:80"}));
  EXPECT_EQ(names(pool), (std::vector<std::string>{"127.0.0.1:9000"}));
}

}  // namespace
}  // namespace spliceproxy
