// Balancer policies: weighted shares, consistent hashing under removal, and least
// connections following live counts.
#include "proxy/upstream/balancer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "proxy/base/net.hpp"

namespace spliceproxy {
namespace {

using config::BalancePolicy;

constexpr int kPicks = 10'000;

std::vector<std::string> ids(std::size_t n) {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < n; ++i)
    names.push_back("127.0.0.1:" + std::to_string(9000 + i));
  return names;
}

// Share of kPicks that went to each server, all eligible and idle.
std::vector<double> shares(BalancePolicy policy, std::vector<unsigned> weights) {
  Balancer balancer(policy, ids(weights.size()), weights);
  std::vector<Candidate> servers(weights.size());
  std::vector<double> counts(weights.size(), 0);
  for (int i = 0; i < kPicks; ++i) {
    const auto pick = balancer.pick(servers, net::hash_bytes(&i, sizeof i));
    EXPECT_TRUE(pick.has_value());
    if (pick) counts[*pick] += 1.0 / kPicks;
  }
  return counts;
}

TEST(Balancer, RoundRobinWeightsOneToThreeGiveQuarterAndThreeQuarters) {
  const auto got = shares(BalancePolicy::round_robin, {1, 3});
  EXPECT_NEAR(got[0], 0.25, 0.02);
  EXPECT_NEAR(got[1], 0.75, 0.02);
}

TEST(Balancer, SmoothRoundRobinInterleavesRatherThanBursts) {
  Balancer balancer(BalancePolicy::round_robin, ids(2), {1, 3});
  std::vector<Candidate> servers(2);
  std::vector<std::size_t> order;
  for (int i = 0; i < 8; ++i)
    order.push_back(*balancer.pick(servers, 0));
  // Never both picks of a window of four to the light server, never four heavy in a row.
  EXPECT_EQ(std::count(order.begin(), order.begin() + 4, 0u), 1);
  EXPECT_EQ(std::count(order.begin() + 4, order.end(), 0u), 1);
}

TEST(Balancer, RandomTwoChoicesAndHashFollowWeights) {
  for (const auto policy : {BalancePolicy::random, BalancePolicy::source_hash}) {
    const auto got = shares(policy, {1, 1, 2});
    EXPECT_NEAR(got[0], 0.25, 0.05) << config::to_string(policy);
    EXPECT_NEAR(got[1], 0.25, 0.05) << config::to_string(policy);
    EXPECT_NEAR(got[2], 0.5, 0.05) << config::to_string(policy);
  }
}

TEST(Balancer, IneligibleServersAreNeverPicked) {
  for (const auto policy : {BalancePolicy::round_robin, BalancePolicy::least_connections,
                            BalancePolicy::random, BalancePolicy::source_hash}) {
    Balancer balancer(policy, ids(3), {1, 1, 1});
    std::vector<Candidate> servers = {{true, 0}, {false, 0}, {true, 0}};
    for (int i = 0; i < 1000; ++i)
      EXPECT_NE(balancer.pick(servers, net::hash_bytes(&i, sizeof i)), 1u);
    servers = {{false, 0}, {false, 0}, {false, 0}};
    EXPECT_FALSE(balancer.pick(servers, 1).has_value()) << config::to_string(policy);
  }
}

// Key i's server with `n` servers, or with server `removed` taken out in two ways: marked
// ineligible, and absent from a pool built without it.
TEST(Balancer, RemovingOneOfFiveHashServersMovesAboutAFifthOfKeys) {
  constexpr std::size_t kServers = 5;
  constexpr std::size_t kRemoved = 2;
  Balancer full(BalancePolicy::source_hash, ids(kServers), std::vector<unsigned>(kServers, 1));
  std::vector<std::string> fewer_ids = ids(kServers);
  fewer_ids.erase(fewer_ids.begin() + kRemoved);
  Balancer fewer(BalancePolicy::source_hash, fewer_ids, std::vector<unsigned>(kServers - 1, 1));
  std::vector<Candidate> all(kServers);
  std::vector<Candidate> without = all;
  without[kRemoved].eligible = false;
  std::vector<Candidate> rest(kServers - 1);
  int moved_ineligible = 0;
  int moved_rebuilt = 0;
  for (int i = 0; i < kPicks; ++i) {
    const std::uint64_t key = net::hash_bytes(&i, sizeof i);
    const std::size_t before = *full.pick(all, key);
    moved_ineligible += *full.pick(without, key) != before ? 1 : 0;
    const std::string after = fewer_ids[*fewer.pick(rest, key)];
    moved_rebuilt += after != ids(kServers)[before] ? 1 : 0;
  }
  const double bound = 1.0 / kServers + 0.05;
  EXPECT_LE(moved_ineligible, bound * kPicks);
  EXPECT_LE(moved_rebuilt, bound * kPicks);
  EXPECT_EQ(moved_ineligible, moved_rebuilt) << "only the removed server's keys move";
  EXPECT_GT(moved_ineligible, 0);
}

TEST(Balancer, LeastConnectionsFollowsLiveCounts) {
  Balancer balancer(BalancePolicy::least_connections, ids(3), {1, 1, 1});
  std::vector<Candidate> servers = {{true, 5}, {true, 2}, {true, 7}};
  EXPECT_EQ(balancer.pick(servers, 0), 1u);
  servers[1].active = 9;
  EXPECT_EQ(balancer.pick(servers, 0), 0u);
  servers[0].active = 8;
  EXPECT_EQ(balancer.pick(servers, 0), 2u);
  // Equal counts: picks go round rather than all to the first.
  servers = {{true, 1}, {true, 1}, {true, 1}};
  std::vector<int> seen(3, 0);
  for (int i = 0; i < 3; ++i)
    ++seen[*balancer.pick(servers, 0)];
  EXPECT_EQ(seen, (std::vector<int>{1, 1, 1}));
}

TEST(Balancer, LeastConnectionsCountsPerUnitOfWeight) {
  Balancer balancer(BalancePolicy::least_connections, ids(2), {1, 4});
  // 3 per weight unit against 2.
  EXPECT_EQ(balancer.pick(std::vector<Candidate>{{true, 3}, {true, 8}}, 0), 1u);
  EXPECT_EQ(balancer.pick(std::vector<Candidate>{{true, 1}, {true, 8}}, 0), 0u);
}

}  // namespace
}  // namespace spliceproxy
