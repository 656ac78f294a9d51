// Worker: what one reactor thread owns — its io_context, pipe pool, counters, its acceptor of
// each listener and the sessions living on it. A session lives and dies on one worker: nothing
// on the data path is locked.
//
// Threads: everything but the few members marked "any thread" runs on the worker's thread. The
// control thread talks to a worker by post()ing to its io_context.
//
// Destruction order (members are destroyed in reverse): the session registry and acceptors
// first, while the io_context still exists (their sockets and timers belong to it); then the
// poller (sessions still registered in it are gone by now; those a queued handler keeps alive
// were stopped and have left it); then the io_context, whose destructor destroys the handlers
// still queued, and with them sessions that hold pipes; the pipe pool and the counters those
// sessions give pipes back to and count in go last.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
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

  // Worker `index` of `count`; `mirrors` (may be null) outlives the worker.
  Worker(unsigned index, unsigned count, const config::SpliceSettings& splice, MirrorSet* mirrors);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Any thread. Starts the thread, which runs the io_context until drain() was called and
  // the last session ended, then calls `on_stopped` (on the worker's thread).
  void start(std::function<void()> on_stopped);
  // Any thread. Waits for the thread started by start().
  void join();

  unsigned index() const { return index_; }
  boost::asio::io_context& io() { return io_; }
  PipePool& pipes() { return pipes_; }
  // The buffer copy-path reads of this worker's channels land in (see splice_channel.hpp).
  std::span<std::byte> scratch() { return {scratch_.get(), kScratchSize}; }
  // Readiness of the sessions' sockets once they forward (see edge_poller.hpp).
  EdgePoller& poller() { return poller_; }
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

  // Closes every acceptor and lets the io_context run out once the sessions have ended.
  void drain();
  // Closes every live session with reason `shutdown`.
  void stop_all_sessions();

 private:
  const unsigned index_;
  const unsigned count_;
  MirrorSet* const mirrors_;
  Stats stats_;
  PipePool pipes_;
  static constexpr std::size_t kScratchSize = 64 * 1024;
  std::unique_ptr<std::byte[]> scratch_ = std::make_unique_for_overwrite<std::byte[]>(kScratchSize);
  boost::asio::io_context io_{1};
  EdgePoller poller_{io_};  // after io_, before the sessions whose sockets it holds
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard_;
  std::uint64_t sessions_started_ = 0;
  std::atomic<std::size_t> live_{0};  // sessions_.size(), for other threads
  std::chrono::steady_clock::time_point accept_paused_until_{};
  std::map<std::string, std::shared_ptr<Listener>> listeners_;
  SessionReporter* reporter_ = nullptr;
  std::unordered_map<std::uint64_t, std::shared_ptr<Session>> sessions_;
  std::thread thread_;
};

}  // namespace spliceproxy
