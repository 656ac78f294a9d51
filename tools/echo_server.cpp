// echo_server: a single-threaded epoll echo backend for tools/bench/run.sh.
//
//   echo_server HOST PORT
//
// Writes back every byte it reads, in order, on each connection; closes a connection after
// the peer's EOF once everything read has been written back. Raises its RLIMIT_NOFILE to the
// hard limit (the benchmark holds 10,000+ idle connections). Runs until killed.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

// Bytes read but not yet written back; while any are pending the connection waits for
// EPOLLOUT and reads nothing more, so memory per connection stays bounded.
struct Conn {
  std::vector<char> pending;
  std::size_t offset = 0;
  bool eof = false;
};

class EchoServer {
 public:
  EchoServer(int listener) : listener_(listener), buffer_(65536) {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    watch(listener_, EPOLLIN, EPOLL_CTL_ADD);
  }

  [[noreturn]] void run() {
    epoll_event events[256];
    for (;;) {
      const int n = epoll_wait(epoll_, events, 256, -1);
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        if (fd == listener_)
          accept_all();
        else
          serve(fd);
      }
    }
  }

 private:
  void watch(int fd, uint32_t events, int op) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    epoll_ctl(epoll_, op, fd, &ev);
  }

  void accept_all() {
    for (;;) {
      const int fd = accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;  // EAGAIN, or EMFILE and friends: try again on the next event
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (static_cast<std::size_t>(fd) >= conns_.size()) conns_.resize(fd + 1);
      conns_[fd] = Conn{};
      watch(fd, EPOLLIN, EPOLL_CTL_ADD);
    }
  }

  void finish(int fd) {
    conns_[fd] = Conn{};
    close(fd);
  }

  // Flushes pending bytes; returns false when the socket would block (EPOLLOUT armed).
  bool flush(int fd, Conn& c) {
    while (c.offset < c.pending.size()) {
      const ssize_t n =
          send(fd, c.pending.data() + c.offset, c.pending.size() - c.offset, MSG_NOSIGNAL);
      if (n > 0) {
        c.offset += static_cast<std::size_t>(n);
      } else if (n < 0 && errno == EAGAIN) {
        watch(fd, EPOLLOUT, EPOLL_CTL_MOD);
        return false;
      } else if (!(n < 0 && errno == EINTR)) {
        finish(fd);
        return false;
      }
    }
    c.pending.clear();
    c.offset = 0;
    return true;
  }

  void serve(int fd) {
    Conn& c = conns_[fd];
    if (!c.pending.empty()) {
      if (!flush(fd, c)) return;
      if (c.eof) return finish(fd);
      watch(fd, EPOLLIN, EPOLL_CTL_MOD);
    }
    for (;;) {
      const ssize_t n = recv(fd, buffer_.data(), buffer_.size(), 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        return finish(fd);
      }
      if (n < 0) {
        if (errno == EAGAIN) return;
        continue;
      }
      const ssize_t sent = send(fd, buffer_.data(), static_cast<std::size_t>(n), MSG_NOSIGNAL);
      const std::size_t done = sent > 0 ? static_cast<std::size_t>(sent) : 0;
      if (sent < 0 && errno != EAGAIN && errno != EINTR) return finish(fd);
      if (done < static_cast<std::size_t>(n)) {
        c.pending.assign(buffer_.begin() + static_cast<std::ptrdiff_t>(done), buffer_.begin() + n);
        if (!flush(fd, c)) return;
        watch(fd, EPOLLIN, EPOLL_CTL_MOD);
      }
    }
  }

  int listener_;
  int epoll_ = -1;
  std::vector<char> buffer_;
  std::vector<Conn> conns_;  // indexed by descriptor
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: echo_server HOST PORT\n");
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[2])));
  if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
    std::fprintf(stderr, "echo_server: bad IPv4 address %s\n", argv[1]);
    return 2;
  }
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 4096) != 0) {
    std::perror("echo_server: bind/listen");
    return 1;
  }
  EchoServer(fd).run();
}
