// loadgen: a single-threaded epoll load generator for tools/bench/run.sh.
//
//   loadgen pingpong HOST:PORT --conns N --size BYTES --seconds S [--warmup S]
//       N connections, each sends BYTES, waits for BYTES back, repeats.
//   loadgen connrate HOST:PORT --conns N --seconds S [--warmup S]
//       N connections in flight, each: connect, 1-byte echo, close; then a new one.
//   loadgen idle HOST:PORT --conns N [--seconds S]
//       Opens N connections (each proves the path with a 1-byte echo), prints the result
//       line, then holds them open until stdin reaches EOF or S seconds (default 600) pass.
//
// The peer must echo (tools/echo_server.cpp). Prints one JSON line on stdout: requests,
// requests per second and latency percentiles (microseconds) counted after the warm-up.
// Raises its own RLIMIT_NOFILE to the hard limit. Exit status 0, or 2 for bad arguments.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

enum class Mode { pingpong, connrate, idle };

struct Options {
  Mode mode = Mode::pingpong;
  sockaddr_in target{};
  int conns = 1;
  std::size_t size = 64;
  double seconds = 5;
  double warmup = 0.5;
};

// One connection's state machine: connecting -> sending -> receiving -> (parked | again).
enum class State { connecting, sending, receiving, parked };

struct Conn {
  int fd = -1;
  State state = State::parked;
  std::size_t done = 0;     // bytes sent (sending) or received (receiving) of this message
  std::size_t message = 0;  // size of the message in flight
  Clock::time_point start;  // when this request (or, for connrate, this connection) began
  bool handshake = false;   // the 1-byte echo that proves a new connection works
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "loadgen: %s\nusage: loadgen pingpong|connrate|idle HOST:PORT [--conns N] "
               "[--size BYTES] [--seconds S] [--warmup S]\n",
               why);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  if (argc < 3) usage("missing arguments");
  Options o;
  const std::string_view mode = argv[1];
  if (mode == "pingpong")
    o.mode = Mode::pingpong;
  else if (mode == "connrate")
    o.mode = Mode::connrate;
  else if (mode == "idle")
    o.mode = Mode::idle, o.seconds = 600;
  else
    usage("unknown mode");
  const std::string target = argv[2];
  const auto colon = target.rfind(':');
  o.target.sin_family = AF_INET;
  if (colon == std::string::npos ||
      inet_pton(AF_INET, target.substr(0, colon).c_str(), &o.target.sin_addr) != 1)
    usage("target must be IPv4:PORT");
  o.target.sin_port = htons(static_cast<uint16_t>(std::atoi(target.c_str() + colon + 1)));
  for (int i = 3; i + 1 < argc; i += 2) {
    const std::string_view key = argv[i];
    const char* value = argv[i + 1];
    if (key == "--conns")
      o.conns = std::atoi(value);
    else if (key == "--size")
      o.size = std::strtoul(value, nullptr, 10);
    else if (key == "--seconds")
      o.seconds = std::atof(value);
    else if (key == "--warmup")
      o.warmup = std::atof(value);
    else
      usage("unknown option");
  }
  if (o.conns < 1 || o.size < 1 || o.size > (1 << 20) || o.seconds <= 0) usage("bad value");
  return o;
}

void raise_fd_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

class LoadGen {
 public:
  explicit LoadGen(const Options& o) : o_(o), buffer_(std::max<std::size_t>(o.size, 65536), 'x') {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
  }

  // Runs the chosen mode to completion and prints the JSON result line.
  int run() {
    const auto t0 = Clock::now();
    if (o_.mode == Mode::connrate) {
      for (int i = 0; i < o_.conns; ++i)
        open_one();
      measure_from_ = t0 + to_duration(o_.warmup);
      loop_until(measure_from_ + to_duration(o_.seconds));
      report(seconds_since(measure_from_));
      return 0;
    }
    // pingpong and idle: open every connection first, at most kBatch handshakes at a time.
    constexpr int kBatch = 256;
    const auto setup_deadline = t0 + std::chrono::seconds(120);
    for (int opened = 0; opened < o_.conns;) {
      const int n = std::min(kBatch, o_.conns - opened);
      for (int i = 0; i < n; ++i)
        open_one();
      opened += n;
      while (in_flight_ > 0 && Clock::now() < setup_deadline)
        poll_once(100);
    }
    const double setup_s = seconds_since(t0);
    if (o_.mode == Mode::idle) {
      std::printf(
          "{\"mode\":\"idle\",\"conns\":%d,\"ready\":%zu,\"errors\":%llu,\"setup_s\":%.3f}\n",
          o_.conns, live_conns(), static_cast<unsigned long long>(errors_), setup_s);
      std::fflush(stdout);
      pollfd in{STDIN_FILENO, POLLIN, 0};
      poll(&in, 1, static_cast<int>(o_.seconds * 1000));
      return 0;
    }
    for (auto& c : conns_)
      if (c.fd >= 0 && c.state == State::parked) start_request(c, o_.size, false);
    measure_from_ = Clock::now() + to_duration(o_.warmup);
    loop_until(measure_from_ + to_duration(o_.seconds));
    report(seconds_since(measure_from_));
    return 0;
  }

 private:
  static Clock::duration to_duration(double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  }

  std::size_t live_conns() const {
    return static_cast<std::size_t>(
        std::count_if(conns_.begin(), conns_.end(), [](const Conn& c) { return c.fd >= 0; }));
  }

  Conn& slot(int fd) {
    if (static_cast<std::size_t>(fd) >= conns_.size()) conns_.resize(fd + 1);
    return conns_[fd];
  }

  void watch(int fd, uint32_t events, bool add) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    epoll_ctl(epoll_, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev);
  }

  // Starts a nonblocking connect; the handshake echo follows once it completes.
  void open_one() {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      ++errors_;
      return;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    Conn& c = slot(fd);
    c = Conn{};
    c.fd = fd;
    c.state = State::connecting;
    c.start = Clock::now();
    ++in_flight_;
    if (connect(fd, reinterpret_cast<const sockaddr*>(&o_.target), sizeof o_.target) == 0) {
      watch(fd, EPOLLIN, true);
      start_request(c, 1, true);
      return;
    }
    if (errno != EINPROGRESS) return fail(c);
    watch(fd, EPOLLOUT, true);
  }

  void fail(Conn& c) {
    ++errors_;
    close_conn(c);  // connrate: loop_until opens the replacement
  }

  void close_conn(Conn& c) {
    if (c.state != State::parked) --in_flight_;
    close(c.fd);  // also leaves the epoll set
    c = Conn{};
  }

  void start_request(Conn& c, std::size_t size, bool handshake) {
    if (!handshake) c.start = Clock::now();
    if (c.state == State::parked) ++in_flight_;
    c.handshake = handshake;
    c.message = size;
    c.done = 0;
    c.state = State::sending;
    on_writable(c);
  }

  void on_writable(Conn& c) {
    if (c.state == State::connecting) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) return fail(c);
      c.state = State::sending;
      c.message = 1;
      c.done = 0;
      c.handshake = true;
    }
    while (c.done < c.message) {
      const ssize_t n = send(c.fd, buffer_.data(), c.message - c.done, MSG_NOSIGNAL);
      if (n > 0) {
        c.done += static_cast<std::size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && errno == EAGAIN) {
        watch(c.fd, EPOLLOUT, false);
        return;
      } else {
        return fail(c);
      }
    }
    c.state = State::receiving;
    c.done = 0;
    watch(c.fd, EPOLLIN, false);
  }

  void on_readable(Conn& c) {
    for (;;) {
      const ssize_t n = recv(c.fd, buffer_.data(), buffer_.size(), 0);
      if (n > 0) {
        c.done += static_cast<std::size_t>(n);
        if (c.done >= c.message) return on_reply(c);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && errno == EAGAIN) {
        return;
      } else {
        return fail(c);  // EOF or error before the whole echo came back
      }
    }
  }

  // A whole message came back: record it, then decide the connection's next step.
  void on_reply(Conn& c) {
    const auto now = Clock::now();
    const bool counted = now >= measure_from_ && measure_from_ != Clock::time_point{};
    const bool request_done = o_.mode == Mode::connrate || !c.handshake;
    if (counted && request_done) {
      latencies_us_.push_back(static_cast<uint32_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(now - c.start).count()));
    }
    if (o_.mode == Mode::connrate) {
      close_conn(c);
    } else if (c.handshake && !running_) {
      c.state = State::parked;
      --in_flight_;
    } else {
      c.state = State::parked;
      start_request(c, o_.size, false);
    }
  }

  void poll_once(int timeout_ms) {
    epoll_event events[256];
    const int n = epoll_wait(epoll_, events, 256, timeout_ms);
    for (int i = 0; i < n; ++i) {
      Conn& c = conns_[events[i].data.fd];
      if (c.fd < 0) continue;
      if (c.state == State::connecting || c.state == State::sending) {
        on_writable(c);
      } else if (c.state == State::receiving) {
        on_readable(c);
      } else if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        fail(c);  // a parked connection must stay silent: anything here is a close or error
      }
    }
  }

  void loop_until(Clock::time_point end) {
    running_ = true;
    while (Clock::now() < end) {
      poll_once(10);
      // connrate keeps --conns connections in flight; a failed connect is retried here.
      for (int i = 0; o_.mode == Mode::connrate && in_flight_ < o_.conns && i < o_.conns; ++i)
        open_one();
    }
    running_ = false;
  }

  void report(double measured_s) {
    auto& v = latencies_us_;
    auto pct = [&v](double p) -> unsigned {
      if (v.empty()) return 0;
      const std::size_t k = std::min(v.size() - 1, static_cast<std::size_t>(p * v.size()));
      std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
      return v[k];
    };
    const unsigned p50 = pct(0.50);
    const unsigned p99 = pct(0.99);
    std::printf(
        "{\"mode\":\"%s\",\"conns\":%d,\"size\":%zu,\"seconds\":%.3f,\"requests\":%zu,"
        "\"rps\":%.1f,\"p50_us\":%u,\"p99_us\":%u,\"errors\":%llu}\n",
        o_.mode == Mode::pingpong ? "pingpong" : "connrate", o_.conns, o_.size, measured_s,
        v.size(), v.size() / measured_s, p50, p99, static_cast<unsigned long long>(errors_));
    std::fflush(stdout);
  }

  Options o_;
  int epoll_ = -1;
  std::vector<char> buffer_;
  std::vector<Conn> conns_;  // indexed by descriptor
  std::vector<uint32_t> latencies_us_;
  Clock::time_point measure_from_{};
  int in_flight_ = 0;  // connections not parked
  bool running_ = false;
  unsigned long long errors_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  raise_fd_limit();
  LoadGen gen(options);
  return gen.run();
}
