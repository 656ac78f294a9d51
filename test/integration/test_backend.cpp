// Backends for integration tests: the per-connection behaviours, the accept loop, and the
// refusing and blackhole addresses. See test_backend.hpp.
#include "test/integration/test_backend.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <sstream>
#include <system_error>

namespace spliceproxy::test {
namespace {

constexpr std::size_t kBufferSize = 256 * kKiB;
constexpr int kCallsPerEvent = 32;
// Slow reader: reads of at least this size, and a burst of at most kBurst.
constexpr double kMinRead = 16 * kKiB;
constexpr double kBurst = 64 * kKiB;

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

// A socket bound to `port` (0: any free port) of 127.0.0.1 (or ::1, or the IPv4 loopback
// address `ipv4` in network order); `port` receives the port bound. A given port is bound with
// SO_REUSEADDR: its earlier connections may linger.
Fd bound_loopback_socket(std::uint16_t& port, bool ipv6 = false,
                         in_addr_t ipv4 = htonl(INADDR_LOOPBACK)) {
  Fd fd(socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) throw_errno("socket");
  const int one = 1;
  if (port != 0) setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = ipv4;
  sockaddr_in6 addr6{};
  addr6.sin6_family = AF_INET6;
  addr6.sin6_port = htons(port);
  addr6.sin6_addr = in6addr_loopback;
  sockaddr* bound = ipv6 ? reinterpret_cast<sockaddr*>(&addr6) : reinterpret_cast<sockaddr*>(&addr);
  socklen_t len = ipv6 ? sizeof addr6 : sizeof addr;
  if (bind(fd.get(), bound, len) != 0) throw_errno("bind");
  getsockname(fd.get(), bound, &len);
  port = ntohs(ipv6 ? addr6.sin6_port : addr.sin_port);
  return fd;
}

// One accepted connection, served by one thread until it ends or the backend stops.
class BackendConnection {
 public:
  BackendConnection(Fd fd, const BackendBehavior& behavior, int stop_fd)
      : fd_(std::move(fd)),
        behavior_(behavior),
        stop_fd_(stop_fd),
        reply_(behavior.reply_seed),
        in_(behavior.kind == BackendBehavior::Kind::echo ? 0 : kBufferSize),
        out_(kBufferSize),
        tokens_(kBurst),
        refilled_(Clock::now()) {}

  BackendResult run();

 private:
  bool echo() const { return behavior_.kind == BackendBehavior::Kind::echo; }
  bool reply_started() const { return behavior_.reply_at_once || result_.peer_eof; }
  bool out_empty() const { return out_head_ == out_tail_; }
  bool can_refill() const {
    return !echo() && reply_started() && generated_ < behavior_.reply_bytes;
  }
  std::size_t read_allowance();
  int timeout_ms() const;
  void read_some();
  void write_some();
  bool refill_reply();
  void alter(std::uint8_t* into, std::size_t n);
  void end(int error);

  Fd fd_;
  const BackendBehavior& behavior_;
  int stop_fd_;
  ByteStream reply_;
  std::uint64_t generated_ = 0;
  std::vector<std::uint8_t> in_;   // sink: scratch for reads
  std::vector<std::uint8_t> out_;  // bytes to send: echoed data or the generated reply
  std::size_t out_head_ = 0;
  std::size_t out_tail_ = 0;
  double tokens_;  // slow reader's token bucket
  Clock::time_point refilled_;
  Sha256 received_hash_;
  Sha256 sent_hash_;
  bool ended_ = false;
  BackendResult result_;
};

BackendResult BackendConnection::run() {
  while (!ended_) {
    write_some();  // try first: the reply may start, or a shutdown may be due
    if (ended_) break;
    if (result_.peer_eof && result_.shut_down) {
      end(0);
      break;
    }
    short events = read_allowance() > 0 ? POLLIN : 0;
    if (!out_empty() || can_refill()) events |= POLLOUT;
    pollfd fds[2] = {{fd_.get(), events, 0}, {stop_fd_, POLLIN, 0}};
    if (poll(fds, 2, timeout_ms()) < 0 && errno != EINTR) throw_errno("poll");
    if (fds[1].revents != 0) {
      result_.stopped = true;
      end(0);
    } else if ((fds[0].revents & (POLLIN | POLLERR | POLLHUP)) != 0) {
      read_some();
    }
  }
  result_.received_sha256 = received_hash_.hex_digest();
  result_.sent_sha256 = sent_hash_.hex_digest();
  return result_;
}

// How many bytes the next read may take (0: do not read now).
std::size_t BackendConnection::read_allowance() {
  if (result_.peer_eof) return 0;
  switch (behavior_.kind) {
    case BackendBehavior::Kind::echo:
      if (out_head_ > 0 && out_tail_ == out_.size()) {
        std::memmove(out_.data(), out_.data() + out_head_, out_tail_ - out_head_);
        out_tail_ -= out_head_;
        out_head_ = 0;
      }
      return out_.size() - out_tail_;
    case BackendBehavior::Kind::sink:
      return in_.size();
    case BackendBehavior::Kind::reset_after:
      return static_cast<std::size_t>(
          std::min<std::uint64_t>(in_.size(), behavior_.reset_after - result_.bytes_received));
    case BackendBehavior::Kind::slow_reader: {
      const auto now = Clock::now();
      const std::chrono::duration<double> elapsed = now - refilled_;
      tokens_ =
          std::min(kBurst, tokens_ + elapsed.count() * static_cast<double>(behavior_.read_rate));
      refilled_ = now;
      return tokens_ < kMinRead ? 0 : static_cast<std::size_t>(tokens_);
    }
  }
  return 0;
}

// Poll timeout: infinite (the stop eventfd wakes us) unless the slow reader waits for tokens.
int BackendConnection::timeout_ms() const {
  if (behavior_.kind != BackendBehavior::Kind::slow_reader || result_.peer_eof ||
      tokens_ >= kMinRead) {
    return -1;
  }
  const double seconds = (kMinRead - tokens_) / static_cast<double>(behavior_.read_rate);
  return static_cast<int>(std::ceil(seconds * 1000.0));
}

void BackendConnection::read_some() {
  for (int i = 0; i < kCallsPerEvent && !ended_; ++i) {
    const std::size_t want = read_allowance();
    if (want == 0) return;
    std::uint8_t* into = echo() ? out_.data() + out_tail_ : in_.data();
    const ssize_t n = recv(fd_.get(), into, want, 0);
    if (n == 0) {
      result_.peer_eof = true;
      return;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) end(errno);
      return;
    }
    received_hash_.update(std::span(into, static_cast<std::size_t>(n)));
    const std::size_t keep =
        std::min(static_cast<std::size_t>(n), behavior_.keep_first - result_.first_bytes.size());
    result_.first_bytes.insert(result_.first_bytes.end(), into, into + keep);
    alter(into, static_cast<std::size_t>(n));
    result_.bytes_received += static_cast<std::uint64_t>(n);
    if (echo()) out_tail_ += static_cast<std::size_t>(n);
    tokens_ -= static_cast<double>(n);
    if (behavior_.kind == BackendBehavior::Kind::reset_after &&
        result_.bytes_received >= behavior_.reset_after) {
      reset_connection(fd_);
      result_.reset_by_us = true;
      end(0);
    }
  }
}

// Sends pending bytes until the socket is full; shuts down the write side once the last byte
// this behaviour will ever send is out.
void BackendConnection::write_some() {
  for (int i = 0; i < kCallsPerEvent; ++i) {
    if (out_empty() && !refill_reply()) break;
    const ssize_t n = send(fd_.get(), out_.data() + out_head_, out_tail_ - out_head_,
                           MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) end(errno);
      return;
    }
    sent_hash_.update(std::span(out_.data() + out_head_, static_cast<std::size_t>(n)));
    out_head_ += static_cast<std::size_t>(n);
    result_.bytes_sent += static_cast<std::uint64_t>(n);
  }
  const bool finished = echo() ? result_.peer_eof : reply_started() && !can_refill();
  if (finished && out_empty() && !result_.shut_down) {
    if (shutdown(fd_.get(), SHUT_WR) != 0) return end(errno);
    result_.shut_down = true;
  }
}

bool BackendConnection::refill_reply() {
  out_head_ = out_tail_ = 0;
  if (!can_refill()) return false;
  out_tail_ = static_cast<std::size_t>(
      std::min<std::uint64_t>(out_.size(), behavior_.reply_bytes - generated_));
  reply_.fill(std::span(out_.data(), out_tail_));
  generated_ += out_tail_;
  return true;
}

// Inverts the byte at behavior_.alter_offset if it is among the `n` just read into `into` and the
// connection began with behavior_.alter_when_first.
void BackendConnection::alter(std::uint8_t* into, std::size_t n) {
  const auto& prefix = behavior_.alter_when_first;
  const std::uint64_t at = behavior_.alter_offset;
  const std::uint64_t start = result_.bytes_received;
  if (!echo() || prefix.empty() || at < start || at >= start + n) return;
  if (result_.first_bytes.size() < prefix.size() ||
      !std::equal(prefix.begin(), prefix.end(), result_.first_bytes.begin()))
    return;
  into[at - start] ^= 0xff;
}

void BackendConnection::end(int error) {
  if (result_.error == 0) result_.error = error;
  ended_ = true;
  result_.ended_at = Clock::now();
  fd_.reset();
}

}  // namespace

BackendBehavior BackendBehavior::echo() {
  return {.kind = Kind::echo};
}

BackendBehavior BackendBehavior::sink(std::uint64_t reply_bytes, std::uint64_t seed) {
  return {.kind = Kind::sink, .reply_bytes = reply_bytes, .reply_seed = seed};
}

BackendBehavior BackendBehavior::send_then_half_close(std::uint64_t reply_bytes,
                                                      std::uint64_t seed) {
  return {
      .kind = Kind::sink, .reply_bytes = reply_bytes, .reply_seed = seed, .reply_at_once = true};
}

BackendBehavior BackendBehavior::reset_after_reading(std::uint64_t bytes) {
  return {.kind = Kind::reset_after, .reset_after = bytes};
}

BackendBehavior BackendBehavior::slow_reader(std::uint64_t bytes_per_second) {
  return {.kind = Kind::slow_reader, .read_rate = bytes_per_second};
}

std::string BackendResult::describe() const {
  std::ostringstream text;
  text << "backend{received=" << bytes_received << " sent=" << bytes_sent
       << " peer_eof=" << peer_eof << " shut_down=" << shut_down << " reset_by_us=" << reset_by_us
       << " error=" << (error ? std::strerror(error) : "none") << " stopped=" << stopped << "}";
  return text.str();
}

TestBackend::TestBackend(BackendBehavior behavior, Family family, std::uint16_t port)
    : TestBackend(behavior, family == Family::ipv6 ? "::1" : "127.0.0.1", port) {}

TestBackend::TestBackend(BackendBehavior behavior, const std::string& host, std::uint16_t port)
    : behavior_(behavior), port_(port) {
  const bool ipv6 = host == "::1";
  in_addr ipv4{htonl(INADDR_LOOPBACK)};
  if (!ipv6 && inet_pton(AF_INET, host.c_str(), &ipv4) != 1) throw std::runtime_error("bad host");
  listener_ = bound_loopback_socket(port_, ipv6, ipv4.s_addr);
  if (listen(listener_.get(), SOMAXCONN) != 0) throw_errno("listen");
  stop_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop_.valid()) throw_errno("eventfd");
  acceptor_ = std::thread([this] { accept_loop(); });
}

TestBackend::~TestBackend() {
  const std::uint64_t one = 1;
  (void)!write(stop_.get(), &one, sizeof one);
  acceptor_.join();
  // No new threads once the acceptor is gone.
  for (auto& connection : connections_)
    connection.join();
}

void TestBackend::accept_loop() {
  for (;;) {
    pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
    if (poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (fds[1].revents != 0) return;
    Fd fd(accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd.valid()) continue;
    std::lock_guard lock(mutex_);
    ++accepted_;
    connections_.emplace_back([this, fd = std::move(fd)]() mutable {
      record(BackendConnection(std::move(fd), behavior_, stop_.get()).run());
    });
  }
}

void TestBackend::record(BackendResult result) {
  std::lock_guard lock(mutex_);
  results_.push_back(std::move(result));
  changed_.notify_all();
}

std::size_t TestBackend::accepted() const {
  std::lock_guard lock(mutex_);
  return accepted_;
}

std::vector<BackendResult> TestBackend::wait_for_results(std::size_t count,
                                                         Clock::time_point deadline) const {
  std::unique_lock lock(mutex_);
  changed_.wait_until(lock, deadline, [&] { return results_.size() >= count; });
  return results_;
}

RefusingPort::RefusingPort() {
  socket_ = bound_loopback_socket(port_);
}

Blackhole::Blackhole() {
  listener_ = bound_loopback_socket(port_);
  if (listen(listener_.get(), 0) != 0) throw_errno("listen");
  filler_ = connect_loopback(port_, Clock::now() + 5s);
}

SortedDigests sorted_digests(const std::vector<ClientResult>& clients,
                             const std::vector<BackendResult>& copies) {
  SortedDigests out;
  for (const ClientResult& client : clients)
    out.sent.push_back(client.sent_sha256);
  for (const BackendResult& copy : copies)
    out.received.push_back(copy.received_sha256);
  std::sort(out.sent.begin(), out.sent.end());
  std::sort(out.received.begin(), out.received.end());
  return out;
}

}  // namespace spliceproxy::test
