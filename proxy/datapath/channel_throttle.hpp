// ChannelThrottle: the bandwidth cap of one channel — the session's own cap for its direction,
// the listener's cap shared by all its sessions, or both.
//
//   pump ──allowance()──▶ read at most that many bytes ──consume(n)──▶ buckets
//     │ allowance 0 and nothing buffered
//     ▼
//   wait(resume): one timer, due when tokens are back ──▶ resume() ──▶ pump
//
// The cap bounds the length of each read (splice or recv), so the pipe path stays the pipe
// path and every byte read is written, once; writing out what was read takes no token. With
// no token a channel waits on this timer, never in a loop: a read needs at least kMinGrant
// tokens (or the whole burst, if smaller), and the timer is due when 10 ms of the rate (at
// least kWakeGrant) are back, so a capped bulk flow reads in large chunks and wakes at most
// 100 times a second (more only under 12.5 MiB/s, where a wake moves 128 KiB).
// An uncapped channel has no throttle: its cost is one null test per read.
//
// The session's bucket is the channel's own; the listener's is a SharedTokenBucket that every
// worker takes from with one compare-and-swap per read (no lock, no per-worker share to
// rebalance). Reads that race past the shared cap leave it in debt, which the next waits pay.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "proxy/base/stats.hpp"
#include "proxy/base/token_bucket.hpp"
#include "proxy/datapath/timer_queue.hpp"

namespace spliceproxy {

class ChannelThrottle {
 public:
  // The fewest tokens a read waits for (when the burst allows as many).
  static constexpr std::uint64_t kMinGrant = 16 * 1024;
  // Tokens a wait waits for: 10 ms of the rate, at least this (and at most the burst).
  static constexpr std::uint64_t kWakeGrant = 128 * 1024;

  // A byte rate as a bucket: `bytes_per_second`, with a burst of 100 ms of it, at least
  // 64 KiB.
  static TokenRate byte_rate(std::uint64_t bytes_per_second);

  // `own`: the session's cap in this direction (nullopt: none); `shared`: the listener's
  // (null: none). At least one is given.
  ChannelThrottle(TimerQueue& timers, std::optional<TokenRate> own,
                  std::shared_ptr<SharedTokenBucket> shared, Stats& stats);

  // Bytes the next read may take now: 0 when fewer than the minimum grant are held.
  std::size_t allowance();
  // Counts `bytes` read (from the time allowance() last read the clock).
  void consume(std::size_t bytes);
  // Calls `resume()` once tokens are back (not if cancel() came first). One wait at a time.
  void wait(std::function<void()> resume) {
    resume_ = std::move(resume);
    timer_.arm(refill_at());
    stats_.add(Counter::bandwidth_waits_total);
    waiting_since_ = TokenClock::now();
  }
  void cancel() { timer_.cancel(); }

 private:
  TokenClock::time_point refill_at() const;
  void note_waited();

  std::optional<TokenBucket> own_;
  std::shared_ptr<SharedTokenBucket> shared_;
  Stats& stats_;
  std::function<void()> resume_;
  Timer timer_;  // runs note_waited() and resume_; destroyed (cancelled) with the throttle
  TokenClock::time_point now_{};  // read by allowance(), used by consume()
  TokenClock::time_point waiting_since_{};
};

}  // namespace spliceproxy
