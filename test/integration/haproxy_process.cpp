// HaproxyProcess and the listening probes; see haproxy_process.hpp.
#include "test/integration/haproxy_process.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
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

constexpr const char* kHaproxy = "/usr/sbin/haproxy";

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace

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
