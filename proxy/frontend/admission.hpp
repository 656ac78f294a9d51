// Admission: a listener's gate before any backend connect — allow/deny lists, the
// per-source-IP limit and the count of live sessions behind max_connections.
//
//   Listener (any worker) ──accept──▶ [reserve() while a PROXY header is read: a place, no peer]
//                                        │
//                                        ▼
//                                     admit(peer) ──denied / source limit──▶ close the client
//                                        │ full ──▶ the client waits; wait_for_room(wake)
//                                        │ admitted
//                                        ▼
//                 AdmissionTicket (held by the Session; counts it until released)
//                                        │ released while full
//                                        ▼
//                    every waiting Listener's wake() (each posts to its own worker)
//
// Threads: one Admission per configured listener, shared by the acceptors of every worker, so
// the limits hold for the whole proxy. A mutex guards the counts; it is taken at accept and
// when a session ends, never on the data path. Wake-ups are called without the mutex held.
// A reload keeps the Admission of a kept listener (live sessions stay counted) and gives it
// the new lists and limits (reconfigure).
//
// It also holds what a listener's clients share across workers for max_connection_rate (a
// token bucket for the listener, a bounded table of buckets per source: under the mutex, at
// accept only) and bandwidth.listener (a lock-free bucket per direction, which each session
// takes and its channels consume from without the mutex). A reload that changes a limit starts
// its buckets afresh; live sessions keep the bandwidth buckets they started with.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"
#include "proxy/base/net.hpp"
#include "proxy/base/token_bucket.hpp"
#include "proxy/frontend/source_rate_table.hpp"

namespace spliceproxy {

class Admission;

// One admitted session's (or reserved client's) place in its listener's counts; released once
// (by release() or the destructor), from any thread. Move-only.
class AdmissionTicket {
 public:
  AdmissionTicket() = default;
  AdmissionTicket(std::shared_ptr<Admission> owner, std::uint64_t source)
      : owner_(std::move(owner)), source_(source) {}
  AdmissionTicket(AdmissionTicket&& other) noexcept { *this = std::move(other); }
  AdmissionTicket& operator=(AdmissionTicket&& other) noexcept;
  ~AdmissionTicket() { release(); }

  explicit operator bool() const { return owner_ != nullptr; }
  void release();

 private:
  friend class Admission;
  std::shared_ptr<Admission> owner_;
  std::uint64_t source_ = 0;  // counted by source under this key; 0: not counted by source
};

class Admission : public std::enable_shared_from_this<Admission> {
 public:
  enum class Verdict { admitted, denied, source_limit, full, rate_limited };
  // The listener's shared bandwidth buckets, [client_to_backend, backend_to_client]; null: none.
  using SharedBandwidth = std::array<std::shared_ptr<SharedTokenBucket>, 2>;

  explicit Admission(const config::Listener& listener);

  // Denied when the peer's IP is in `deny`, or `allow` is not empty and holds none of its
  // blocks; then source_limit when the peer's IP already has max_connections_per_source live
  // sessions; then full at max_connections. Otherwise admitted, and `ticket` counts the
  // session until released. A Unix socket peer has no IP: neither lists nor the per-source
  // limit apply. Check and count are one step, so concurrent workers never overshoot a limit.
  // Last, max_connection_rate: rate_limited when the source's bucket has no token, or the
  // listener's has none and over_limit is close; with over_limit wait, the client takes a token
  // even into debt (see rate_wait_until: it was accepted because one was due).
  // A `ticket` that holds a place reserved here is never full: only the lists and the
  // per-source limit apply, and it keeps the place unless admitted (a place reserved in
  // another Admission is released first).
  Verdict admit(const net::Endpoint& peer, AdmissionTicket& ticket);
  // Counts a client whose address is not known yet (its PROXY header is still being read)
  // towards max_connections, as HAProxy's maxconn counts every accepted connection. Returns
  // false when full; otherwise `ticket` holds the place, for admit() to take over.
  bool reserve(AdmissionTicket& ticket);
  // Whether max_connections sessions are live (never, without a limit).
  bool full() const;
  std::size_t live() const;
  // When full: keeps `wake` to be called once, when a ticket is released and room is made (or
  // a reload raises the limit), and returns true. When not full, returns false and drops it.
  bool wait_for_room(std::function<void()> wake);
  // With max_connection_rate over_limit wait: when the listener's bucket will hold a token, if
  // it holds none at `now` (the listener leaves clients in the backlog until then).
  std::optional<TokenClock::time_point> rate_wait_until(TokenClock::time_point now) const;
  SharedBandwidth shared_bandwidth() const;
  // A reload: new lists and limits for the same listener; wakes the waiters if room appeared.
  void reconfigure(const config::Listener& listener);

 private:
  friend class AdmissionTicket;
  void release(std::uint64_t source);
  bool full_locked() const;
  bool take_rate_tokens(std::uint64_t source, bool by_source);
  void rebuild_buckets(const config::Listener& old);
  // With mutex_ held: hands the waiters to the caller when there is room.
  std::vector<std::function<void()>> take_waiters_if_room();

  mutable std::mutex mutex_;
  config::Listener listener_;  // lists and limits; the rest unused
  std::size_t live_ = 0;
  // Live sessions by source key, with or without a per-source limit (see admit()).
  std::unordered_map<std::uint64_t, std::size_t> per_source_;
  std::vector<std::function<void()>> waiters_;
  std::optional<TokenBucket> rate_;                 // max_connection_rate.rate
  std::optional<SourceRateTable> per_source_rate_;  // max_connection_rate.per_source
  SharedBandwidth shared_bandwidth_;
};

}  // namespace spliceproxy
