// RecordingBackend and HaproxyProcess; see haproxy_process.hpp.
#include "test/integration/haproxy_process.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "test/integration/child_process.hpp"

namespace spliceproxy::test {
namespace {

constexpr std::size_t kMaxRecorded = 16 << 20;
constexpr const char* kHaproxy = "/usr/sbin/haproxy";

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

// Reads `fd` (blocking, but woken by `stop_fd`) until EOF, error or the size cap.
std::vector<std::uint8_t> read_to_end(int fd, int stop_fd) {
  std::vector<std::uint8_t> data;
  std::uint8_t buffer[64 * 1024];
  while (data.size() < kMaxRecorded) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0 && errno != EINTR) break;
    if (fds[1].revents != 0) break;
    const ssize_t n = recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) break;
    if (n > 0) data.insert(data.end(), buffer, buffer + n);
  }
  return data;
}

}  // namespace

RecordingBackend::RecordingBackend() {
  listener_.reset(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) throw_errno("bind");
  if (listen(listener_.get(), SOMAXCONN) != 0) throw_errno("listen");
  getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  stop_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop_.valid()) throw_errno("eventfd");
  acceptor_ = std::thread([this] { accept_loop(); });
}

RecordingBackend::~RecordingBackend() {
  const std::uint64_t one = 1;
  (void)!write(stop_.get(), &one, sizeof one);
  acceptor_.join();
  for (auto& connection : connections_)
    connection.join();
}

void RecordingBackend::accept_loop() {
  for (;;) {
    pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
    if (poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (fds[1].revents != 0) return;
    Fd fd(accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd.valid()) continue;
    std::lock_guard lock(mutex_);
    ++accepted_;
    connections_.emplace_back([this, fd = std::move(fd)]() mutable {
      auto data = read_to_end(fd.get(), stop_.get());
      fd.reset();
      std::lock_guard lock(mutex_);
      received_.push_back(std::move(data));
      changed_.notify_all();
    });
  }
}

std::size_t RecordingBackend::accepted() const {
  std::lock_guard lock(mutex_);
  return accepted_;
}

std::vector<std::vector<std::uint8_t>> RecordingBackend::wait_for(
    std::size_t count, Clock::time_point deadline) const {
  std::unique_lock lock(mutex_);
  changed_.wait_until(lock, deadline, [&] { return received_.size() >= count; });
  return received_;
}

std::uint16_t free_loopback_port() {
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) throw_errno("bind");
  getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

bool tcp_listening(std::uint16_t port) {
  char local[32];
  std::snprintf(local, sizeof local, "0100007F:%04X", port);
  std::ifstream in("/proc/net/tcp");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, address, remote, state;
    fields >> slot >> address >> remote >> state;
    if (address == local && state == "0A") return true;  // TCP_LISTEN
  }
  return false;
}

// HAProxy binds "PATH.PID.tmp" and renames it to PATH, which /proc/net/unix does not follow:
// a listening socket of either name, once PATH exists, is ready.
bool unix_listening(const std::string& path) {
  if (!std::filesystem::is_socket(path)) return false;
  std::ifstream in("/proc/net/unix");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, refs, protocol, flags, type, state, inode, name;
    fields >> slot >> refs >> protocol >> flags >> type >> state >> inode >> name;
    const bool ours = name == path || (name.starts_with(path + ".") && name.ends_with(".tmp"));
    if (ours && flags == "00010000") return true;  // __SO_ACCEPTCON
  }
  return false;
}

bool HaproxyProcess::installed() {
  return ::access(kHaproxy, X_OK) == 0;
}

HaproxyProcess::HaproxyProcess(const std::string& config) {
  std::string path =
      (std::filesystem::temp_directory_path() / "spliceproxy-haproxy-XXXXXX.cfg").string();
  Fd file(mkostemps(path.data(), 4, O_CLOEXEC));
  if (!file.valid()) throw_errno("mkostemps " + path);
  config_path_ = path;
  if (write(file.get(), config.data(), config.size()) != static_cast<ssize_t>(config.size()))
    throw_errno("write " + path);
  Child child = spawn_child({kHaproxy, "-db", "-f", config_path_});
  pid_ = child.pid;
  pidfd_ = std::move(child.pidfd);
  out_pipe_ = std::move(child.out);
  err_pipe_ = std::move(child.err);
}

HaproxyProcess::~HaproxyProcess() {
  if (pid_ > 0) kill_and_reap(pid_);
  std::filesystem::remove(config_path_);
}

bool HaproxyProcess::collect() {
  const bool out_open = out_pipe_.valid() && drain(out_pipe_.get(), out_);
  const bool err_open = err_pipe_.valid() && drain(err_pipe_.get(), err_);
  if (!out_open) out_pipe_.reset();
  if (!err_open) err_pipe_.reset();
  return out_open || err_open;
}

bool HaproxyProcess::wait_for_stdout(const std::string& needle, Clock::time_point deadline) {
  return run_until(
             [&] {
               const bool open = collect();
               return out_.find(needle) != std::string::npos || !open;
             },
             deadline) &&
         out_.find(needle) != std::string::npos;
}

}  // namespace spliceproxy::test
