// EdgePoller: the one epoll set a worker blocks in, and readiness of its sockets without an
// epoll_ctl per wait.
//
// Boost.Asio's socket::async_wait re-arms the descriptor (EPOLL_CTL_MOD) on every call, and
// a Channel waits once per message: for small messages that was one syscall in three. The
// poller keeps an epoll set of its own, edge-triggered, to which each socket is added once
// for both directions; a wait then only records who waits. The worker's loop blocks in poll()
// (one epoll_wait per round, with its timers' deadline as the timeout); the loop's own
// descriptors (Asio's reactor, a wake-up eventfd) are in the same set, with a waiter that is
// called on each of their edges (add_own).
//
//   worker loop ──▶ poll(timeout): epoll_wait(set) ──▶ per ready socket: wake its reader
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
// A socket joins for reading (and writing, when added `writable`: a connecting socket); writing
// is otherwise asked for by its first writable wait.
//
// One thread: the worker's. Waiters are called from poll(), never from wait().
#pragma once

#include <cstdint>
#include <vector>

#include "proxy/datapath/unique_fd.hpp"

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

  // Throws std::system_error when epoll_create1 fails (a worker cannot run without its set).
  EdgePoller();
  EdgePoller(const EdgePoller&) = delete;
  EdgePoller& operator=(const EdgePoller&) = delete;

  // Adds a socket (see above for the directions it reports; `writable`: writing too, for a
  // socket whose first wait is for writing, such as a connect). Returns 0 when the set refuses
  // it (out of kernel memory or watches): the caller gives up on that socket. Closing the
  // descriptor takes it out of the set when no other descriptor shares its open file (see
  // remove); remove() must come first (or the id's waiters may still be called).
  Id add(int fd, bool writable = false);
  // Adds a descriptor of the loop's own, edge-triggered for reading: `waiter` is called (with
  // writable false) on each edge, until remove(), without waiting again. The waiter takes what
  // made it readable (reads an eventfd empty; an epoll descriptor's events are taken by its
  // owner), or no edge follows. 0 when refused.
  Id add_own(int fd, Waiter* waiter);

  // Blocks until a registered descriptor is ready or `timeout_ms` passed (-1: no limit, 0: do
  // not block), then wakes the waiters of what is ready. Returns the number of events taken.
  int poll(int timeout_ms);
  // Forgets `id`: its waiters are not called again. 0 is ignored. The descriptor stays in the
  // set until closed, unless `unregister` (one epoll_ctl): needed for a descriptor whose open
  // file lives on elsewhere (a dup, such as a Unix listener's socket shared by the workers).
  void remove(Id id, bool unregister = false);

  // Registers `waiter` for one wake-up in that direction, once the socket is readable
  // (writable), hung up or in error. Returns false, registering nothing, when an edge in that
  // direction came since the last wait: the caller tries its syscall again instead. For an
  // id removed already, registers nothing and returns true.
  bool wait(Id id, bool writable, Waiter* waiter);
  // Unregisters `waiter` if it waits on `id` in that direction.
  void cancel(Id id, bool writable, Waiter* waiter);

  // Whether the socket's last readable event carried urgent data (EPOLLPRI); no syscall.
  bool urgent(Id id) const;

  // Sockets added with add() and not removed yet.
  std::size_t registered() const { return registered_; }

 private:
  struct Slot {
    std::uint32_t generation = 0;
    bool used = false;
    bool own = false;  // add_own(): waiter[0] is called on every event
    int fd = -1;
    bool wanted[2] = {true, false};          // [writable]: in the set's interest
    bool urgent = false;                     // EPOLLPRI in the last readable event
    bool edge[2] = {false, false};           // [writable]: an edge no waiter took yet
    Waiter* waiter[2] = {nullptr, nullptr};  // [writable]
  };

  Slot* find(Id id);
  const Slot* find(Id id) const;
  Id insert(int fd, std::uint32_t events);
  void dispatch(Id id, std::uint32_t events);
  bool set_interest(Id id, Slot& slot, const bool (&wanted)[2]) noexcept;
  static void wake(Waiter& waiter, bool writable) noexcept;

  UniqueFd set_;
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_;
  std::size_t registered_ = 0;
};

}  // namespace spliceproxy
