// Worker: what one reactor thread owns — its io_context, pipe pool, counters and the
// sessions living on it. A session lives and dies on one worker: nothing here is locked.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <unordered_map>

#include "config/config.hpp"
#include "proxy/pipe_pool.hpp"
#include "proxy/stats.hpp"

namespace spliceproxy {

class MirrorSet;
class Session;
class SessionReporter;

class Worker {
 public:
  // Pipes kept for reuse when idle.
  static constexpr std::size_t kMaxIdlePipes = 64;
  // How long listeners stop accepting when the process is out of descriptors.
  static constexpr auto kDescriptorPause = std::chrono::milliseconds(100);

  Worker(boost::asio::io_context& io, const config::SpliceSettings& splice);

  boost::asio::io_context& io() { return io_; }
  PipePool& pipes() { return pipes_; }
  Stats& stats() { return stats_; }
  const Stats& stats() const { return stats_; }

  // The proxy's mirror sinks, if any; set before the first session.
  MirrorSet* mirrors() const { return mirrors_; }
  void set_mirrors(MirrorSet* mirrors) { mirrors_ = mirrors; }

  // Receives each session's record when it ends (access log, byte totals), if set; set
  // before the first session.
  SessionReporter* reporter() const { return reporter_; }
  void set_reporter(SessionReporter* reporter) { reporter_ = reporter; }

  std::uint64_t next_session_id() { return ++last_session_id_; }
  void add(std::uint64_t id, std::shared_ptr<Session> session);
  void remove(std::uint64_t id);
  std::size_t active_sessions() const { return sessions_.size(); }

  // Out of descriptors (a backend socket could not be opened): listeners accept again only
  // from `until` on, rather than accepting clients that cannot be served.
  void pause_accepting(std::chrono::steady_clock::time_point until) {
    accept_paused_until_ = until;
  }
  std::chrono::steady_clock::time_point accept_paused_until() const { return accept_paused_until_; }

  // Closes every live session (at shutdown).
  void stop_all_sessions();

 private:
  boost::asio::io_context& io_;
  Stats stats_;
  PipePool pipes_;
  std::uint64_t last_session_id_ = 0;
  std::chrono::steady_clock::time_point accept_paused_until_{};
  MirrorSet* mirrors_ = nullptr;
  SessionReporter* reporter_ = nullptr;
  std::unordered_map<std::uint64_t, std::shared_ptr<Session>> sessions_;
};

}  // namespace spliceproxy
