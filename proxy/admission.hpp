// Admission: a listener's gate before any backend connect — allow/deny lists, the
// per-source-IP limit and the count of live sessions behind max_connections.
//
//   Listener ──accept──▶ check(peer) ──denied / source limit──▶ close the client
//                             │ admitted
//                             ▼
//                 AdmissionTicket (held by the Session; counts it until released)
//                             │ released while the listener is paused at max_connections
//                             ▼
//                       on_room() ──▶ Listener resumes accepting
//
// Single-threaded: one per listener per worker.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>

#include "config/config.hpp"
#include "proxy/net.hpp"

namespace spliceproxy {

class Admission;

// One admitted session's place in its listener's counts; released once (by release() or
// the destructor). Move-only.
class AdmissionTicket {
 public:
  AdmissionTicket() = default;
  AdmissionTicket(std::shared_ptr<Admission> owner, std::uint64_t source)
      : owner_(std::move(owner)), source_(source) {}
  AdmissionTicket(AdmissionTicket&& other) noexcept { *this = std::move(other); }
  AdmissionTicket& operator=(AdmissionTicket&& other) noexcept;
  ~AdmissionTicket() { release(); }

  void release();

 private:
  std::shared_ptr<Admission> owner_;
  std::uint64_t source_ = 0;
};

class Admission : public std::enable_shared_from_this<Admission> {
 public:
  enum class Verdict { admitted, denied, source_limit };

  explicit Admission(const config::Listener& listener) : listener_(listener) {}

  // Denied when the peer's IP is in `deny`, or `allow` is not empty and holds none of its
  // blocks. Then source_limit when the peer's IP already has max_connections_per_source live
  // sessions. A Unix socket peer has no IP: neither lists nor the per-source limit apply.
  Verdict check(const net::Endpoint& peer) const;
  // Counts a session from `peer` until the ticket is released.
  AdmissionTicket admit(const net::Endpoint& peer);
  // Whether max_connections sessions are live (never, without a limit).
  bool full() const { return listener_.max_connections != 0 && live_ >= listener_.max_connections; }
  std::size_t live() const { return live_; }
  // Called when a ticket is released while full() was true; empty to stop (listener closed).
  void on_room(std::function<void()> callback) { on_room_ = std::move(callback); }

 private:
  friend class AdmissionTicket;
  void release(std::uint64_t source);

  const config::Listener& listener_;
  std::size_t live_ = 0;
  std::unordered_map<std::uint64_t, std::size_t> per_source_;  // only with a per-source limit
  std::function<void()> on_room_;
};

}  // namespace spliceproxy
