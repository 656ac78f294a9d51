// TimerQueue: the deadlines of a worker's loop, without a syscall per timer.
//
// A Timer is armed to a deadline and calls its callback once that passes; re-arming moves it,
// cancelling takes it out. The queue is a binary min-heap of the armed timers, each timer
// knowing its place in it, so arming, moving and cancelling cost O(log n) and never allocate
// once the heap has grown. The worker's loop blocks in epoll_wait no longer than until the
// earliest deadline (timeout()), then runs what is due (run_expired()): one wait covers every
// socket and every deadline of the worker.
//
//   Timer::arm(t) ──▶ heap ──timeout()──▶ epoll_wait(…, ms) ──▶ run_expired(now) ──▶ callback
//
// One thread: the worker's. A callback may arm, cancel or destroy any timer, its own included.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <vector>

namespace spliceproxy {

class Timer;

class TimerQueue {
 public:
  using Clock = std::chrono::steady_clock;

  TimerQueue() = default;
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  // Milliseconds until the earliest deadline, rounded up (a wait never ends before it), 0 if
  // one is due, -1 with no timer armed; at most `limit` when that is not negative.
  int timeout(Clock::time_point now, int limit = -1) const;
  // Runs the callback of every timer due at `now`, earliest first; returns how many ran.
  // Timers armed by a callback to `now` or earlier run in the next call, not this one; a due
  // timer that an earlier callback cancels, re-arms or destroys does not run.
  std::size_t run_expired(Clock::time_point now);

  std::size_t size() const { return heap_.size(); }

 private:
  friend class Timer;
  void push(Timer* timer);
  void erase(Timer* timer);
  void moved(Timer* timer);  // its deadline changed
  void sift_up(std::size_t at);
  void sift_down(std::size_t at);
  void place(std::size_t at, Timer* timer);

  std::vector<Timer*> heap_;
  std::vector<Timer*> firing_;  // run_expired()'s due timers; null once cancelled or re-armed
};

class Timer {
 public:
  using Clock = TimerQueue::Clock;

  Timer(TimerQueue& queue, std::function<void()> callback)
      : queue_(queue), callback_(std::move(callback)) {}
  ~Timer() { cancel(); }
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // Calls the callback once `deadline` passed (replacing a deadline set before).
  void arm(Clock::time_point deadline);
  // Takes the timer out; its callback is not called. Idempotent.
  void cancel();
  bool armed() const { return index_ != kNotArmed; }
  Clock::time_point deadline() const { return deadline_; }

 private:
  friend class TimerQueue;
  static constexpr std::size_t kNotArmed = static_cast<std::size_t>(-1);

  void drop_firing();  // takes the timer out of a run_expired() in progress

  TimerQueue& queue_;
  std::function<void()> callback_;
  Clock::time_point deadline_{};
  std::size_t index_ = kNotArmed;  // place in the queue's heap
  std::size_t firing_ = 0;         // 1 + place in the queue's firing_, while due to run
};

}  // namespace spliceproxy
