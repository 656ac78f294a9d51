// Worker: thread, session registry, acceptors.
#include "proxy/worker.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <boost/asio/detail/reactor.hpp>
#include <cerrno>
#include <exception>
#include <system_error>
#include <type_traits>
#include <vector>

#include "proxy/base/log.hpp"
#include "proxy/listener.hpp"
#include "proxy/session.hpp"

namespace spliceproxy {
namespace {

// The epoll descriptor of an io_context's reactor, for the worker's set. Asio keeps it private
// and offers no way to wait on it: an explicit instantiation may name a private member (C++20
// [temp.spec.general]/6), which this template hands out through a friend function.
using Reactor = boost::asio::detail::reactor;
static_assert(std::is_same_v<Reactor, boost::asio::detail::epoll_reactor>,
              "the worker's loop waits on the epoll reactor's descriptor");

int& reactor_fd(Reactor& reactor);

template <int Reactor::*Member>
struct ReactorFdAccess {
  friend int& reactor_fd(Reactor& reactor) { return reactor.*Member; }
};
template struct ReactorFdAccess<&Reactor::epoll_fd_>;

// The worker whose loop runs on this thread (null on other threads).
thread_local Worker* current_worker = nullptr;

}  // namespace

Worker::Worker(unsigned index, unsigned count, const config::SpliceSettings& splice,
               MirrorSet* mirrors, std::chrono::microseconds busy_poll)
    : index_(index),
      count_(count),
      mirrors_(mirrors),
      pipes_(splice.pipe_size, kMaxIdlePipes, stats_),
      busy_poll_(busy_poll),
      wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      guard_(io_.get_executor()) {
  if (!wake_fd_) throw std::system_error(errno, std::generic_category(), "eventfd");
  asio_waiter_.worker = wake_waiter_.worker = this;
  wake_waiter_.wake = true;
  const int asio_fd = reactor_fd(boost::asio::use_service<Reactor>(io_));
  if (poller_.add_own(asio_fd, &asio_waiter_) == 0 ||
      poller_.add_own(wake_fd_.get(), &wake_waiter_) == 0)
    throw std::system_error(errno, std::generic_category(), "epoll_ctl");
}

Worker::~Worker() {
  join();
}

void Worker::start(std::function<void()> on_stopped) {
  thread_ = std::thread([this, on_stopped = std::move(on_stopped)] {
    current_worker = this;
    run();
    on_stopped();
  });
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::wake() {
  if (current_worker == this) {
    asio_pending_ = true;
    return;
  }
  const std::uint64_t one = 1;
  // Fails only when the counter would overflow: the loop has a wake-up pending then anyway.
  [[maybe_unused]] const ssize_t n = ::write(wake_fd_.get(), &one, sizeof one);
}

void Worker::LoopWaiter::on_ready(bool) {
  if (wake) {
    std::uint64_t count;
    [[maybe_unused]] const ssize_t n = ::read(worker->wake_fd_.get(), &count, sizeof count);
  }
  worker->asio_pending_ = true;
}

// Rounds until drain() was called and the last session ended; then Asio's handlers still
// queued run out (the acceptors and readers are closed: nothing waits any longer).
void Worker::run() {
  TimerQueue::Clock::time_point busy_until{};
  for (;;) {
    if (asio_pending_) run_asio(false);
    if (draining_ && sessions_.empty()) break;
    const TimerQueue::Clock::time_point now = TimerQueue::Clock::now();
    int timeout = timers_.timeout(now);
    if (asio_pending_ || now < busy_until) timeout = 0;
    const int events = poller_.poll(timeout);
    const TimerQueue::Clock::time_point after = TimerQueue::Clock::now();
    if (events > 0 && busy_poll_.count() > 0) busy_until = after + busy_poll_;
    try {
      timers_.run_expired(after);
    } catch (const std::exception& error) {
      log::error("worker {}: a timer's handler failed, serving on: {}", index_, error.what());
    }
  }
  guard_.reset();
  run_asio(true);
}

// Runs Asio's ready handlers without blocking, or (`to_the_end`, once the work guard is gone)
// until none is left. A handler that throws (bad_alloc) ends poll() but not the worker: its
// listening sockets still get their share of new connections, so it must go on serving them.
void Worker::run_asio(bool to_the_end) {
  asio_pending_ = false;
  for (;;) {
    try {
      if (io_.stopped()) io_.restart();
      if (to_the_end) {
        io_.run();
      } else {
        io_.poll();
      }
      return;
    } catch (const std::exception& error) {
      log::error("worker {}: a handler failed, serving on: {}", index_, error.what());
    }
  }
}

void Worker::add(std::uint64_t id, std::shared_ptr<Session> session) {
  sessions_.emplace(id, std::move(session));
  live_.store(sessions_.size(), std::memory_order_relaxed);
}

void Worker::remove(std::uint64_t id) {
  sessions_.erase(id);
  live_.store(sessions_.size(), std::memory_order_relaxed);
}

void Worker::open_listener(std::shared_ptr<const ListenerRoute> route, UniqueFd fd) {
  auto listener = std::make_shared<Listener>(*this, std::move(route), std::move(fd));
  listener->start();
  listeners_[listener->name()] = std::move(listener);
}

void Worker::set_route(std::shared_ptr<const ListenerRoute> route) {
  const auto it = listeners_.find(route->listener->name);
  if (it != listeners_.end()) it->second->set_route(std::move(route));
}

void Worker::close_listener(const std::string& name) {
  const auto it = listeners_.find(name);
  if (it == listeners_.end()) return;
  it->second->close();
  listeners_.erase(it);
}

void Worker::drain() {
  for (auto& [name, listener] : listeners_)
    listener->close();
  listeners_.clear();
  draining_ = true;
  asio_pending_ = true;  // the listeners' readers may have queued handlers
}

void Worker::stop_all_sessions() {
  std::vector<std::shared_ptr<Session>> live;
  live.reserve(sessions_.size());
  for (auto& [id, session] : sessions_)
    live.push_back(session);
  for (auto& session : live)
    session->stop(CloseReason::shutdown);
}

}  // namespace spliceproxy
