// Worker: what one thread owns — its loop (one epoll set, its timers, an io_context), pipe
// pool, counters, its acceptor of each listener and the sessions living on it. A session lives
// and dies on one worker: nothing on the data path is locked.
//
// The loop blocks in one epoll_wait per round (EdgePoller::poll): the set holds the sessions'
// and listeners' sockets, an eventfd that other threads' post()s ring, and the epoll descriptor
// of Asio's reactor, where the few Asio objects of a worker wait (the PROXY header and TLS hello
// readers' sockets and deadlines); the timeout is the earliest deadline of the TimerQueue.
// Asio's handlers run (io_context::poll, never blocking) only in a round where its descriptor
// was ready, something was posted, or the worker's own code touched an Asio object
// (asio_touched()). With busy_poll, a round that handled events is followed by rounds that do
// not block, for that long.
//
//   epoll_wait(set, earliest deadline) ──▶ sockets' waiters ──▶ due timers ──▶ io_context::poll
//                                                                                (if it has work)
//
// Threads: everything but the few members marked "any thread" runs on the worker's thread. The
// control thread talks to a worker with post().
//
// Destruction order (members are destroyed in reverse): the session registry and acceptors
// first, while the io_context, the poller and the timers still exist; then the io_context,
// whose destructor destroys the handlers still queued, and with them sessions that hold pipes;
// the poller and timers (empty by then), the pipe pool and the counters those sessions give
// pipes back to and count in go last.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>

#include "config/config.hpp"
#include "proxy/base/stats.hpp"
#include "proxy/datapath/edge_poller.hpp"
#include "proxy/datapath/pipe_pool.hpp"
#include "proxy/datapath/timer_queue.hpp"
#include "proxy/datapath/unique_fd.hpp"

namespace spliceproxy {

class Listener;
struct ListenerRoute;
class MirrorSet;
class Session;
class SessionReporter;

class Worker {
 public:
  // Pipes kept for reuse when idle.
  static constexpr std::size_t kMaxIdlePipes = 64;
  // How long listeners stop accepting when the process is out of descriptors.
  static constexpr auto kDescriptorPause = std::chrono::milliseconds(100);

  // Worker `index` of `count`; `mirrors` (may be null) outlives the worker. `busy_poll`: how
  // long the loop polls without blocking after a round that handled events (0: never).
  Worker(unsigned index, unsigned count, const config::SpliceSettings& splice, MirrorSet* mirrors,
         std::chrono::microseconds busy_poll = {});
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Any thread. Starts the thread, which runs the loop until drain() was called and the last
  // session ended, then calls `on_stopped` (on the worker's thread).
  void start(std::function<void()> on_stopped);
  // Any thread. Runs `handler` on the worker's thread, never inside this call: from another
  // thread once the loop sees the wake-up, from the worker's own before the loop blocks again.
  template <typename Handler>
  void post(Handler handler) {
    boost::asio::post(io_, std::move(handler));
    wake();
  }
  // The worker's own code called an Asio object outside a handler (which may have queued a
  // handler): the round ends with io_context::poll.
  void asio_touched() { asio_pending_ = true; }
  // Any thread. Waits for the thread started by start().
  void join();

  unsigned index() const { return index_; }
  boost::asio::io_context& io() { return io_; }
  PipePool& pipes() { return pipes_; }
  // The buffer copy-path reads of this worker's channels land in (see splice_channel.hpp).
  std::span<std::byte> scratch() { return {scratch_.get(), kScratchSize}; }
  // Readiness of the sessions' and listeners' sockets (see edge_poller.hpp).
  EdgePoller& poller() { return poller_; }
  // Deadlines of the sessions, throttles and listeners (see timer_queue.hpp).
  TimerQueue& timers() { return timers_; }
  Stats& stats() { return stats_; }
  // Any thread (see stats.hpp).
  const Stats& stats() const { return stats_; }
  MirrorSet* mirrors() const { return mirrors_; }

  // Session ids are unique across workers: worker i of n numbers i+1, i+1+n, ...
  std::uint64_t next_session_id() { return ++sessions_started_ * count_ - (count_ - 1 - index_); }

  // Receives each session's record when it ends (access log, byte totals), if set; set
  // before the first session.
  SessionReporter* reporter() const { return reporter_; }
  void set_reporter(SessionReporter* reporter) { reporter_ = reporter; }
  void add(std::uint64_t id, std::shared_ptr<Session> session);
  void remove(std::uint64_t id);
  // Any thread.
  std::size_t active_sessions() const { return live_.load(std::memory_order_relaxed); }

  // Out of descriptors (a backend socket could not be opened): listeners accept again only
  // from `until` on, rather than accepting clients that cannot be served.
  void pause_accepting(std::chrono::steady_clock::time_point until) {
    accept_paused_until_ = until;
  }
  std::chrono::steady_clock::time_point accept_paused_until() const { return accept_paused_until_; }

  // Acceptors by listener name: open (taking over `fd`) and start, re-route, close.
  void open_listener(std::shared_ptr<const ListenerRoute> route, UniqueFd fd);
  void set_route(std::shared_ptr<const ListenerRoute> route);
  void close_listener(const std::string& name);

  // Closes every acceptor; the loop ends once the sessions have ended.
  void drain();
  // Closes every live session with reason `shutdown`.
  void stop_all_sessions();

 private:
  // The loop's own descriptors in the poller: Asio's reactor and the wake-up eventfd.
  struct LoopWaiter final : EdgePoller::Waiter {
    Worker* worker = nullptr;
    bool wake = false;  // the eventfd: read it empty
    void on_ready(bool writable) override;
  };

  void run();
  void run_asio(bool to_the_end);
  // Any thread: makes the loop run Asio's handlers (an eventfd write from another thread).
  void wake();

  const unsigned index_;
  const unsigned count_;
  MirrorSet* const mirrors_;
  Stats stats_;
  PipePool pipes_;
  static constexpr std::size_t kScratchSize = 64 * 1024;
  std::unique_ptr<std::byte[]> scratch_ = std::make_unique_for_overwrite<std::byte[]>(kScratchSize);
  const std::chrono::microseconds busy_poll_;
  EdgePoller poller_;  // before the io_context and the sessions whose sockets it holds
  TimerQueue timers_;
  UniqueFd wake_fd_;  // eventfd, readable while a post() from another thread waits
  LoopWaiter asio_waiter_;
  LoopWaiter wake_waiter_;
  boost::asio::io_context io_{1};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard_;
  bool asio_pending_ = false;  // run io_context::poll at the end of this round
  bool draining_ = false;
  std::uint64_t sessions_started_ = 0;
  std::atomic<std::size_t> live_{0};  // sessions_.size(), for other threads
  std::chrono::steady_clock::time_point accept_paused_until_{};
  std::map<std::string, std::shared_ptr<Listener>> listeners_;
  SessionReporter* reporter_ = nullptr;
  std::unordered_map<std::uint64_t, std::shared_ptr<Session>> sessions_;
  std::thread thread_;
};

}  // namespace spliceproxy
