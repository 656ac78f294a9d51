// ChannelThrottle: allowance, consumption and the refill timer; see channel_throttle.hpp.
#include "proxy/datapath/channel_throttle.hpp"

#include <algorithm>
#include <limits>

namespace spliceproxy {
namespace {

std::uint64_t threshold(const TokenRate& rate, std::uint64_t grant) {
  return std::min(rate.burst, grant);
}

// What a wait waits for: 10 ms of the rate, at least kWakeGrant, at most the burst.
std::uint64_t wake_threshold(const TokenRate& rate) {
  const std::uint64_t ten_ms = rate.earned(std::chrono::milliseconds(10));
  return threshold(rate, std::max(ChannelThrottle::kWakeGrant, ten_ms));
}

}  // namespace

TokenRate ChannelThrottle::byte_rate(std::uint64_t bytes_per_second) {
  return {.tokens = bytes_per_second,
          .period = std::chrono::seconds(1),
          .burst = std::max<std::uint64_t>(bytes_per_second / 10, 64 * 1024)};
}

ChannelThrottle::ChannelThrottle(TimerQueue& timers, std::optional<TokenRate> own,
                                 std::shared_ptr<SharedTokenBucket> shared, Stats& stats)
    : shared_(std::move(shared)), stats_(stats), timer_(timers, [this] {
        note_waited();
        resume_();  // may destroy this throttle: nothing follows
      }) {
  if (own) own_.emplace(*own, TokenClock::now());
}

std::size_t ChannelThrottle::allowance() {
  now_ = TokenClock::now();
  std::uint64_t tokens = std::numeric_limits<std::size_t>::max();
  if (own_) {
    const std::uint64_t held = own_->available(now_);
    if (held < threshold(own_->rate(), kMinGrant)) return 0;
    tokens = held;
  }
  if (shared_) {
    const std::uint64_t held = shared_->available(now_);
    if (held < threshold(shared_->rate(), kMinGrant)) return 0;
    tokens = std::min(tokens, held);
  }
  return static_cast<std::size_t>(tokens);
}

void ChannelThrottle::consume(std::size_t bytes) {
  if (own_) own_->take(bytes, now_);
  if (shared_) shared_->take(bytes, now_);
}

// The later of the two buckets' refills.
TokenClock::time_point ChannelThrottle::refill_at() const {
  TokenClock::time_point at{};
  if (own_) at = own_->when_available(wake_threshold(own_->rate()));
  if (shared_) at = std::max(at, shared_->when_available(wake_threshold(shared_->rate())));
  return at;
}

void ChannelThrottle::note_waited() {
  const auto waited = TokenClock::now() - waiting_since_;
  stats_.add(Counter::bandwidth_wait_microseconds_total,
             static_cast<std::uint64_t>(
                 std::chrono::duration_cast<std::chrono::microseconds>(waited).count()));
}

}  // namespace spliceproxy
