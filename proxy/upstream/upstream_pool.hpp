// UpstreamPool: the servers of one backend, shared by the workers, with what is known about each —
// live connections, connect failures in a row, ejection, active health, the operator's state —
// and the choice of a server for each connect attempt.
//
//   Session ──pick(key, tried)──▶ UpstreamPool ──Balancer──▶ ServerRef
//           ◀──────── server ──┘      ▲  ▲
//   Session ──connected / failed ─────┘  └── set_entry_servers (Discovery)   HealthChecker
//   Session ──release when the session ends         set_admin (admin API)    ──set_health
//
// The server set can change while the proxy runs: each config entry (`servers[i]`) holds the
// servers it expands to, keyed by address. set_entry_servers() adds new addresses, removes
// those gone and keeps the others with their counts, health and ejection. A removed server
// takes no new session; the sessions on it hold its ServerRef and run to their end.
//
// Eligible for a pick: enabled (not `drain` nor `disabled` by the operator), not tried yet by
// this session, below its max_connections, not ejected and not marked down by health checks.
// When no server is healthy, every enabled server below its limit is tried anyway (a pool
// that refuses everything helps no one when the checks are wrong).
//
// Threads: one pool per backend, shared by every worker and the control thread. Every member
// function takes the pool's mutex: they are called when connecting, never on the data path. A
// reload keeps a pool whose backend config did not change.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
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

// What the operator set on a server through the admin API (kept while the address stays in
// the pool, and across DNS updates that keep it; lost on restart).
enum class ServerAdminState { enabled, drain, disabled };
std::string_view to_string(ServerAdminState state);
std::optional<ServerAdminState> parse_admin_state(std::string_view text);

// One server of a pool: constant identity, and counts that only its pool's mutex guards.
struct UpstreamServer {
  net::Endpoint endpoint;
  std::string name;       // the address, "10.0.0.7:8080"
  std::size_t entry = 0;  // index of the config entry it came from
  std::string origin;     // that entry as the config names it ("app:8080", an SRV name)
  std::size_t max_connections = 0;
  // Under the pool's mutex:
  unsigned weight = 1;                      // configured or discovered (SRV) weight
  std::optional<unsigned> weight_override;  // set by the admin API
  ServerAdminState state = ServerAdminState::enabled;
  bool in_pool = true;  // false once a DNS update removed it
  std::size_t active = 0;
  unsigned failures_in_a_row = 0;
  unsigned ejections_in_a_row = 0;
  Clock::time_point ejected_until{};
  bool checked_up = true;
  std::uint64_t connect_attempts = 0;
  std::uint64_t connect_failures = 0;

  unsigned effective_weight() const { return weight_override.value_or(weight); }
};
using ServerRef = std::shared_ptr<UpstreamServer>;

// One server as a status page shows it (UpstreamPool::status()).
struct ServerStatus {
  std::string address;                 // the server's address
  std::string origin;                  // the config entry it came from
  std::size_t active = 0;              // live connections picked on it
  bool checked_up = true;              // last active health check verdict (true without checks)
  bool ejected = false;                // passive ejection in force
  std::uint64_t connect_attempts = 0;  // picks of this server for a connect
  std::uint64_t connect_failures = 0;  // connects to it that failed
  unsigned weight = 1;                 // in force (the operator's, if set)
  ServerAdminState state = ServerAdminState::enabled;
};

// A server a discovered entry expands to: its address and, from SRV, its weight (0: the
// entry's weight).
struct DiscoveredServer {
  net::Endpoint endpoint;
  unsigned weight = 0;
};

// Names of the servers a change added and removed, for the log.
struct ServerSetChange {
  std::vector<std::string> added;
  std::vector<std::string> removed;
  bool empty() const { return added.empty() && removed.empty(); }
};

// The first pick of a session: a server, or a place in the backend's queue, or neither.
struct FirstPick {
  ServerRef server;
  bool queued = false;
  bool queue_full = false;  // it would have waited, but max_queued clients wait already
};

class UpstreamPool {
 public:
  // Called with the server picked for a queued client, on the thread that freed a slot, with
  // the pool's mutex held: it may only post.
  using QueueWake = std::function<void(ServerRef)>;

  // An empty pool for `backend` (copied: the pool may outlive the config snapshot it came
  // from); set_entry_servers() fills each entry.
  explicit UpstreamPool(const config::Backend& backend);
  // A pool whose entries are resolved already: `endpoints` has one entry per server of
  // `backend`.
  UpstreamPool(const config::Backend& backend, std::vector<net::Endpoint> endpoints);

  // Constant after construction: no lock needed.
  const config::Backend& backend() const { return backend_; }

  std::size_t size() const;
  // The servers in the pool now (health checks follow this set).
  std::vector<ServerRef> servers() const;
  // Whether some enabled server is healthy (readiness).
  bool any_healthy(Clock::time_point now) const;
  std::vector<ServerStatus> status(Clock::time_point now) const;

  // Replaces the servers of config entry `entry` with `servers` (duplicates ignored): new
  // addresses join, those not listed leave (their live sessions go on), the others stay with
  // their state. Returns what changed.
  ServerSetChange set_entry_servers(std::size_t entry,
                                    const std::vector<DiscoveredServer>& servers);

  // Picks a server for a connect attempt and counts a live connection on it (until
  // release()). `tried` lists the servers this session already tried. Null when every
  // server was tried, is at its limit, drained or disabled.
  ServerRef pick(std::uint64_t key, const std::vector<ServerRef>& tried);
  // A session's first pick. Clients are served in arrival order: when others wait in the
  // queue already, or every enabled server is at its max_connections, the client joins the
  // queue (backends[].max_queued > 0 and room in it) and `wake` gets its server later, the
  // moment one frees. Null server and not queued: nothing to connect to (the caller closes).
  FirstPick pick_first(std::uint64_t key, std::uint64_t id, QueueWake wake);
  // Takes client `id` out of the queue. False when it is not there (a server was handed to
  // its wake already: the caller must take it, or release it).
  bool cancel_wait(std::uint64_t id);
  std::size_t queued() const;
  // The connect to `server` succeeded: its failure streak and back-off are reset.
  void connected(const ServerRef& server);
  // The connect to `server` failed: after `consecutive_failures` in a row the server is
  // ejected for a back-off that doubles with each ejection in a row (up to the maximum).
  // Returns whether this failure ejected it (the caller counts servers_ejected_total).
  bool failed(const ServerRef& server);
  // The connection picked on `server` is gone.
  void release(const ServerRef& server);
  // Active health check verdict (HealthChecker).
  void set_health(const ServerRef& server, bool up);

  // The admin API: sets the state and/or weight (1..256) of the server named `name` (its
  // address). Returns false when no server of the pool has that name.
  bool set_admin(const std::string& name, std::optional<ServerAdminState> state,
                 std::optional<unsigned> weight);

 private:
  // With mutex_ held: fills candidates_ for a pick; `health` false ignores ejection and health
  // checks.
  void fill_candidates(const std::vector<ServerRef>& tried, bool health, Clock::time_point now);
  bool healthy_locked(const UpstreamServer& server, Clock::time_point now) const;
  ServerRef pick_locked(std::uint64_t key, const std::vector<ServerRef>& tried);
  bool full_locked() const;
  // With mutex_ held: hands free servers to the clients waiting, first come first served.
  void serve_queue_locked();
  // With mutex_ held: a new balancer for servers_ (after the set or a weight changed).
  void rebuild_balancer();
  ServerRef make_server(std::size_t entry, const DiscoveredServer& found) const;

  const config::Backend backend_;
  mutable std::mutex mutex_;
  std::vector<ServerRef> servers_;     // under mutex_, in entry order
  std::vector<Candidate> candidates_;  // scratch space of pick(), under mutex_
  Balancer balancer_;                  // under mutex_
  struct Waiter {
    std::uint64_t id;
    std::uint64_t key;
    QueueWake wake;
  };
  std::deque<Waiter> waiters_;  // under mutex_, in arrival order
};

}  // namespace spliceproxy
