// EdgePoller: the set, the slots and the dispatch of one batch of events.
#include "proxy/datapath/edge_poller.hpp"

#include <sys/epoll.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <system_error>
#include <utility>

#include "proxy/base/log.hpp"

namespace spliceproxy {
namespace {

// Events taken per round; more stay in the set for the next round.
constexpr int kBatch = 256;

// What each direction asks the set for; hang-up and error come regardless.
constexpr std::uint32_t kInterest[2] = {EPOLLIN | EPOLLPRI | EPOLLRDHUP, EPOLLOUT};
constexpr std::uint32_t kReadable = EPOLLIN | EPOLLPRI | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
constexpr std::uint32_t kWritable = EPOLLOUT | EPOLLHUP | EPOLLERR;
// Edges that stay noted after waking a waiter, per direction: no edge follows them, and the
// waiter's next syscall may still succeed (a short read before a FIN, or before an urgent mark,
// where recv stops although bytes follow).
constexpr std::uint32_t kSticky[2] = {EPOLLPRI | EPOLLRDHUP | EPOLLHUP | EPOLLERR,
                                      EPOLLHUP | EPOLLERR};

std::uint32_t slot_of(EdgePoller::Id id) {
  return static_cast<std::uint32_t>(id) - 1;
}

}  // namespace

EdgePoller::EdgePoller() : set_(::epoll_create1(EPOLL_CLOEXEC)) {
  if (!set_) throw std::system_error(errno, std::generic_category(), "epoll_create1");
}

EdgePoller::Id EdgePoller::add(int fd, bool writable) {
  const Id id = insert(fd, kInterest[0] | (writable ? kInterest[1] : 0) | EPOLLET);
  if (id == 0) return 0;
  Slot& s = slots_[slot_of(id)];
  s.wanted[1] = writable;
  ++registered_;
  return id;
}

EdgePoller::Id EdgePoller::add_own(int fd, Waiter* waiter) {
  const Id id = insert(fd, EPOLLIN | EPOLLET);
  if (id == 0) return 0;
  Slot& s = slots_[slot_of(id)];
  s.own = true;
  s.waiter[0] = waiter;
  return id;
}

// Takes a free slot and adds `fd` to the set under its id; 0 when the set refuses.
EdgePoller::Id EdgePoller::insert(int fd, std::uint32_t events) {
  std::uint32_t slot;
  if (free_.empty()) {
    slot = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
    free_.reserve(slots_.capacity());  // remove() then never allocates
  } else {
    slot = free_.back();
    free_.pop_back();
  }
  Slot& s = slots_[slot];
  const Id id = (static_cast<Id>(s.generation) << 32) | (slot + 1);
  epoll_event event{};
  event.events = events;
  event.data.u64 = id;
  if (::epoll_ctl(set_.get(), EPOLL_CTL_ADD, fd, &event) != 0) {
    free_.push_back(slot);
    return 0;
  }
  s = Slot{s.generation};
  s.used = true;
  s.fd = fd;
  return id;
}

void EdgePoller::remove(Id id, bool unregister) {
  Slot* s = find(id);
  if (!s) return;
  // The loop's own descriptors may outlive this call: they leave the set now.
  if (unregister || s->own) ::epoll_ctl(set_.get(), EPOLL_CTL_DEL, s->fd, nullptr);
  if (!s->own) --registered_;
  *s = Slot{s->generation + 1};
  free_.push_back(slot_of(id));
}

bool EdgePoller::wait(Id id, bool writable, Waiter* waiter) {
  Slot* s = find(id);
  if (!s) return true;  // a forgotten socket: its waiter is never called (and never spins)
  if (std::exchange(s->edge[writable], false)) return false;
  s->waiter[writable] = waiter;
  if (!s->wanted[writable]) {
    bool wanted[2] = {s->wanted[0], s->wanted[1]};
    wanted[writable] = true;
    // EPOLL_CTL_MOD allocates nothing: it fails only for a descriptor that left the set
    // (closed before remove(), a bug), which set_interest logs.
    set_interest(id, *s, wanted);
  }
  return true;
}

void EdgePoller::cancel(Id id, bool writable, Waiter* waiter) {
  Slot* s = find(id);
  if (s && s->waiter[writable] == waiter) s->waiter[writable] = nullptr;
}

EdgePoller::Slot* EdgePoller::find(Id id) {
  return const_cast<Slot*>(std::as_const(*this).find(id));
}

const EdgePoller::Slot* EdgePoller::find(Id id) const {
  const std::uint32_t slot = slot_of(id);
  if (id == 0 || slot >= slots_.size()) return nullptr;
  const Slot& s = slots_[slot];
  return s.used && s.generation == static_cast<std::uint32_t>(id >> 32) ? &s : nullptr;
}

bool EdgePoller::urgent(Id id) const {
  const Slot* s = find(id);
  return s && s->urgent;
}

int EdgePoller::poll(int timeout_ms) {
  epoll_event events[kBatch];
  const int n = ::epoll_wait(set_.get(), events, kBatch, timeout_ms);
  for (int i = 0; i < n; ++i)
    dispatch(events[i].data.u64, events[i].events);
  return n < 0 ? 0 : n;  // EINTR: the loop comes back at once
}

// Wakes the socket's reader and writer the event concerns, or notes the edge for the next
// wait. A waiter may remove this id or others (its session ended), or wait again: every step
// looks the slot up, and a direction leaves the interest only if nobody waits on it by the end.
void EdgePoller::dispatch(Id id, std::uint32_t events) {
  if (Slot* own = find(id); own && own->own) return wake(*own->waiter[0], false);
  bool unwaited[2] = {false, false};
  for (const bool writable : {false, true}) {
    if (!(events & (writable ? kWritable : kReadable))) continue;
    Slot* s = find(id);
    if (!s) return;
    if (!writable) s->urgent = (events & EPOLLPRI) != 0;
    Waiter* waiter = std::exchange(s->waiter[writable], nullptr);
    s->edge[writable] = !waiter || (events & kSticky[writable]);
    if (waiter) {
      wake(*waiter, writable);
    } else {
      unwaited[writable] = true;
    }
  }
  Slot* s = find(id);
  if (!s) return;
  bool wanted[2] = {s->wanted[0], s->wanted[1]};
  for (const bool writable : {false, true}) {
    if (unwaited[writable] && !s->waiter[writable]) wanted[writable] = false;
  }
  if (wanted[0] != s->wanted[0] || wanted[1] != s->wanted[1]) set_interest(id, *s, wanted);
}

// Sets the directions the set reports for a socket (hang-up and error come regardless). A
// direction taken out while nobody waits no longer wakes the worker (a bulk source filling up
// while its channel waits for the destination); put back, it reports at once if the socket
// became ready meanwhile. Returns false, keeping the interest it had, when the set refuses.
bool EdgePoller::set_interest(Id id, Slot& slot, const bool (&wanted)[2]) noexcept {
  epoll_event event{};
  event.events = EPOLLET;
  for (const bool writable : {false, true}) {
    if (wanted[writable]) event.events |= kInterest[writable];
  }
  event.data.u64 = id;
  if (::epoll_ctl(set_.get(), EPOLL_CTL_MOD, slot.fd, &event) != 0) {
    const int error = errno;
    try {
      log::error("the forwarding poller could not update a socket: {}", std::strerror(error));
    } catch (...) {
    }
    return false;
  }
  slot.wanted[0] = wanted[0];
  slot.wanted[1] = wanted[1];
  return true;
}

// A waiter that throws (bad_alloc) costs its own session at most: the rest of the batch holds
// edges no later round reports again, so nothing may escape into the worker's loop.
void EdgePoller::wake(Waiter& waiter, bool writable) noexcept {
  try {
    waiter.on_ready(writable);
  } catch (const std::exception& error) {
    try {
      log::error("a forwarding handler failed: {}", error.what());
    } catch (...) {
    }
  } catch (...) {
  }
}

}  // namespace spliceproxy
