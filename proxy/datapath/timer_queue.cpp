// TimerQueue: the heap and the wait's timeout (see timer_queue.hpp).
#include "proxy/datapath/timer_queue.hpp"

#include <limits>

namespace spliceproxy {

int TimerQueue::timeout(Clock::time_point now, int limit) const {
  if (heap_.empty()) return limit;
  const Clock::time_point due = heap_.front()->deadline_;
  if (due <= now) return 0;
  using namespace std::chrono;
  // Rounded up: a wait that ended a little early would find nothing due and spin once more.
  const auto ms = duration_cast<milliseconds>(due - now + milliseconds(1) - nanoseconds(1)).count();
  const long long cap = limit < 0 ? std::numeric_limits<int>::max() : limit;
  return static_cast<int>(ms < cap ? ms : cap);
}

std::size_t TimerQueue::run_expired(Clock::time_point now) {
  // The due timers leave the heap first, so that one a callback re-arms to `now` runs in the
  // next call, not in a loop here; one a callback cancels, re-arms or destroys before its turn
  // does not run.
  while (!heap_.empty() && heap_.front()->deadline_ <= now) {
    Timer* timer = heap_.front();
    erase(timer);
    firing_.push_back(timer);
    timer->firing_ = firing_.size();
  }
  std::size_t ran = 0;
  std::size_t i = 0;
  try {
    for (; i < firing_.size(); ++i) {
      Timer* timer = firing_[i];
      if (!timer) continue;
      timer->firing_ = 0;
      ++ran;
      timer->callback_();  // may destroy `timer`, or others of firing_ (which null their place)
    }
  } catch (...) {
    // A callback threw (bad_alloc): the due timers after it stay due, for the next call.
    for (++i; i < firing_.size(); ++i) {
      if (Timer* timer = firing_[i]) {
        timer->firing_ = 0;
        push(timer);
      }
    }
    firing_.clear();
    throw;
  }
  firing_.clear();
  return ran;
}

void TimerQueue::push(Timer* timer) {
  heap_.push_back(timer);
  timer->index_ = heap_.size() - 1;
  sift_up(timer->index_);
}

void TimerQueue::erase(Timer* timer) {
  const std::size_t at = timer->index_;
  timer->index_ = Timer::kNotArmed;
  Timer* last = heap_.back();
  heap_.pop_back();
  if (last == timer) return;
  place(at, last);
  sift_up(at);
  sift_down(last->index_);
}

void TimerQueue::moved(Timer* timer) {
  sift_up(timer->index_);
  sift_down(timer->index_);
}

void TimerQueue::sift_up(std::size_t at) {
  Timer* timer = heap_[at];
  while (at > 0) {
    const std::size_t parent = (at - 1) / 2;
    if (heap_[parent]->deadline_ <= timer->deadline_) break;
    place(at, heap_[parent]);
    at = parent;
  }
  place(at, timer);
}

void TimerQueue::sift_down(std::size_t at) {
  Timer* timer = heap_[at];
  for (;;) {
    std::size_t child = 2 * at + 1;
    if (child >= heap_.size()) break;
    if (child + 1 < heap_.size() && heap_[child + 1]->deadline_ < heap_[child]->deadline_) ++child;
    if (timer->deadline_ <= heap_[child]->deadline_) break;
    place(at, heap_[child]);
    at = child;
  }
  place(at, timer);
}

void TimerQueue::place(std::size_t at, Timer* timer) {
  heap_[at] = timer;
  timer->index_ = at;
}

void Timer::arm(Clock::time_point deadline) {
  drop_firing();
  deadline_ = deadline;
  if (armed()) {
    queue_.moved(this);
  } else {
    queue_.push(this);
  }
}

void Timer::cancel() {
  drop_firing();
  if (armed()) queue_.erase(this);
}

void Timer::drop_firing() {
  if (firing_ == 0) return;
  queue_.firing_[firing_ - 1] = nullptr;
  firing_ = 0;
}

}  // namespace spliceproxy
