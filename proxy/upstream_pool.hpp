// UpstreamPool: the servers of one backend on one worker, with what is known about each —
// live connections, connect failures in a row, ejection, active health — and the choice of
// a server for each connect attempt.
//
//   Session ──pick(key, tried)──▶ UpstreamPool ──Balancer──▶ server i
//           ◀──────── endpoint ─┘      ▲
//   Session ──connected(i) / failed(i) ┘ (passive health)   HealthChecker ──set_health(i)
//   Session ──release(i) when the session ends
//
// Eligible for a pick: not tried yet by this session, below its max_connections, not ejected
// and not marked down by health checks. When no server is healthy, every server below its
// limit is tried anyway (a pool that refuses everything helps no one when the checks are
// wrong). Single-threaded: one pool per backend per worker.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "proxy/balancer.hpp"
#include "proxy/net.hpp"
#include "proxy/splice_channel.hpp"
#include "proxy/stats.hpp"

namespace spliceproxy {

class UpstreamPool {
 public:
  // Servers must be resolved already: `endpoints` has one entry per server of `backend`.
  UpstreamPool(const config::Backend& backend, std::vector<net::Endpoint> endpoints, Stats& stats);

  const config::Backend& backend() const { return backend_; }
  std::size_t size() const { return servers_.size(); }
  const net::Endpoint& endpoint(std::size_t server) const { return servers_[server].endpoint; }
  std::size_t active(std::size_t server) const { return servers_[server].active; }
  bool healthy(std::size_t server, Clock::time_point now) const;
  // Operations figures (metrics): picks of the server, and connects to it that failed.
  std::uint64_t connect_attempts(std::size_t server) const {
    return servers_[server].connect_attempts;
  }
  std::uint64_t connect_failures(std::size_t server) const {
    return servers_[server].connect_failures;
  }

  // Picks a server for a connect attempt and counts a live connection on it (until
  // release()). `tried` lists the servers this session already tried. nullopt when every
  // server was tried or is at its limit.
  std::optional<std::size_t> pick(std::uint64_t key, const std::vector<std::size_t>& tried);
  // The connect to `server` succeeded: its failure streak and back-off are reset.
  void connected(std::size_t server);
  // The connect to `server` failed: after `consecutive_failures` in a row the server is
  // ejected for a back-off that doubles with each ejection in a row (up to the maximum).
  void failed(std::size_t server);
  // The connection picked on `server` is gone.
  void release(std::size_t server);
  // Active health check verdict (HealthChecker).
  void set_health(std::size_t server, bool up) { servers_[server].checked_up = up; }

 private:
  struct ServerState {
    net::Endpoint endpoint;
    std::string name;
    std::size_t active = 0;
    unsigned failures_in_a_row = 0;
    unsigned ejections_in_a_row = 0;
    Clock::time_point ejected_until{};
    bool checked_up = true;
    std::uint64_t connect_attempts = 0;
    std::uint64_t connect_failures = 0;
  };

  // Fills candidates_ for a pick; `health` false ignores ejection and health checks.
  void fill_candidates(const std::vector<std::size_t>& tried, bool health, Clock::time_point now);

  const config::Backend& backend_;
  Stats& stats_;
  std::vector<ServerState> servers_;
  std::vector<Candidate> candidates_;  // scratch space of pick()
  Balancer balancer_;
};

}  // namespace spliceproxy
