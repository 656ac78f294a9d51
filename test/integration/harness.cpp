// Integration test harness: the proxy as a child process (start, wait for its listeners,
// collect its output, stop), /proc readings, and the generated proxy config. See harness.hpp.
#include "test/integration/harness.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include "test/integration/child_process.hpp"

namespace spliceproxy::test {
namespace {

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) reset(other.release());
  return *this;
}

int Fd::release() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

void Fd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

bool run_until(const std::function<bool()>& predicate, Clock::time_point deadline,
               std::chrono::milliseconds interval) {
  for (;;) {
    if (predicate()) return true;
    if (Clock::now() >= deadline) return false;
    // Waiting on nothing but time: the state polled here (/proc) has no event to wait on.
    poll(nullptr, 0, static_cast<int>(interval.count()));
  }
}

long long ms_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

std::string proxy_yaml(std::string_view mode, const std::vector<ListenerConfig>& listeners) {
  std::ostringstream yaml;
  yaml << "workers: 1\n"
       << "log: {level: info}\n"
       << "splice: {mode: " << mode << ", pipe_size: 1MiB}\n"
       << "listeners:\n";
  for (const auto& l : listeners) {
    yaml << "  - name: " << l.name << "\n"
         << "    listen: 127.0.0.1:0\n"
         << "    backend: " << l.name << "_backend\n"
         << "    timeouts: {connect: " << l.connect_timeout << ", idle: " << l.idle_timeout
         << ", half_closed: " << l.half_closed_timeout << "}\n"
         << l.extra_keys;
  }
  yaml << "backends:\n";
  for (const auto& l : listeners) {
    yaml << "  - name: " << l.name << "_backend\n"
         << "    servers:\n"
         << "      - address: 127.0.0.1:" << l.backend_port << "\n";
  }
  return yaml.str();
}

ProxyProcess::ProxyProcess(const std::string& yaml, ProxyOptions options) {
  const auto dir = std::filesystem::temp_directory_path();
  std::string path = (dir / "spliceproxy-itest-XXXXXX.yaml").string();
  Fd file(mkostemps(path.data(), 5, O_CLOEXEC));
  if (!file.valid()) throw_errno("mkostemps " + path);
  config_path_ = path;
  if (write(file.get(), yaml.data(), yaml.size()) != static_cast<ssize_t>(yaml.size())) {
    throw_errno("write " + path);
  }
  Child child = spawn_child({SPLICEPROXY_BINARY, "-c", config_path_}, options.fd_limit);
  pid_ = child.pid;
  pidfd_ = std::move(child.pidfd);
  stdout_pipe_ = std::move(child.out);
  stderr_pipe_ = std::move(child.err);
  reader_ = std::thread([this] { read_output(); });
  if (!wait_for_listeners(options)) {
    const int status = stop(2s);
    reader_.join();
    std::filesystem::remove(config_path_);
    throw std::runtime_error("spliceproxy did not report its listeners (exit status " +
                             std::to_string(status) + "); config:\n" + yaml + "stderr:\n" + err_);
  }
}

ProxyProcess::~ProxyProcess() {
  stop();
  if (reader_.joinable()) reader_.join();
  std::error_code ignored;
  std::filesystem::remove(config_path_, ignored);
}

void ProxyProcess::read_output() {
  bool out_open = true;
  bool err_open = true;
  while (out_open || err_open) {
    pollfd fds[2] = {{out_open ? stdout_pipe_.get() : -1, POLLIN, 0},
                     {err_open ? stderr_pipe_.get() : -1, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0 && errno != EINTR) break;
    std::string out;
    std::string err;
    if (fds[0].revents != 0) out_open = drain(stdout_pipe_.get(), out);
    if (fds[1].revents != 0) err_open = drain(stderr_pipe_.get(), err);
    std::lock_guard lock(mutex_);
    out_ += out;
    err_ += err;
    output_changed_.notify_all();
  }
  std::lock_guard lock(mutex_);
  output_closed_ = true;
  output_changed_.notify_all();
}

// Parses "listener NAME listening on HOST:PORT" lines until every expected listener is known;
// false if the output closes (the process died) or the startup deadline passes first.
bool ProxyProcess::wait_for_listeners(const ProxyOptions& options) {
  const auto deadline = Clock::now() + options.startup_timeout;
  std::unique_lock lock(mutex_);
  auto all_known = [&] {
    for (const auto& name : options.listeners) {
      if (ports_.count(name) != 0) continue;
      const std::string needle = "listener " + name + " listening on ";
      const auto at = err_.find(needle);
      if (at == std::string::npos) return false;
      const auto end = err_.find_first_of(" \n", at + needle.size());
      if (end == std::string::npos) return false;
      const auto address = err_.substr(at + needle.size(), end - at - needle.size());
      // A Unix socket listener ("unix:/path") has no port: 0.
      ports_[name] =
          address.starts_with("unix:")
              ? 0
              : static_cast<std::uint16_t>(std::stoul(address.substr(address.rfind(':') + 1)));
    }
    return true;
  };
  output_changed_.wait_until(lock, deadline, [&] { return all_known() || output_closed_; });
  return all_known();
}

std::uint16_t ProxyProcess::port(const std::string& listener) const {
  std::lock_guard lock(mutex_);
  const auto it = ports_.find(listener);
  if (it == ports_.end()) throw std::runtime_error("no port known for listener " + listener);
  return it->second;
}

int ProxyProcess::open_fd_count() const {
  int count = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid_) + "/fd")) {
    ++count;
  }
  return count;
}

int ProxyProcess::open_socket_count() const {
  int count = 0;
  std::error_code ec;
  for (const auto& entry :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid_) + "/fd")) {
    const auto target = std::filesystem::read_symlink(entry.path(), ec);
    if (!ec && target.string().rfind("socket:", 0) == 0) ++count;
  }
  return count;
}

long ProxyProcess::proc_status_kib(std::string_view key) const {
  std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.compare(0, key.size(), key) == 0 && line.size() > key.size() &&
        line[key.size()] == ':') {
      return std::strtol(line.c_str() + key.size() + 1, nullptr, 10);
    }
  }
  throw std::runtime_error("no " + std::string(key) + " in /proc/" + std::to_string(pid_) +
                           "/status");
}

// Fields 14 and 15 of /proc/PID/stat, in clock ticks; the command name (field 2) may hold
// spaces, so counting starts after its closing parenthesis.
std::chrono::milliseconds ProxyProcess::cpu_time() const {
  std::ifstream file("/proc/" + std::to_string(pid_) + "/stat");
  std::string text;
  std::getline(file, text);
  const auto close = text.rfind(')');
  if (close == std::string::npos) throw std::runtime_error("cannot read /proc/PID/stat");
  std::istringstream fields(text.substr(close + 2));  // from field 3, the state
  std::string skip;
  for (int field = 3; field < 14; ++field)
    fields >> skip;
  long long utime = 0;
  long long stime = 0;
  fields >> utime >> stime;
  return std::chrono::milliseconds((utime + stime) * 1000 / sysconf(_SC_CLK_TCK));
}

long ProxyProcess::vm_rss_kib() const {
  return proc_status_kib("VmRSS");
}
long ProxyProcess::vm_hwm_kib() const {
  return proc_status_kib("VmHWM");
}

std::string ProxyProcess::stderr_text() const {
  std::lock_guard lock(mutex_);
  return err_;
}

std::string ProxyProcess::stdout_text() const {
  std::lock_guard lock(mutex_);
  return out_;
}

bool ProxyProcess::wait_for_stderr(std::string_view needle, Clock::time_point deadline) const {
  std::unique_lock lock(mutex_);
  output_changed_.wait_until(
      lock, deadline, [&] { return err_.find(needle) != std::string::npos || output_closed_; });
  return err_.find(needle) != std::string::npos;
}

int ProxyProcess::stop(std::chrono::milliseconds timeout) {
  if (exit_status_) return *exit_status_;
  const auto deadline = Clock::now() + timeout;
  kill(pid_, SIGTERM);
  if (wait_for_stderr("received: draining", deadline)) kill(pid_, SIGTERM);
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return wait_for_exit(std::max(left, std::chrono::milliseconds(1)));
}

void ProxyProcess::send_signal(int signal) const {
  if (!exit_status_) kill(pid_, signal);
}

int ProxyProcess::wait_for_exit(std::chrono::milliseconds timeout) {
  if (exit_status_) return *exit_status_;
  if (auto status = wait_exit(pid_, pidfd_.get(), Clock::now() + timeout)) {
    exit_status_ = *status;
  } else {
    kill_and_reap(pid_);
    exit_status_ = -1;
  }
  // The pipes close with the process: let the reader collect the last lines (stats).
  std::unique_lock lock(mutex_);
  output_changed_.wait_until(lock, Clock::now() + 5s, [&] { return output_closed_; });
  return *exit_status_;
}

std::optional<std::uint64_t> stat_value(const std::string& proxy_stderr, std::string_view name) {
  const auto stats = proxy_stderr.rfind("stats:");
  if (stats == std::string::npos) return std::nullopt;
  const auto line_end = proxy_stderr.find('\n', stats);
  const std::string line = proxy_stderr.substr(stats, line_end - stats);
  const std::string needle = std::string(name) + "=";
  for (auto at = line.find(needle); at != std::string::npos; at = line.find(needle, at + 1)) {
    if (at > 0 && line[at - 1] != ' ' && line[at - 1] != ':') continue;  // a longer name
    return std::strtoull(line.c_str() + at + needle.size(), nullptr, 10);
  }
  return std::nullopt;
}

}  // namespace spliceproxy::test
