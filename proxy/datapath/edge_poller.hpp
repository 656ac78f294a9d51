// EdgePoller: readiness of a worker's forwarding sockets without an epoll_ctl per wait.
//
// Boost.Asio's socket::async_wait re-arms the descriptor (EPOLL_CTL_MOD) on every call, and
// a Channel waits once per message: for small messages that was one syscall in three. The
// poller keeps an epoll set of its own, edge-triggered, to which each socket is added once
// for both directions; a wait then only records who waits. The set's descriptor is one the
// worker's io_context waits on, so one reactor round serves every socket ready in it, at the
// cost of one epoll_wait and one epoll_ctl per round instead of one epoll_ctl per wait.
//
//   io_context ──(set readable)──▶ epoll_wait(set) ──▶ per ready socket: wake its reader
//                                                       and/or writer, else note the edge
//
// Edge-triggered is enough with two rules. An edge nobody waited for is remembered, and the
// next wait in that direction returns "ready" at once: a waiter whose event went by while it
// waited on the other socket loses nothing. A hang-up, an error or urgent data (EPOLLPRI) is
// remembered even when it woke a waiter, since no edge follows it. A waiter may wait without
// having seen EAGAIN only when its last read proves the socket empty: a short recv (it takes
// every queued byte, but stops at a FIN or an urgent mark: hence the second rule), not a short
// splice (a pipe out of slots ends it early). At worst a wake-up is spurious: one syscall says
// EAGAIN.
//
// Interest follows the waiters, lazily. A direction whose edge comes with nobody waiting leaves
// the set's interest (one epoll_ctl), and the next wait in that direction puts it back (one
// more); putting it back reports at once a socket that became ready meanwhile. So a bulk source
// that keeps filling while its channel waits for the destination no longer wakes the worker
// per segment, and a message flow, whose waiters are in place when bytes come, pays nothing.
// A socket joins for reading only: writing is asked for by its first writable wait.
//
// One thread: the worker's. Waiters are called from the io_context, never from wait().
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstdint>
#include <vector>

namespace spliceproxy {

class EdgePoller {
 public:
  class Waiter {
   public:
    virtual void on_ready(bool writable) = 0;

   protected:
    ~Waiter() = default;
  };

  // A socket's registration; 0 is never one.
  using Id = std::uint64_t;

  // Returns a poller without a set when epoll_create1 fails; add() then returns 0.
  explicit EdgePoller(boost::asio::io_context& io);
  EdgePoller(const EdgePoller&) = delete;
  EdgePoller& operator=(const EdgePoller&) = delete;

  // Adds a socket (see above for the directions it reports). Returns 0 when the set refuses it: the
  // caller then waits through Asio. Closing the descriptor takes it out of the set; remove()
  // must come first (or the id's waiters may still be called).
  Id add(int fd);
  // Forgets `id`: its waiters are not called again. 0 is ignored.
  void remove(Id id);

  // Registers `waiter` for one wake-up in that direction, once the socket is readable
  // (writable), hung up or in error. Returns false, registering nothing, when an edge in that
  // direction came since the last wait: the caller tries its syscall again instead. For an
  // id removed already, registers nothing and returns true.
  bool wait(Id id, bool writable, Waiter* waiter);
  // Unregisters `waiter` if it waits on `id` in that direction.
  void cancel(Id id, bool writable, Waiter* waiter);

  // Whether the socket's last readable event carried urgent data (EPOLLPRI); no syscall.
  bool urgent(Id id) const;

  std::size_t registered() const { return registered_; }

 private:
  struct Slot {
    std::uint32_t generation = 0;
    bool used = false;
    int fd = -1;
    bool wanted[2] = {true, false};          // [writable]: in the set's interest
    bool urgent = false;                     // EPOLLPRI in the last readable event
    bool edge[2] = {false, false};           // [writable]: an edge no waiter took yet
    Waiter* waiter[2] = {nullptr, nullptr};  // [writable]
  };

  Slot* find(Id id);
  const Slot* find(Id id) const;
  void arm();
  void on_ready_set(const boost::system::error_code& ec);
  void dispatch(Id id, std::uint32_t events);
  bool set_interest(Id id, Slot& slot, const bool (&wanted)[2]) noexcept;
  static void wake(Waiter& waiter, bool writable) noexcept;

  boost::asio::posix::stream_descriptor set_;
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_;
  std::size_t registered_ = 0;
  bool armed_ = false;
};

}  // namespace spliceproxy
