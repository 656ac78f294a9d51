// Balancer: the four policies; see balancer.hpp.
#include "proxy/upstream/balancer.hpp"

#include <algorithm>

#include "proxy/base/net.hpp"

namespace spliceproxy {
namespace {

constexpr unsigned kRingPointsPerWeight = 160;

}  // namespace

Balancer::Balancer(config::BalancePolicy policy, const std::vector<std::string>& ids,
                   std::vector<unsigned> weights, std::uint64_t seed)
    : policy_(policy), weights_(std::move(weights)), current_(weights_.size(), 0), random_(seed) {
  if (policy_ != config::BalancePolicy::source_hash) return;
  for (std::size_t server = 0; server < ids.size(); ++server) {
    for (unsigned point = 0; point < weights_[server] * kRingPointsPerWeight; ++point) {
      const std::string label = ids[server] + "#" + std::to_string(point);
      ring_.push_back({net::hash_bytes(label.data(), label.size()), server});
    }
  }
  std::sort(ring_.begin(), ring_.end(),
            [](const RingPoint& a, const RingPoint& b) { return a.hash < b.hash; });
}

std::optional<std::size_t> Balancer::pick(std::span<const Candidate> servers, std::uint64_t key) {
  switch (policy_) {
    case config::BalancePolicy::round_robin:
      return pick_round_robin(servers);
    case config::BalancePolicy::least_connections:
      return pick_least(servers);
    case config::BalancePolicy::random:
      return pick_random(servers);
    case config::BalancePolicy::source_hash:
      return pick_hash(servers, key);
  }
  return std::nullopt;
}

// Every eligible server gains its weight; the richest is picked and pays the total.
std::optional<std::size_t> Balancer::pick_round_robin(std::span<const Candidate> servers) {
  std::optional<std::size_t> best;
  std::int64_t total = 0;
  for (std::size_t i = 0; i < servers.size(); ++i) {
    if (!servers[i].eligible) continue;
    current_[i] += weights_[i];
    total += weights_[i];
    if (!best || current_[i] > current_[*best]) best = i;
  }
  if (best) current_[*best] -= total;
  return best;
}

bool Balancer::lighter(std::span<const Candidate> servers, std::size_t a, std::size_t b) const {
  // active_a / weight_a < active_b / weight_b, without division.
  return servers[a].active * weights_[b] < servers[b].active * weights_[a];
}

std::optional<std::size_t> Balancer::pick_least(std::span<const Candidate> servers) {
  std::optional<std::size_t> best;
  const std::size_t n = servers.size();
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = (next_ + k) % n;
    if (servers[i].eligible && (!best || lighter(servers, i, *best))) best = i;
  }
  if (best) next_ = (*best + 1) % n;
  return best;
}

// Two eligible servers drawn at random in proportion to weight (the same one may come twice);
// the one with fewer connections per weight wins, the first on a tie.
std::optional<std::size_t> Balancer::pick_random(std::span<const Candidate> servers) {
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < servers.size(); ++i)
    total += servers[i].eligible ? weights_[i] : 0;
  if (total == 0) return std::nullopt;
  const auto draw = [&] {
    std::uint64_t point = random_() % total;
    for (std::size_t i = 0;; ++i) {
      if (!servers[i].eligible) continue;
      if (point < weights_[i]) return i;
      point -= weights_[i];
    }
  };
  const std::size_t a = draw();
  const std::size_t b = draw();
  return lighter(servers, b, a) ? b : a;
}

std::optional<std::size_t> Balancer::pick_hash(std::span<const Candidate> servers,
                                               std::uint64_t key) const {
  if (ring_.empty()) return std::nullopt;
  const auto start =
      std::lower_bound(ring_.begin(), ring_.end(), key,
                       [](const RingPoint& p, std::uint64_t k) { return p.hash < k; });
  const std::size_t first = static_cast<std::size_t>(start - ring_.begin());
  for (std::size_t k = 0; k < ring_.size(); ++k) {
    const RingPoint& point = ring_[(first + k) % ring_.size()];
    if (servers[point.server].eligible) return point.server;
  }
  return std::nullopt;
}

}  // namespace spliceproxy
