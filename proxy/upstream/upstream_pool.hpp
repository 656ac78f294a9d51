// UpstreamPool: the servers of one backend, shared by the workers, with what is known about each —
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
// wrong).
//
// Threads: one pool per backend, shared by every worker (least_connections and per-server
// max_connections count the whole proxy's connections; health is checked once, on the control
// thread). Every member function takes the pool's mutex: they are called when connecting,
// never on the data path. A reload keeps a pool whose backend config did not change.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "proxy/base/net.hpp"
#include "proxy/base/stats.hpp"
#include "proxy/datapath/splice_channel.hpp"
#include "proxy/upstream/balancer.hpp"

namespace spliceproxy {

// One server as a status page shows it (UpstreamPool::status()).
struct ServerStatus {
  std::string address;                 // as configured
  std::size_t active = 0;              // live connections picked on it
  bool checked_up = true;              // last active health check verdict (true without checks)
  bool ejected = false;                // passive ejection in force
  std::uint64_t connect_attempts = 0;  // picks of this server for a connect
  std::uint64_t connect_failures = 0;  // connects to it that failed
};

class UpstreamPool {
 public:
  // Servers must be resolved already: `endpoints` has one entry per server of `backend`
  // (copied: the pool may outlive the config snapshot it came from).
  UpstreamPool(const config::Backend& backend, std::vector<net::Endpoint> endpoints);

  // Constant after construction: no lock needed.
  const config::Backend& backend() const { return backend_; }
  std::size_t size() const { return servers_.size(); }
  const net::Endpoint& endpoint(std::size_t server) const { return servers_[server].endpoint; }

  std::size_t active(std::size_t server) const;
  // Up by health checks and not ejected.
  bool healthy(std::size_t server, Clock::time_point now) const;
  // Whether some server is healthy (readiness).
  bool any_healthy(Clock::time_point now) const;
  std::vector<ServerStatus> status(Clock::time_point now) const;

  // Picks a server for a connect attempt and counts a live connection on it (until
  // release()). `tried` lists the servers this session already tried. nullopt when every
  // server was tried or is at its limit.
  std::optional<std::size_t> pick(std::uint64_t key, const std::vector<std::size_t>& tried);
  // The connect to `server` succeeded: its failure streak and back-off are reset.
  void connected(std::size_t server);
  // The connect to `server` failed: after `consecutive_failures` in a row the server is
  // ejected for a back-off that doubles with each ejection in a row (up to the maximum).
  // Returns whether this failure ejected it (the caller counts servers_ejected_total).
  bool failed(std::size_t server);
  // The connection picked on `server` is gone.
  void release(std::size_t server);
  // Active health check verdict (HealthChecker).
  void set_health(std::size_t server, bool up);

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

  // With mutex_ held: fills candidates_ for a pick; `health` false ignores ejection and health
  // checks.
  void fill_candidates(const std::vector<std::size_t>& tried, bool health, Clock::time_point now);
  bool healthy_locked(std::size_t server, Clock::time_point now) const;

  const config::Backend backend_;
  mutable std::mutex mutex_;
  std::vector<ServerState> servers_;   // endpoint and name constant; the rest under mutex_
  std::vector<Candidate> candidates_;  // scratch space of pick(), under mutex_
  Balancer balancer_;                  // under mutex_
};

}  // namespace spliceproxy
