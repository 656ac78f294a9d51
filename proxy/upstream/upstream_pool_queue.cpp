// UpstreamPool: the queue of clients waiting for a server below its max_connections (HAProxy's
// backend queue); see upstream_pool.hpp.
#include <algorithm>

#include "proxy/upstream/upstream_pool.hpp"

namespace spliceproxy {

// Every enabled server is at its limit (a pool with none enabled is not "full": nothing will
// free, so nobody waits).
bool UpstreamPool::full_locked() const {
  bool any_enabled = false;
  for (const ServerRef& s : servers_) {
    if (s->state != ServerAdminState::enabled) continue;
    any_enabled = true;
    if (s->max_connections == 0 || s->active < s->max_connections) return false;
  }
  return any_enabled;
}

FirstPick UpstreamPool::pick_first(std::uint64_t key, std::uint64_t id, QueueWake wake) {
  const std::lock_guard lock(mutex_);
  const bool wait = !waiters_.empty() || full_locked();
  if (!wait || backend_.max_queued == 0) return {wait ? nullptr : pick_locked(key, {})};
  if (waiters_.size() >= backend_.max_queued) return {nullptr, false, true};
  waiters_.push_back(Waiter{id, key, std::move(wake)});
  serve_queue_locked();  // a slot may be free already (the queue held it for others)
  return {nullptr, true, false};
}

bool UpstreamPool::cancel_wait(std::uint64_t id) {
  const std::lock_guard lock(mutex_);
  const auto it =
      std::find_if(waiters_.begin(), waiters_.end(), [&](const Waiter& w) { return w.id == id; });
  if (it == waiters_.end()) return false;
  waiters_.erase(it);
  return true;
}

std::size_t UpstreamPool::queued() const {
  const std::lock_guard lock(mutex_);
  return waiters_.size();
}

void UpstreamPool::serve_queue_locked() {
  while (!waiters_.empty()) {
    ServerRef server = pick_locked(waiters_.front().key, {});
    if (!server) return;
    Waiter waiter = std::move(waiters_.front());
    waiters_.pop_front();
    waiter.wake(std::move(server));
  }
}

}  // namespace spliceproxy
