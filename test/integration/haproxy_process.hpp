// Test helpers for the PROXY protocol suites: a backend that records every byte it receives
// (the header and the payload after it), and HAProxy 2.6 (Debian's `haproxy`, installed by
// tools/deps.sh --test) as the independent sender and receiver of PROXY protocol headers.
//
//   test client ──► HAProxy send-proxy[-v2] ──► spliceproxy (accepts)
//   test client ──► spliceproxy (sends) ──► HAProxy accept-proxy, logs %ci:%cp ──► backend
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "test/integration/harness.hpp"

namespace spliceproxy::test {

// Listens on 127.0.0.1 (free port); reads each connection until EOF (at most 16 MiB), then
// closes it and records what it read.
class RecordingBackend {
 public:
  RecordingBackend();
  ~RecordingBackend();
  RecordingBackend(const RecordingBackend&) = delete;
  RecordingBackend& operator=(const RecordingBackend&) = delete;

  std::uint16_t port() const { return port_; }
  std::size_t accepted() const;
  // The bytes of the first `count` connections that ended, in end order; fewer at `deadline`.
  std::vector<std::vector<std::uint8_t>> wait_for(std::size_t count,
                                                  Clock::time_point deadline) const;

 private:
  void accept_loop();

  Fd listener_;
  Fd stop_;  // eventfd, readable once the backend is being destroyed
  std::uint16_t port_ = 0;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::size_t accepted_ = 0;
  std::vector<std::vector<std::uint8_t>> received_;
  std::vector<std::thread> connections_;
  std::thread acceptor_;
};

// A TCP port on 127.0.0.1 that was free a moment ago (HAProxy cannot report a port 0 bind).
std::uint16_t free_loopback_port();
// Whether a socket listens on 127.0.0.1:port (/proc/net/tcp), or at the Unix socket `path`
// (/proc/net/unix): readiness of a server without connecting to it.
bool tcp_listening(std::uint16_t port);
bool unix_listening(const std::string& path);

// `haproxy -db -f CONFIG` as a child of the test, stdout and stderr collected. Killed (by its
// pid) and reaped on destruction.
class HaproxyProcess {
 public:
  static bool installed();
  explicit HaproxyProcess(const std::string& config);
  ~HaproxyProcess();
  HaproxyProcess(const HaproxyProcess&) = delete;
  HaproxyProcess& operator=(const HaproxyProcess&) = delete;

  // Waits until HAProxy's stdout contains `needle`; false at the deadline or its exit.
  bool wait_for_stdout(const std::string& needle, Clock::time_point deadline);
  const std::string& stdout_text() const { return out_; }
  const std::string& stderr_text() const { return err_; }

 private:
  // Collects what is readable now; false once both pipes closed.
  bool collect();

  std::string config_path_;
  pid_t pid_ = -1;
  Fd pidfd_;
  Fd out_pipe_;
  Fd err_pipe_;
  std::string out_;
  std::string err_;
};

}  // namespace spliceproxy::test
