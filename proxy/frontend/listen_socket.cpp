// listen_socket: socket, options, bind and listen, with the step that failed in the error.
#include "proxy/frontend/listen_socket.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "proxy/base/net.hpp"

namespace spliceproxy {
namespace {

[[noreturn]] void fail(const config::Listener& listener, const char* what, int error) {
  throw std::runtime_error(fmt::format("listener {}: {} {}: {}", listener.name, what,
                                       listener.listen.to_string(), std::strerror(error)));
}

// Whether something accepts connections on the Unix socket at `path` (a live server).
bool unix_socket_in_use(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return fd.get() >= 0 && ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

// lstat, never stat: a symlink or any other file at the path is refused, not followed.
void remove_stale_socket_file(const config::Listener& listener) {
  const std::string& path = listener.listen.path;
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0) return;  // nothing there (or the bind will say)
  const auto refuse = [&](const char* why) {
    throw std::runtime_error(
        fmt::format("listener {}: {} {}", listener.name, listener.listen.to_string(), why));
  };
  if (!S_ISSOCK(info.st_mode)) refuse("exists and is not a socket; not replacing it");
  if (unix_socket_in_use(path)) refuse("is in use by a running server");
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) refuse("is stale but cannot be removed");
}

// One bound, listening socket at `endpoint`, non-blocking (its worker accepts until EAGAIN).
UniqueFd bind_one(const config::Listener& listener, const net::Endpoint& endpoint) {
  UniqueFd fd(
      ::socket(endpoint.protocol().family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) fail(listener, "open", errno);
  int rc = 0;
  if (listener.listen.is_unix()) {
    remove_stale_socket_file(listener);
    // The file gets its mode at creation (umask), so no one can connect before a chmod.
    const mode_t old_mask = ::umask(~listener.socket_mode & 0777);
    rc = ::bind(fd.get(), endpoint.data(), static_cast<socklen_t>(endpoint.size()));
    const int error = errno;
    ::umask(old_mask);
    if (rc != 0) fail(listener, "bind", error);
  } else {
    const int one = 1;
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
      fail(listener, "set SO_REUSEADDR on", errno);
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
      fail(listener, "set SO_REUSEPORT on", errno);
    // No Nagle delay on small request/response messages: accepted sockets inherit the option
    // (Linux copies it into each new connection), so no client costs a setsockopt of its own.
    if (::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
      fail(listener, "set TCP_NODELAY on", errno);
    if (::bind(fd.get(), endpoint.data(), static_cast<socklen_t>(endpoint.size())) != 0)
      fail(listener, "bind", errno);
  }
  if (::listen(fd.get(), SOMAXCONN) != 0) fail(listener, "listen on", errno);
  return fd;
}

// Fails like a bind when a socket already listens on `endpoint`. Our sockets share a port
// through SO_REUSEPORT, which would also let them join the listening sockets of another
// process of the same user (a second proxy, a stale one) and silently split its clients; a
// bind without SO_REUSEPORT conflicts with any of them.
void check_address_free(const config::Listener& listener, const net::Endpoint& endpoint) {
  UniqueFd probe(::socket(endpoint.protocol().family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!probe) fail(listener, "open", errno);
  const int one = 1;  // as the real sockets: TIME_WAIT connections are no conflict
  if (::setsockopt(probe.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
    fail(listener, "set SO_REUSEADDR on", errno);
  if (::bind(probe.get(), endpoint.data(), static_cast<socklen_t>(endpoint.size())) != 0)
    fail(listener, "bind", errno);
}

net::Endpoint bound_endpoint(const config::Listener& listener, int fd) {
  net::Endpoint endpoint;
  socklen_t size = static_cast<socklen_t>(endpoint.capacity());
  if (::getsockname(fd, endpoint.data(), &size) != 0) fail(listener, "getsockname of", errno);
  endpoint.resize(size);
  return endpoint;
}

}  // namespace

ListenSockets bind_listen_sockets(const config::Listener& listener, unsigned workers) {
  ListenSockets out;
  const net::Endpoint wanted = net::to_endpoint(listener.listen);
  if (!listener.listen.is_unix() && listener.listen.port != 0) check_address_free(listener, wanted);
  out.fds.push_back(bind_one(listener, wanted));
  // Port 0: the others bind the port the first one got.
  const net::Endpoint bound = bound_endpoint(listener, out.fds.front().get());
  out.address = listener.listen.is_unix() ? listener.listen.to_string() : net::to_string(bound);
  for (unsigned i = 1; i < workers; ++i) {
    if (listener.listen.is_unix()) {
      UniqueFd copy(::fcntl(out.fds.front().get(), F_DUPFD_CLOEXEC, 0));
      if (!copy) fail(listener, "dup", errno);
      out.fds.push_back(std::move(copy));
    } else {
      out.fds.push_back(bind_one(listener, bound));
    }
  }
  return out;
}

namespace {

// The socket file itself (O_PATH, never through a symlink), checked to be a socket.
UniqueFd open_socket_file(const config::Listener& listener) {
  UniqueFd file(::open(listener.listen.path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!file) fail(listener, "stat", errno);
  struct stat info {};
  if (::fstat(file.get(), &info) != 0) fail(listener, "stat", errno);
  if (!S_ISSOCK(info.st_mode)) {
    throw std::runtime_error(fmt::format("listener {}: {} is no longer a socket", listener.name,
                                         listener.listen.to_string()));
  }
  return file;
}

}  // namespace

void check_socket_file(const config::Listener& listener) {
  open_socket_file(listener);
}

void set_socket_file_mode(const config::Listener& listener) {
  // Through the descriptor checked above: a file swapped in at the path meanwhile is not
  // touched (fchmod does not take an O_PATH descriptor; its /proc link does).
  const UniqueFd file = open_socket_file(listener);
  const std::string link = "/proc/self/fd/" + std::to_string(file.get());
  if (::chmod(link.c_str(), listener.socket_mode & 0777) != 0) fail(listener, "chmod", errno);
}

void remove_socket_file(const config::Listener& listener) {
  if (!listener.listen.is_unix()) return;
  struct stat info {};
  const std::string& path = listener.listen.path;
  if (::lstat(path.c_str(), &info) == 0 && S_ISSOCK(info.st_mode)) ::unlink(path.c_str());
}

}  // namespace spliceproxy
