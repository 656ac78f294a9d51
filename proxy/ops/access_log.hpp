// AccessLog: one JSON line per ended session, on stdout or appended to a file.
//
//   worker threads ──write(record): format, lock, append to buffer──▶ buffer (bounded)
//                                                                        │ swap
//   writer thread ◀──────────────────────────────────────────────────────┘ write(2) to the fd
//
// A worker formats its line outside the lock and holds the mutex for one append: it never
// waits for the output. When the buffer is full (the output fell behind) the line is dropped and
// counted (the line of a refused client already at half the buffer: see kMaxBufferedRefused).
// Lines are appended whole and written by one thread, so they never interleave.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "proxy/datapath/unique_fd.hpp"
#include "proxy/ops/session_record.hpp"

namespace spliceproxy {

// The record as one JSON object and a newline (fields in README "Access log").
std::string format_access_line(const SessionRecord& record);

class AccessLog {
 public:
  // Bytes waiting for the writer beyond which lines are dropped.
  static constexpr std::size_t kMaxBuffered = std::size_t{4} << 20;
  // The same for the line of a client closed before a session began (denied, a bad PROXY
  // header): a flood of refused clients fills half the buffer at most, and cannot crowd out
  // the lines of sessions.
  static constexpr std::size_t kMaxBufferedRefused = kMaxBuffered / 2;

  // `target`: "stdout" or a file path, opened O_APPEND (created 0640). Throws
  // std::runtime_error naming the file when it cannot be opened.
  explicit AccessLog(const std::string& target);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // Starts the writer thread.
  void start();
  // Any thread. Queues the record's line, or drops and counts it when the buffer is full.
  void write(const SessionRecord& record);
  // Writes what is queued, then ends the writer thread; idempotent. Returns false when the
  // output stayed blocked (a stdout nobody reads) for `limit`: the writer thread is then left
  // blocked and detached, and this object must be leaked, not destroyed, for it to stay valid.
  bool stop(std::chrono::milliseconds limit = std::chrono::seconds(5));
  // Any thread: the writer reopens the file by its path before its next write (after the file
  // was renamed by log rotation; SIGUSR1). Nothing for stdout. A failed open keeps the old file.
  void reopen();

  std::uint64_t lines() const { return lines_.load(std::memory_order_relaxed); }
  std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  void run();
  // Writer thread: opens target_ again and writes to the new file from now on.
  void reopen_file();
  // Writes all of `data` to fd_ (blocking); logs the first failure.
  void write_out(const std::string& data);

  std::string target_;
  UniqueFd file_;  // the file, when the target is one
  int fd_ = -1;    // where lines go: file_ or standard output
  std::mutex mutex_;
  std::condition_variable wake_;
  std::string buffer_;
  std::condition_variable finished_cv_;
  bool stopping_ = false;
  bool finished_ = false;  // the writer thread wrote everything and returned
  bool reopen_ = false;
  std::thread thread_;
  bool write_failed_ = false;  // writer thread only
  std::atomic<std::uint64_t> lines_{0};
  std::atomic<std::uint64_t> dropped_{0};
};

}  // namespace spliceproxy
