// Traffic for integration tests: generator, SHA-256, socket helpers and the client driver.
// See traffic.hpp.
#include "test/integration/traffic.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace spliceproxy::test {
namespace {

constexpr std::size_t kReceiveBuffer = 256 * kKiB;
// Calls per readiness event, so that one busy connection cannot starve the others.
constexpr int kCallsPerEvent = 32;

int poll_timeout_ms(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<long long>(left.count(), 0));
}

// A nonblocking socket of target.host's family, bound to target.source when given, with a
// connect to host:port started. Returns 0 when connected at once, EINPROGRESS, or the errno.
int start_connect(Fd& fd, std::uint16_t port, const LoopbackTarget& target) {
  const bool v6 = target.host.find(':') != std::string::npos;
  fd.reset(socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return errno;
  sockaddr_storage storage{};
  socklen_t size = 0;
  const auto fill = [&](const std::string& host, std::uint16_t p) {
    storage = {};
    if (v6) {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
      in6->sin6_family = AF_INET6;
      in6->sin6_port = htons(p);
      inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr);
      size = sizeof *in6;
    } else {
      auto* in = reinterpret_cast<sockaddr_in*>(&storage);
      in->sin_family = AF_INET;
      in->sin_port = htons(p);
      inet_pton(AF_INET, host.c_str(), &in->sin_addr);
      size = sizeof *in;
    }
  };
  if (!target.source.empty()) {
    fill(target.source, 0);
    if (bind(fd.get(), reinterpret_cast<sockaddr*>(&storage), size) != 0) return errno;
  }
  fill(target.host, port);
  return connect(fd.get(), reinterpret_cast<sockaddr*>(&storage), size) == 0 ? 0 : errno;
}

// One client connection as a state machine driven by poll readiness.
class ClientConnection {
 public:
  explicit ClientConnection(const ClientPlan& plan)
      : plan_(plan), stream_(plan.send_seed), chunks_(plan.chunk_seed) {
    pending_.resize(std::max<std::uint64_t>(plan.max_chunk, 1));
  }

  void start(std::uint16_t port);
  bool is_paced() const { return paced(); }
  int fd() const { return fd_.get(); }
  bool done() const { return done_; }
  short events() const;
  void on_ready(short revents);
  ClientResult finish();

 private:
  bool may_send() const {
    return result_.connected && !result_.shut_down &&
           (!plan_.send_after_peer_eof || result_.peer_eof) && send_budget() >= paced_need();
  }
  // What the pace must allow before the next send: the whole of a write not started yet.
  std::uint64_t paced_need() const {
    return pending_begin_ == 0 && pending_end_ > 0 ? pending_end_ : 1;
  }
  bool paced() const { return plan_.send_rate != 0 && !done_ && result_.connected; }
  // Bytes the pace allows now (a 64 KiB burst on top of the rate); unlimited when unpaced.
  std::uint64_t send_budget() const {
    if (plan_.send_rate == 0) return UINT64_MAX;
    const double seconds = std::chrono::duration<double>(Clock::now() - connected_at_).count();
    const auto allowed = static_cast<std::uint64_t>(seconds * static_cast<double>(plan_.send_rate));
    return allowed + 64 * kKiB > result_.bytes_sent ? allowed + 64 * kKiB - result_.bytes_sent : 0;
  }
  void send_some();
  void receive_some();
  void fail(int error);
  void end();

  ClientPlan plan_;
  ByteStream stream_;
  SplitMix64 chunks_;
  Fd fd_;
  Clock::time_point connected_at_ = Clock::now();
  bool connecting_ = false;
  bool done_ = false;
  std::vector<std::uint8_t> pending_;  // the current write, generated but not all sent yet
  std::size_t pending_begin_ = 0;
  std::size_t pending_end_ = 0;
  Sha256 sent_hash_;
  Sha256 received_hash_;
  ClientResult result_;
};

void ClientConnection::start(std::uint16_t port) {
  const int status = start_connect(fd_, port, plan_.target);
  if (status == 0) {
    result_.connected = true;
    on_ready(POLLOUT);
  } else if (status == EINPROGRESS) {
    connecting_ = true;
  } else {
    fail(status);
  }
}

short ClientConnection::events() const {
  if (done_) return 0;
  if (connecting_) return POLLOUT;
  short events = 0;
  if (!result_.peer_eof) events |= POLLIN;
  if (may_send()) events |= POLLOUT;
  return events;
}

void ClientConnection::on_ready(short revents) {
  if (connecting_) {
    int error = 0;
    socklen_t len = sizeof error;
    getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &error, &len);
    if (error != 0) return fail(error);
    connecting_ = false;
    result_.connected = true;
  }
  if (!result_.peer_eof && (revents & (POLLIN | POLLERR | POLLHUP)) != 0) receive_some();
  if (!done_ && may_send()) send_some();
  if (!done_ && result_.shut_down && result_.peer_eof) end();
}

// Sends randomly sized writes until the socket is full, the stream is sent (-> SHUT_WR) or the
// reset point is reached (-> RST).
void ClientConnection::send_some() {
  for (int i = 0; i < kCallsPerEvent; ++i) {
    if (plan_.reset_after_sent && result_.bytes_sent >= *plan_.reset_after_sent) {
      reset_connection(fd_);
      result_.reset_by_us = true;
      return end();
    }
    if (pending_begin_ == pending_end_) {
      std::uint64_t left = plan_.send_bytes - result_.bytes_sent;
      if (plan_.reset_after_sent)
        left = std::min(left, *plan_.reset_after_sent - result_.bytes_sent);
      if (left == 0) {
        if (shutdown(fd_.get(), SHUT_WR) != 0) return fail(errno);
        result_.shut_down = true;
        return;
      }
      pending_begin_ = 0;
      pending_end_ =
          std::min(std::max(chunks_.log_uniform(pending_.size()), plan_.min_chunk), left);
      stream_.fill(std::span(pending_.data(), pending_end_));
    }
    // A paced write waits until the pace allows all of it: pacing shapes the gaps between
    // writes, not their sizes.
    if (send_budget() < paced_need()) return;
    const ssize_t n = send(fd_.get(), pending_.data() + pending_begin_,
                           pending_end_ - pending_begin_, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) fail(errno);
      return;
    }
    sent_hash_.update(std::span(pending_.data() + pending_begin_, static_cast<std::size_t>(n)));
    pending_begin_ += static_cast<std::size_t>(n);
    result_.bytes_sent += static_cast<std::uint64_t>(n);
  }
}

void ClientConnection::receive_some() {
  thread_local std::vector<std::uint8_t> buffer(kReceiveBuffer);
  for (int i = 0; i < kCallsPerEvent; ++i) {
    const ssize_t n = recv(fd_.get(), buffer.data(), buffer.size(), 0);
    if (n > 0) {
      received_hash_.update(std::span(buffer.data(), static_cast<std::size_t>(n)));
      result_.bytes_received += static_cast<std::uint64_t>(n);
    } else if (n == 0) {
      result_.peer_eof = true;
      return;
    } else if (errno != EINTR) {
      if (errno != EAGAIN) fail(errno);
      return;
    }
  }
}

void ClientConnection::fail(int error) {
  result_.error = error;
  end();
}

void ClientConnection::end() {
  done_ = true;
  result_.ended_at = Clock::now();
  fd_.reset();
}

ClientResult ClientConnection::finish() {
  result_.timed_out = !done_;
  result_.sent_sha256 = sent_hash_.hex_digest();
  result_.received_sha256 = received_hash_.hex_digest();
  return result_;
}

}  // namespace

Fd connect_loopback(std::uint16_t port, Clock::time_point deadline, const LoopbackTarget& target) {
  Fd fd;
  const int status = start_connect(fd, port, target);
  if (status == 0) return fd;
  if (status != EINPROGRESS) {
    throw std::system_error(status, std::generic_category(),
                            "connect to port " + std::to_string(port));
  }
  pollfd p{fd.get(), POLLOUT, 0};
  if (poll(&p, 1, poll_timeout_ms(deadline)) != 1) {
    throw std::runtime_error("connect to port " + std::to_string(port) + " timed out");
  }
  int error = 0;
  socklen_t len = sizeof error;
  getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &len);
  // ECONNRESET: the connection was established and the peer reset it before we looked (a
  // proxy closing a client at once); recv reports that close as EOF from now on.
  if (error != 0 && error != ECONNRESET) {
    throw std::system_error(error, std::generic_category(),
                            "connect to port " + std::to_string(port));
  }
  return fd;
}

void reset_connection(Fd& fd) {
  const linger abort_on_close{1, 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
  fd.reset();
}

bool is_reset_error(int error) {
  return error == ECONNRESET || error == EPIPE;
}

CloseEvent wait_for_peer_close(int fd, Clock::time_point deadline) {
  std::vector<std::uint8_t> buffer(64 * kKiB);
  for (;;) {
    const ssize_t n = recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (n == 0) return {true, false, Clock::now()};
    if (n < 0 && errno != EAGAIN && errno != EINTR)
      return {true, is_reset_error(errno), Clock::now()};
    if (n > 0) continue;
    if (Clock::now() >= deadline) return {};
    pollfd p{fd, POLLIN, 0};
    poll(&p, 1, poll_timeout_ms(deadline));
  }
}

bool send_all(int fd, std::span<const std::uint8_t> bytes, Clock::time_point deadline) {
  while (!bytes.empty()) {
    const ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      bytes = bytes.subspan(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) return false;
    if (Clock::now() >= deadline) return false;
    pollfd p{fd, POLLOUT, 0};
    poll(&p, 1, poll_timeout_ms(deadline));
  }
  return true;
}

std::optional<std::vector<std::uint8_t>> recv_exact(int fd, std::size_t count,
                                                    Clock::time_point deadline) {
  std::vector<std::uint8_t> bytes(count);
  std::size_t got = 0;
  while (got < count) {
    const ssize_t n = recv(fd, bytes.data() + got, count - got, MSG_DONTWAIT);
    if (n > 0) {
      got += static_cast<std::size_t>(n);
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EINTR)) return std::nullopt;
    if (Clock::now() >= deadline) return std::nullopt;
    pollfd p{fd, POLLIN, 0};
    poll(&p, 1, poll_timeout_ms(deadline));
  }
  return bytes;
}

std::string ClientResult::describe() const {
  std::ostringstream text;
  text << "client{connected=" << connected << " sent=" << bytes_sent
       << " received=" << bytes_received << " shut_down=" << shut_down << " peer_eof=" << peer_eof
       << " reset_by_us=" << reset_by_us << " error=" << (error ? std::strerror(error) : "none")
       << " timed_out=" << timed_out << "}";
  return text.str();
}

std::vector<ClientResult> run_clients(std::uint16_t port, const std::vector<ClientPlan>& plans,
                                      Clock::time_point deadline) {
  std::vector<std::unique_ptr<ClientConnection>> clients;
  for (const auto& plan : plans) {
    clients.push_back(std::make_unique<ClientConnection>(plan));
    clients.back()->start(port);
  }
  std::vector<pollfd> fds;
  std::vector<ClientConnection*> polled;
  for (;;) {
    fds.clear();
    polled.clear();
    for (auto& client : clients) {
      if (client->done()) continue;
      fds.push_back({client->fd(), client->events(), 0});
      polled.push_back(client.get());
    }
    if (fds.empty() || Clock::now() >= deadline) break;
    // A paced client waits for its budget to grow, which no descriptor signals.
    const bool paced = std::any_of(clients.begin(), clients.end(),
                                   [](const auto& client) { return client->is_paced(); });
    const int timeout = paced ? std::min(poll_timeout_ms(deadline), 2) : poll_timeout_ms(deadline);
    if (poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) break;
    if (paced) {
      for (std::size_t i = 0; i < fds.size(); ++i) {
        if (fds[i].revents == 0 && polled[i]->is_paced()) fds[i].revents = POLLOUT;
      }
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents != 0) polled[i]->on_ready(fds[i].revents);
    }
  }
  std::vector<ClientResult> results;
  for (auto& client : clients)
    results.push_back(client->finish());
  return results;
}

ClientResult run_client(std::uint16_t port, const ClientPlan& plan, Clock::time_point deadline) {
  return run_clients(port, {plan}, deadline).front();
}

}  // namespace spliceproxy::test
