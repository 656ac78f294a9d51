// The outputs of PcapngSink: a rotated file (headers by pwrite, payload by splice at an
// explicit offset: O_APPEND refuses splice) and a live TCP stream.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "proxy/base/log.hpp"
#include "proxy/base/net.hpp"
#include "proxy/mirror/pcapng_sink.hpp"

namespace spliceproxy {
namespace {

constexpr auto kMinBackoff = std::chrono::milliseconds(100);
constexpr auto kMaxBackoff = std::chrono::seconds(5);
constexpr int kConnectTimeoutMs = 1000;
constexpr timeval kSendTimeout{1, 0};  // a consumer stalled this long is dropped

// Writes all of `bytes` at `offset` (file) or at the stream's end (offset null).
bool write_all(int fd, std::span<const std::byte> bytes, loff_t* offset) {
  while (!bytes.empty()) {
    const ssize_t n = offset ? ::pwrite(fd, bytes.data(), bytes.size(), *offset)
                             : ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    if (offset) *offset += n;
    bytes = bytes.subspan(static_cast<std::size_t>(n));
  }
  return true;
}

// Moves `bytes` from the pipe to `fd`; returns how many moved before a failure.
std::size_t splice_all(int pipe_fd, int fd, std::size_t bytes, loff_t* offset) {
  std::size_t moved = 0;
  while (moved < bytes) {
    const ssize_t n = ::splice(pipe_fd, nullptr, fd, offset, bytes - moved, SPLICE_F_MOVE);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    moved += static_cast<std::size_t>(n);
  }
  return moved;
}

UniqueFd create_capture(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640));
  if (!fd)
    throw std::runtime_error(fmt::format("cannot create {}: {}", path, std::strerror(errno)));
  ::fchmod(fd.get(), 0640);  // whatever the umask
  return fd;
}

}  // namespace

PcapngFileSink::PcapngFileSink(const config::Mirror& mirror, unsigned feeds, std::size_t pipe_size)
    : PcapngSink(mirror.name, feeds, pipe_size), config_(mirror) {}

PcapngFileSink::~PcapngFileSink() {
  stop();
}

void PcapngFileSink::open() {
  try {
    file_ = create_capture(config_.path);
  } catch (const std::runtime_error& error) {
    throw std::runtime_error(fmt::format("mirror {}: {}", name(), error.what()));
  }
  offset_ = 0;
  if (!write_all(file_.get(), pcapng::section_header(), &offset_))
    throw std::runtime_error(fmt::format("mirror {}: cannot write {}", name(), config_.path));
}

// path.KEEP-1 → path.KEEP, ..., path → path.1, then a new path. Each file is complete.
void PcapngFileSink::rotate() {
  const std::string& path = config_.path;
  for (unsigned i = config_.keep; i > 1; --i) {
    ::rename(fmt::format("{}.{}", path, i - 1).c_str(), fmt::format("{}.{}", path, i).c_str());
  }
  ::rename(path.c_str(), (path + ".1").c_str());
  try {
    open();
  } catch (const std::runtime_error& error) {
    log::warn("{}", error.what());
    file_.reset();
  }
}

PcapngSink::BlockResult PcapngFileSink::put_block(std::span<const std::byte> head, int pipe_fd,
                                                  std::size_t payload,
                                                  std::span<const std::byte> tail) {
  const std::size_t size = head.size() + payload + tail.size();
  static const auto header = static_cast<loff_t>(pcapng::section_header().size());
  if (config_.max_size != 0 && offset_ > header &&
      static_cast<std::size_t>(offset_) + size > config_.max_size)
    rotate();
  if (!file_) return {};
  const loff_t start = offset_;
  std::size_t consumed = 0;
  bool ok = write_all(file_.get(), head, &offset_);
  if (ok && payload > 0) {
    consumed = splice_all(pipe_fd, file_.get(), payload, &offset_);
    ok = consumed == payload;
  }
  ok = ok && write_all(file_.get(), tail, &offset_);
  if (ok) return {true, consumed};
  // Disk full or similar: leave the file ending with its last whole block.
  if (::ftruncate(file_.get(), start) != 0) log::warn("mirror {}: cannot truncate", name());
  offset_ = start;
  return {false, consumed};
}

PcapngTcpSink::PcapngTcpSink(const config::Mirror& mirror, unsigned feeds, std::size_t pipe_size)
    : PcapngSink(mirror.name, feeds, pipe_size), config_(mirror) {}

PcapngTcpSink::~PcapngTcpSink() {
  stop();
}

// Connects when disconnected and the back-off has passed; a new connection starts a section.
void PcapngTcpSink::tick() {
  if (socket_ || std::chrono::steady_clock::now() < next_attempt_) return;
  const net::Endpoint endpoint = net::to_endpoint(config_.address);
  UniqueFd fd(::socket(endpoint.data()->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  int error = fd ? 0 : errno;
  if (fd && ::connect(fd.get(), endpoint.data(), endpoint.size()) != 0) {
    error = errno;
    pollfd p{fd.get(), POLLOUT, 0};
    if (error == EINPROGRESS && ::poll(&p, 1, kConnectTimeoutMs) == 1) {
      socklen_t len = sizeof error;
      ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &len);
    } else if (error == EINPROGRESS) {
      error = ETIMEDOUT;
    }
  }
  if (error != 0) return disconnect(error);
  const int flags = ::fcntl(fd.get(), F_GETFL);
  ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &kSendTimeout, sizeof kSendTimeout);
  socket_ = std::move(fd);
  connected_at_ = std::chrono::steady_clock::now();
  if (!write_all(socket_.get(), pcapng::section_header(), nullptr)) return disconnect(errno);
  log::info("mirror {}: streaming to {}", name(), config_.address.to_string());
}

void PcapngTcpSink::disconnect(int error) {
  if (socket_) log::warn("mirror {}: stream ended: {}", name(), std::strerror(error));
  socket_.reset();
  // A consumer that accepts and then stalls must not be retried at the shortest interval.
  const auto now = std::chrono::steady_clock::now();
  const bool lasted = now - connected_at_ > kMaxBackoff;
  backoff_ = lasted ? std::chrono::milliseconds(kMinBackoff)
                    : std::clamp(backoff_ * 2, std::chrono::milliseconds(kMinBackoff),
                                 std::chrono::milliseconds(kMaxBackoff));
  next_attempt_ = now + backoff_;
}

PcapngSink::BlockResult PcapngTcpSink::put_block(std::span<const std::byte> head, int pipe_fd,
                                                 std::size_t payload,
                                                 std::span<const std::byte> tail) {
  if (!socket_) tick();
  if (!socket_) return {};
  std::size_t consumed = 0;
  bool ok = write_all(socket_.get(), head, nullptr);
  if (ok && payload > 0) {
    consumed = splice_all(pipe_fd, socket_.get(), payload, nullptr);
    ok = consumed == payload;
  }
  ok = ok && write_all(socket_.get(), tail, nullptr);
  if (!ok) disconnect(errno);  // the stream has a partial block: only a new section can follow
  return {ok, consumed};
}

}  // namespace spliceproxy
