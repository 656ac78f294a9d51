// TokenBucket: the GCRA arithmetic; see token_bucket.hpp.
#include "proxy/base/token_bucket.hpp"

#include <algorithm>

namespace spliceproxy {
namespace {

using Wide = unsigned __int128;

std::int64_t ns(TokenClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

TokenClock::time_point at(std::int64_t ns) {
  return TokenClock::time_point(
      std::chrono::duration_cast<TokenClock::duration>(std::chrono::nanoseconds(ns)));
}

std::uint64_t tokens_at(const TokenRate& rate, std::int64_t empty_at, std::int64_t now) {
  return now <= empty_at ? 0 : rate.earned(std::chrono::nanoseconds(now - empty_at));
}

// empty_at after taking `n` tokens at `now`: a full bucket's empty_at is now - cost(burst);
// older values would count tokens past the burst.
std::int64_t after_take(const TokenRate& rate, std::int64_t empty_at, std::uint64_t n,
                        std::int64_t now) {
  const std::int64_t full_since = now - rate.cost(rate.burst).count();
  return std::max(empty_at, full_since) + rate.cost(n).count();
}

}  // namespace

std::chrono::nanoseconds TokenRate::cost(std::uint64_t n) const {
  const Wide product = Wide{n} * static_cast<Wide>(period.count());
  const Wide rounded_up = (product + tokens - 1) / tokens;
  constexpr Wide kMax = Wide{1} << 62;  // about 146 years: a cost never overflows a time
  return std::chrono::nanoseconds(static_cast<std::int64_t>(std::min(rounded_up, kMax)));
}

std::uint64_t TokenRate::earned(std::chrono::nanoseconds elapsed) const {
  const Wide product = static_cast<Wide>(elapsed.count()) * tokens;
  const Wide whole = product / static_cast<Wide>(period.count());
  return whole >= burst ? burst : static_cast<std::uint64_t>(whole);
}

TokenBucket::TokenBucket(const TokenRate& rate, TokenClock::time_point now)
    : rate_(rate), empty_at_(ns(now) - rate.cost(rate.burst).count()) {}

std::uint64_t TokenBucket::available(TokenClock::time_point now) const {
  return tokens_at(rate_, empty_at_, ns(now));
}

bool TokenBucket::try_take(std::uint64_t n, TokenClock::time_point now) {
  if (available(now) < n) return false;
  take(n, now);
  return true;
}

void TokenBucket::take(std::uint64_t n, TokenClock::time_point now) {
  empty_at_ = after_take(rate_, empty_at_, n, ns(now));
}

TokenClock::time_point TokenBucket::when_available(std::uint64_t n) const {
  return at(empty_at_ + rate_.cost(n).count());
}

SharedTokenBucket::SharedTokenBucket(const TokenRate& rate, TokenClock::time_point now)
    : rate_(rate), empty_at_(ns(now) - rate.cost(rate.burst).count()) {}

std::uint64_t SharedTokenBucket::available(TokenClock::time_point now) const {
  return tokens_at(rate_, empty_at_.load(std::memory_order_relaxed), ns(now));
}

void SharedTokenBucket::take(std::uint64_t n, TokenClock::time_point now) {
  std::int64_t seen = empty_at_.load(std::memory_order_relaxed);
  while (!empty_at_.compare_exchange_weak(seen, after_take(rate_, seen, n, ns(now)),
                                          std::memory_order_relaxed)) {
  }
}

TokenClock::time_point SharedTokenBucket::when_available(std::uint64_t n) const {
  return at(empty_at_.load(std::memory_order_relaxed) + rate_.cost(n).count());
}

}  // namespace spliceproxy
