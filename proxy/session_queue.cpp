// Session, waiting for a server: the backend's queue when every server is at its
// max_connections (timeouts.queue, backends[].max_queued), and the lifetime cap
// (timeouts.max_lifetime with its jitter). See session.hpp.
#include <random>

#include "proxy/session.hpp"
#include "proxy/upstream/upstream_pool.hpp"
#include "proxy/worker.hpp"

namespace spliceproxy {

FirstPick Session::pick_first() {
  // The pool calls this with its mutex held, on whichever thread freed the slot: post only.
  auto wake = [self = shared_from_this(), worker = &worker_](ServerRef server) {
    worker->post(
        [self, server = std::move(server)]() mutable { self->on_queue_slot(std::move(server)); });
  };
  return route_.pool->pick_first(route_.source_key, id_, std::move(wake));
}

void Session::wait_in_queue() {
  queued_ = true;
  queued_at_ = Clock::now();
  worker_.stats().add(Counter::queue_entered_total);
  arm_timer(queued_at_ + listener_.timeouts.queue);
}

// A server was picked for this session while it waited. A session that ended meanwhile
// gives it back.
void Session::on_queue_slot(ServerRef server) {
  if (stopped_ || !queued_) return route_.pool->release(server);
  leave_queue();
  connect_to(std::move(server));
}

void Session::leave_queue() {
  queued_ = false;
  const auto waited =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - queued_at_);
  worker_.stats().add(Counter::queue_wait_milliseconds_total,
                      static_cast<std::uint64_t>(waited.count()));
}

// The queue timeout passed. A server handed over already (its post is on the way) wins.
void Session::on_queue_timeout() {
  if (!route_.pool->cancel_wait(id_)) return;
  leave_queue();
  stop(CloseReason::queue_timeout);
}

// When the session must end at the latest: its start plus max_lifetime plus a random share of
// the jitter (so that clients of one pool change do not all reconnect at once); never without
// a max_lifetime.
Clock::time_point Session::lifetime_deadline() const {
  const auto& timeouts = listener_.timeouts;
  if (timeouts.max_lifetime.count() == 0) return Clock::time_point::max();
  thread_local std::minstd_rand random(std::random_device{}());
  std::uniform_int_distribution<long long> jitter(0, timeouts.max_lifetime_jitter.count());
  return started_ + timeouts.max_lifetime + config::Duration(jitter(random));
}

}  // namespace spliceproxy
