// ShadowSink: connect, splice the client's bytes to the shadow server, discard its replies.
#include "proxy/mirror/shadow_sink.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

#include "proxy/base/net.hpp"

namespace spliceproxy {
namespace {

constexpr int kConnectTimeoutMs = 1000;
constexpr int kSendWaitMs = 200;
constexpr auto kLinger = std::chrono::seconds(2);  // replies read after the session ended

bool wait_for(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, timeout_ms) == 1 && !(p.revents & (POLLERR | POLLNVAL));
}

}  // namespace

ShadowSink::ShadowSink(const config::Mirror& mirror, unsigned feeds, std::size_t pipe_size)
    : MirrorSink(mirror.name, feeds, pipe_size), config_(mirror) {}

ShadowSink::~ShadowSink() {
  stop();
}

UniqueFd ShadowSink::connect_shadow() const {
  const net::Endpoint endpoint = net::to_endpoint(config_.address);
  UniqueFd fd(::socket(endpoint.data()->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return fd;
  if (::connect(fd.get(), endpoint.data(), endpoint.size()) == 0) return fd;
  if (errno != EINPROGRESS || !wait_for(fd.get(), POLLOUT, kConnectTimeoutMs)) return {};
  int error = 0;
  socklen_t len = sizeof error;
  ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &len);
  return error == 0 ? std::move(fd) : UniqueFd();
}

void ShadowSink::handle(const MirrorRecord& record, int pipe_fd) {
  using Kind = MirrorRecord::Kind;
  if (record.kind == Kind::open) {
    connections_[record.flow] = Connection{connect_shadow()};
    return;
  }
  const auto it = connections_.find(record.flow);
  if (it == connections_.end()) {
    if (record.kind == Kind::data) discard(pipe_fd, record.bytes);
    return;
  }
  Connection& connection = it->second;
  if (record.kind == Kind::data) return send(connection, record.bytes, pipe_fd);
  if (!connection.socket || record.kind == Kind::reset) {
    connections_.erase(it);  // a reset session's copy ends with the socket closed
    return;
  }
  ::shutdown(connection.socket.get(), SHUT_WR);
  connection.closing = true;
  connection.closing_since = std::chrono::steady_clock::now();
}

// Splices `bytes` from the feed pipe to the shadow server, waiting a little for room; what
// does not fit is dropped.
void ShadowSink::send(Connection& connection, std::size_t bytes, int pipe_fd) {
  std::size_t sent = 0;
  while (connection.socket && sent < bytes) {
    const ssize_t n = ::splice(pipe_fd, nullptr, connection.socket.get(), nullptr, bytes - sent,
                               SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN &&
               wait_for(connection.socket.get(), POLLOUT, kSendWaitMs)) {
      drain_replies(connection.socket.get());
    } else {
      connection.socket.reset();
    }
  }
  counters().bytes.fetch_add(sent, std::memory_order_relaxed);
  if (sent < bytes) {
    discard(pipe_fd, bytes - sent);
    count_drop(bytes - sent);
  }
}

bool ShadowSink::drain_replies(int socket) {
  char scratch[16 * 1024];
  for (;;) {
    const ssize_t n = ::recv(socket, scratch, sizeof scratch, MSG_DONTWAIT);
    if (n > 0) continue;
    return n < 0 && (errno == EAGAIN || errno == EINTR);
  }
}

void ShadowSink::tick() {
  const auto now = std::chrono::steady_clock::now();
  for (auto it = connections_.begin(); it != connections_.end();) {
    Connection& c = it->second;
    const bool open = c.socket && drain_replies(c.socket.get());
    const bool expired = c.closing && now - c.closing_since > kLinger;
    it = (open && !expired) || (!c.socket && !c.closing) ? std::next(it) : connections_.erase(it);
  }
}

void ShadowSink::close() {
  connections_.clear();
}

}  // namespace spliceproxy
