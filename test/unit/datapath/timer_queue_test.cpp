// TimerQueue: deadlines come due in order, re-arming moves a timer, cancelling and destroying
// take it out, and the loop's timeout never ends a wait before the earliest deadline.
#include "proxy/datapath/timer_queue.hpp"

#include <algorithm>
#include <memory>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace spliceproxy {
namespace {

using namespace std::chrono_literals;
using Clock = TimerQueue::Clock;

TEST(TimerQueue, RunsDueTimersEarliestFirstAndLeavesTheRest) {
  TimerQueue queue;
  std::vector<int> ran;
  const Clock::time_point t0 = Clock::now();
  std::vector<std::unique_ptr<Timer>> timers;
  for (int i = 0; i < 5; ++i)
    timers.push_back(std::make_unique<Timer>(queue, [&ran, i] { ran.push_back(i); }));
  timers[3]->arm(t0 + 10ms);
  timers[1]->arm(t0 + 30ms);
  timers[4]->arm(t0 + 20ms);
  timers[0]->arm(t0 + 50ms);
  timers[2]->arm(t0 + 40ms);
  EXPECT_EQ(queue.run_expired(t0 + 25ms), 2u);
  EXPECT_EQ(ran, (std::vector<int>{3, 4}));
  EXPECT_FALSE(timers[3]->armed());
  EXPECT_TRUE(timers[1]->armed());
  EXPECT_EQ(queue.size(), 3u);
  EXPECT_EQ(queue.run_expired(t0 + 1h), 3u);
  EXPECT_EQ(ran, (std::vector<int>{3, 4, 1, 2, 0}));
  EXPECT_EQ(queue.size(), 0u);
}

TEST(TimerQueue, RearmingMovesCancellingAndDestroyingRemove) {
  TimerQueue queue;
  int a = 0;
  int b = 0;
  const Clock::time_point t0 = Clock::now();
  Timer first(queue, [&] { ++a; });
  {
    Timer gone(queue, [&] { ++b; });
    gone.arm(t0 + 1ms);
    first.arm(t0 + 2ms);
  }  // destroyed while armed: out of the queue
  EXPECT_EQ(queue.size(), 1u);
  first.arm(t0 + 1h);  // moved later
  EXPECT_EQ(queue.run_expired(t0 + 1s), 0u);
  first.cancel();
  first.cancel();  // idempotent
  EXPECT_EQ(queue.run_expired(t0 + 2h), 0u);
  EXPECT_EQ(a + b, 0);
  first.arm(t0);
  EXPECT_EQ(queue.run_expired(t0), 1u);
  EXPECT_EQ(a, 1);
}

TEST(TimerQueue, TimeoutRoundsUpAndIsCappedByTheLimit) {
  TimerQueue queue;
  const Clock::time_point t0 = Clock::now();
  EXPECT_EQ(queue.timeout(t0), -1) << "no timer: block without limit";
  EXPECT_EQ(queue.timeout(t0, 100), 100);
  Timer timer(queue, [] {});
  timer.arm(t0 + 2500us);
  EXPECT_EQ(queue.timeout(t0), 3) << "2.5 ms rounds up: a wait never ends before the deadline";
  EXPECT_EQ(queue.timeout(t0, 1), 1);
  EXPECT_EQ(queue.timeout(t0 + 3ms), 0) << "due: do not block";
  timer.arm(t0 + 2ms);
  EXPECT_EQ(queue.timeout(t0), 2);
}

TEST(TimerQueue, CallbackMayRearmOrDestroyTimersIncludingItsOwn) {
  TimerQueue queue;
  const Clock::time_point t0 = Clock::now();
  int rearmed_runs = 0;
  int victim_runs = 0;
  int own_runs = 0;
  std::unique_ptr<Timer> victim;
  std::unique_ptr<Timer> own;
  Timer rearming(queue, [&] {
    ++rearmed_runs;
    rearming.arm(t0);  // due again at once: runs in the next call, not in a loop in this one
  });
  Timer killer(queue, [&] { victim.reset(); });
  victim = std::make_unique<Timer>(queue, [&] { ++victim_runs; });
  own = std::make_unique<Timer>(queue, [&] {
    ++own_runs;
    own.reset();  // destroys the timer whose callback runs
  });
  rearming.arm(t0);
  killer.arm(t0);
  victim.get()->arm(t0 + 1ms);  // due, but after the killer
  own->arm(t0);
  queue.run_expired(t0 + 1ms);
  EXPECT_EQ(rearmed_runs, 1);
  EXPECT_EQ(victim_runs, 0) << "a timer destroyed by an earlier callback never runs";
  EXPECT_EQ(own_runs, 1);
  EXPECT_EQ(own, nullptr);
  EXPECT_EQ(queue.size(), 1u) << "only the re-armed timer is left";
  EXPECT_EQ(queue.run_expired(t0 + 1ms), 1u);
  EXPECT_EQ(rearmed_runs, 2);
}

// Many timers armed, moved and cancelled at random come due in deadline order, each once.
TEST(TimerQueue, RandomArmsMovesAndCancelsComeDueInOrder) {
  TimerQueue queue;
  const Clock::time_point t0 = Clock::now();
  std::vector<Clock::time_point> fired;
  std::vector<std::unique_ptr<Timer>> timers;
  std::mt19937 random(7);
  for (int i = 0; i < 500; ++i) {
    auto timer = std::make_unique<Timer>(queue, [&fired, &timers, i] {
      fired.push_back(timers[static_cast<std::size_t>(i)]->deadline());
    });
    timers.push_back(std::move(timer));
  }
  std::size_t armed = 0;
  for (int step = 0; step < 5000; ++step) {
    Timer& timer = *timers[random() % timers.size()];
    if (random() % 4 == 0) {
      timer.cancel();
    } else {
      timer.arm(t0 + std::chrono::microseconds(random() % 100'000));
    }
  }
  for (const auto& timer : timers)
    armed += timer->armed() ? 1 : 0;
  EXPECT_EQ(queue.size(), armed);
  EXPECT_EQ(queue.run_expired(t0 + 1s), armed);
  EXPECT_EQ(fired.size(), armed);
  EXPECT_TRUE(std::is_sorted(fired.begin(), fired.end()));
  EXPECT_EQ(queue.size(), 0u);
}

}  // namespace
}  // namespace spliceproxy
