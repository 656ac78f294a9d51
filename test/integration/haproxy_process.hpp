// HAProxy 2.6 (Debian's `haproxy`, installed by tools/deps.sh --test) as the independent
// sender and receiver of PROXY protocol headers in the integration tests, and ways to see
// that a server listens without connecting to it.
//
//   test client ──► HAProxy send-proxy[-v2] ──► spliceproxy (accepts)
//   test client ──► spliceproxy (sends) ──► HAProxy accept-proxy, logs %ci:%cp ──► backend
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "test/integration/harness.hpp"

namespace spliceproxy::test {

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
