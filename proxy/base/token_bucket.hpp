// TokenBucket: a rate and a burst, as a generic cell rate algorithm (GCRA). The whole state is
// one time point, `empty_at`: the moment the bucket was (or will be) empty. At `now` it holds
// (now - empty_at) × rate tokens, at most `burst`; taking n tokens moves empty_at on by n / rate.
// Because the state is one 64-bit number, the same arithmetic serves a bucket of one thread
// (TokenBucket) and a bucket shared by threads without a lock (SharedTokenBucket: one
// compare-and-swap per take).
//
// Pure: the caller passes the time (tests feed time points, nothing sleeps). Rates are
// `tokens` per `period`, so 10 connections a minute and 10 GiB a second are both exact; the
// arithmetic is 128-bit, so no product overflows. Tokens are connections or bytes.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace spliceproxy {

// What a bucket fills at and holds. `tokens == 0` is "no limit": such a rate is never used
// to build a bucket.
struct TokenRate {
  std::uint64_t tokens = 0;
  std::chrono::nanoseconds period = std::chrono::seconds(1);
  std::uint64_t burst = 0;  // the most a full bucket holds; at least 1

  // The time it takes to earn `n` tokens, rounded up.
  std::chrono::nanoseconds cost(std::uint64_t n) const;
  // Tokens earned in `elapsed`, rounded down, at most `burst`.
  std::uint64_t earned(std::chrono::nanoseconds elapsed) const;
};

using TokenClock = std::chrono::steady_clock;

// A bucket used by one thread at a time. Starts full.
class TokenBucket {
 public:
  TokenBucket(const TokenRate& rate, TokenClock::time_point now);

  const TokenRate& rate() const { return rate_; }
  // Tokens held at `now`.
  std::uint64_t available(TokenClock::time_point now) const;
  // Takes `n` tokens if the bucket holds them; false (taking nothing) otherwise.
  bool try_take(std::uint64_t n, TokenClock::time_point now);
  // Takes `n` tokens whether held or not: a bucket in debt refills the debt first. For bytes
  // already moved, and for callers that let a few takers race past the limit.
  void take(std::uint64_t n, TokenClock::time_point now);
  // When the bucket will hold `n` tokens (n at most burst): `now` or earlier if it does.
  TokenClock::time_point when_available(std::uint64_t n) const;

 private:
  TokenRate rate_;
  std::int64_t empty_at_;  // ns since the clock's epoch
};

// The same bucket shared by threads, lock-free: each take is one compare-and-swap on
// empty_at. Used where workers share a cap (a listener's bandwidth).
class SharedTokenBucket {
 public:
  SharedTokenBucket(const TokenRate& rate, TokenClock::time_point now);

  const TokenRate& rate() const { return rate_; }
  std::uint64_t available(TokenClock::time_point now) const;
  void take(std::uint64_t n, TokenClock::time_point now);
  TokenClock::time_point when_available(std::uint64_t n) const;

 private:
  const TokenRate rate_;
  std::atomic<std::int64_t> empty_at_;
};

}  // namespace spliceproxy
