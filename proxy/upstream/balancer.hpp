// Balancer: the choice of one server of a pool for a new connection, by policy.
//
//   round_robin        smooth weighted round robin (nginx's): over any window, each server gets
//                      picks in proportion to its weight, interleaved rather than in bursts
//   least_connections  fewest live connections per unit of weight; ties go round the pool
//   random             two candidates drawn in proportion to weight, the one with fewer
//                      connections per weight
//   source_hash        consistent hash ring (160 points per unit of weight, placed by the
//                      server's address text): removing one of N servers moves only the keys
//                      it owned, about 1/N of them; an ineligible server's keys go to the
//                      next point clockwise
//
// The caller says which servers may be picked (healthy, below their limits, not tried yet)
// and how many connections each holds. Not thread-safe: its UpstreamPool locks around it; no
// allocation in pick().
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace spliceproxy {

struct Candidate {
  bool eligible = true;
  std::size_t active = 0;  // live connections
};

class Balancer {
 public:
  // `ids` name the servers (their address text) for the hash ring; `weights` are >= 1; both
  // have one entry per server.
  Balancer(config::BalancePolicy policy, const std::vector<std::string>& ids,
           std::vector<unsigned> weights, std::uint64_t seed = 0x5eed);

  // The index of the chosen server among `servers` (same size and order as at construction),
  // or nullopt when none is eligible. `key` is the client's hash, used by source_hash only.
  std::optional<std::size_t> pick(std::span<const Candidate> servers, std::uint64_t key);

 private:
  std::optional<std::size_t> pick_round_robin(std::span<const Candidate> servers);
  std::optional<std::size_t> pick_least(std::span<const Candidate> servers);
  std::optional<std::size_t> pick_random(std::span<const Candidate> servers);
  std::optional<std::size_t> pick_hash(std::span<const Candidate> servers, std::uint64_t key) const;
  // Whether a has fewer connections per weight than b.
  bool lighter(std::span<const Candidate> servers, std::size_t a, std::size_t b) const;

  struct RingPoint {
    std::uint64_t hash;
    std::size_t server;
  };

  config::BalancePolicy policy_;
  std::vector<unsigned> weights_;
  std::vector<std::int64_t> current_;  // smooth round robin state
  std::vector<RingPoint> ring_;        // sorted by hash
  std::size_t next_ = 0;               // where least_connections starts looking
  std::mt19937_64 random_;
};

}  // namespace spliceproxy
