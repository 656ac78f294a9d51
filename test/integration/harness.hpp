// Integration test harness: runs the real spliceproxy binary as a child process.
//
// `run_command` runs a command to completion (for --check and other one-shot runs);
// `ProxyProcess` starts the proxy on a generated config, waits for its listeners, and exposes
// what the tests observe from outside: bound ports, stderr, descriptors and memory from /proc.
// Every wait has a deadline; only processes started here are ever signalled, by pid.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace spliceproxy::test {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Move-only owner of one descriptor on the test side.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release();
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

struct CommandResult {
  int exit_code;
  std::string out;
  std::string err;
};

// Runs argv (argv[0] is a path) with stdin on /dev/null and collects stdout and stderr.
// exit_code is the exit status, 128+N when the child died of signal N, or -1 when `timeout`
// passed: the child is then SIGKILLed and reaped, and err ends with a line saying so.
CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);

// Calls `predicate` every `interval` until it returns true (-> true) or `deadline` passes
// (-> false, after one last call). For state with no event to wait on, such as /proc files.
bool run_until(const std::function<bool()>& predicate, Clock::time_point deadline,
               std::chrono::milliseconds interval = 10ms);

// Elapsed time in milliseconds, for readable failure messages.
long long ms_since(Clock::time_point start);

// One listener of a generated config, with its own backend made of one server.
struct ListenerConfig {
  std::string name = "web";
  std::uint16_t backend_port = 0;
  std::string connect_timeout = "5s";
  std::string idle_timeout = "5m";
  std::string half_closed_timeout = "1m";
  std::string extra_keys = "";  // more YAML lines for the listener, each indented by 4 spaces
};

// A complete proxy config: `mode` is "splice", "copy" or "auto"; one worker, 1 MiB pipes, listeners
// on 127.0.0.1:0, backend `<listener>_backend` on 127.0.0.1:<backend_port>.
std::string proxy_yaml(std::string_view mode, const std::vector<ListenerConfig>& listeners);

struct ProxyOptions {
  // Listeners whose "listener NAME listening on HOST:PORT" line the start waits for.
  std::vector<std::string> listeners = {"web"};
  std::chrono::milliseconds startup_timeout = 15s;
  unsigned fd_limit = 0;  // RLIMIT_NOFILE (soft and hard) of the proxy; 0 = inherited
};

// The spliceproxy binary running as a child of the test, on a config written to a temp file.
// stdout and stderr are collected by a reader thread.
class ProxyProcess {
 public:
  // Writes `yaml`, starts `spliceproxy -c FILE` and waits until every listener in `options`
  // reported its port. Throws std::runtime_error (with the captured stderr) if the process
  // exits or the deadline passes first.
  explicit ProxyProcess(const std::string& yaml, ProxyOptions options = {});
  ~ProxyProcess();
  ProxyProcess(const ProxyProcess&) = delete;
  ProxyProcess& operator=(const ProxyProcess&) = delete;

  pid_t pid() const { return pid_; }
  std::uint16_t port(const std::string& listener = "web") const;
  const std::string& config_path() const { return config_path_; }

  // Entries of /proc/PID/fd, and those of them that are sockets.
  int open_fd_count() const;
  int open_socket_count() const;
  // User plus system CPU time the process used so far (utime + stime of /proc/PID/stat).
  std::chrono::milliseconds cpu_time() const;
  // VmRSS and VmHWM from /proc/PID/status, in KiB.
  long vm_rss_kib() const;
  long vm_hwm_kib() const;

  // Everything the proxy wrote so far.
  std::string stderr_text() const;
  std::string stdout_text() const;
  // Waits until stderr contains `needle`; false if the deadline passes or stderr closes first.
  bool wait_for_stderr(std::string_view needle, Clock::time_point deadline) const;

  // Stops the proxy at once: SIGTERM, then, once it logged that it is draining, a second
  // SIGTERM (which closes every session without waiting for drain_timeout); waits for the exit
  // and returns the status as run_command does. If `timeout` passes, SIGKILLs the pid and
  // returns -1. Returns the same status when called again.
  int stop(std::chrono::milliseconds timeout = 15s);
  // Sends `signal` (SIGHUP, SIGTERM, ...) to the proxy, if it is still running.
  void send_signal(int signal) const;
  // Waits for the exit without signalling; as stop() otherwise.
  int wait_for_exit(std::chrono::milliseconds timeout);
  bool running() const { return !exit_status_.has_value(); }

 private:
  void read_output();
  bool wait_for_listeners(const ProxyOptions& options);
  long proc_status_kib(std::string_view key) const;

  std::string config_path_;
  pid_t pid_ = -1;
  Fd pidfd_;
  Fd stdout_pipe_;
  Fd stderr_pipe_;
  std::thread reader_;
  mutable std::mutex mutex_;
  mutable std::condition_variable output_changed_;
  std::string out_;
  std::string err_;
  bool output_closed_ = false;
  std::map<std::string, std::uint16_t, std::less<>> ports_;
  std::optional<int> exit_status_;
};

// The value of `name=value` on the proxy's "stats:" line, if both are there.
std::optional<std::uint64_t> stat_value(const std::string& proxy_stderr, std::string_view name);

}  // namespace spliceproxy::test
