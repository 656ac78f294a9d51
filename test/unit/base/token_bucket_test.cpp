// TokenBucket and SharedTokenBucket fed time points: nothing sleeps.
#include "proxy/base/token_bucket.hpp"

#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace spliceproxy {
namespace {

using namespace std::chrono_literals;

const TokenClock::time_point t0 = TokenClock::time_point(1000s);

TEST(TokenBucketTest, StartsFullAndHoldsNoMoreThanTheBurst) {
  TokenBucket bucket({.tokens = 10, .period = 1s, .burst = 5}, t0);
  EXPECT_EQ(bucket.available(t0), 5u);
  EXPECT_EQ(bucket.available(t0 + 1h), 5u);
}

TEST(TokenBucketTest, RefillsAtTheRateAfterTheBurstIsSpent) {
  TokenBucket bucket({.tokens = 10, .period = 1s, .burst = 5}, t0);
  EXPECT_TRUE(bucket.try_take(5, t0));
  EXPECT_FALSE(bucket.try_take(1, t0));
  EXPECT_EQ(bucket.available(t0 + 99ms), 0u);
  EXPECT_EQ(bucket.available(t0 + 100ms), 1u);
  EXPECT_EQ(bucket.available(t0 + 350ms), 3u);
  EXPECT_TRUE(bucket.try_take(3, t0 + 350ms));
  EXPECT_EQ(bucket.available(t0 + 350ms), 0u);
  // The half token earned by 350ms is kept: the next whole one is due at 400ms.
  EXPECT_EQ(bucket.when_available(1), t0 + 400ms);
}

TEST(TokenBucketTest, ForcedTakeGoesIntoDebtThatDelaysTheNextToken) {
  TokenBucket bucket({.tokens = 1000, .period = 1s, .burst = 100}, t0);
  bucket.take(300, t0);  // 200 more than held: 200 ms of debt
  EXPECT_EQ(bucket.available(t0 + 199ms), 0u);
  EXPECT_EQ(bucket.when_available(1), t0 + 201ms);
  EXPECT_EQ(bucket.available(t0 + 300ms), 100u);
}

TEST(TokenBucketTest, SlowRatesPerMinuteAreExact) {
  TokenBucket bucket({.tokens = 10, .period = 1min, .burst = 1}, t0);
  EXPECT_TRUE(bucket.try_take(1, t0));
  EXPECT_EQ(bucket.when_available(1), t0 + 6s);
  EXPECT_FALSE(bucket.try_take(1, t0 + 5999ms));
  EXPECT_TRUE(bucket.try_take(1, t0 + 6s));
}

TEST(TokenBucketTest, ByteRatesOfGigabytesDoNotOverflow) {
  const std::uint64_t gib = std::uint64_t{1} << 30;
  TokenBucket bucket({.tokens = 40 * gib, .period = 1s, .burst = 4 * gib}, t0);
  bucket.take(4 * gib, t0);
  EXPECT_EQ(bucket.available(t0 + 100ms), 4 * gib);
  EXPECT_EQ(bucket.available(t0 + 50ms), 2 * gib);
  EXPECT_EQ(bucket.available(t0 + 24h * 365 * 100), 4 * gib);
}

TEST(TokenBucketTest, AchievedRateOverManySmallTakesIsTheRate) {
  // 1 MB/s in takes of whatever is available every 7 ms, for 10 simulated seconds.
  TokenBucket bucket({.tokens = 1'000'000, .period = 1s, .burst = 65536}, t0);
  bucket.take(65536, t0);
  std::uint64_t taken = 0;
  for (auto now = t0; now < t0 + 10s; now += 7ms) {
    const std::uint64_t n = bucket.available(now);
    bucket.take(n, now);
    taken += n;
  }
  EXPECT_NEAR(static_cast<double>(taken), 10e6, 10e6 * 0.001);
}

TEST(SharedTokenBucketTest, ThreadsTakingTogetherNeverGetMoreThanEarned) {
  SharedTokenBucket bucket({.tokens = 1000, .period = 1s, .burst = 1000}, t0);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      for (int j = 0; j < 1000; ++j)
        bucket.take(1, t0);
    });
  for (auto& thread : threads)
    thread.join();
  // 4000 taken from 1000 held: 3 s of debt, to the nanosecond.
  EXPECT_EQ(bucket.when_available(0), t0 + 3s);
  EXPECT_EQ(bucket.available(t0 + 3s + 500ms), 500u);
}

}  // namespace
}  // namespace spliceproxy
