// replay_flow: connect, send paced extents with sendfile (or pread+send), read and check the
// reply, all on one nonblocking socket under poll.
#include "tools/replay/flow_replay.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <thread>

namespace spliceproxy::replay {
namespace {

using std::chrono::milliseconds;

int poll_timeout(Clock::time_point until) {
  const auto left = std::chrono::ceil<milliseconds>(until - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, 60'000));
}

// A nonblocking socket connected to the target, or -1 with `error` set.
int connect_target(const ReplayOptions& o, std::string& error) {
  const int fd = ::socket(o.target.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return -1;
  }
  int status = 0;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&o.target), o.target_size) != 0) {
    status = errno;
    if (status == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      const auto deadline = Clock::now() + o.connect_timeout;
      int r = 0;
      while ((r = ::poll(&p, 1, poll_timeout(deadline))) < 0 && errno == EINTR) {
      }
      socklen_t size = sizeof status;
      if (r == 0)
        status = ETIMEDOUT;
      else
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &status, &size);
    }
  }
  if (status == 0) return fd;
  error = "connect to " + o.target_text + ": " + std::strerror(status);
  ::close(fd);
  return -1;
}

class FlowReplay {
 public:
  FlowReplay(const capture::Flow& flow, const capture::PayloadSpool& spool,
             const ReplayOptions& options, Clock::time_point start)
      : flow_(flow),
        request_(flow.dir[capture::kClientToBackend]),
        spool_(spool),
        options_(options),
        start_(start),
        checker_(flow.dir[capture::kBackendToClient], spool) {}

  FlowResult run(int fd);

 private:
  Clock::time_point due(std::size_t extent) const;
  bool send_some(int fd);     // false on a send error
  bool receive_some(int fd);  // false once the reply ended
  void end_request(int fd);

  const capture::Flow& flow_;
  const capture::FlowDirection& request_;
  const capture::PayloadSpool& spool_;
  const ReplayOptions& options_;
  Clock::time_point start_;
  ReplyChecker checker_;
  FlowResult result_;
  std::size_t extent_ = 0;  // next extent to send, and bytes of it already sent
  std::uint64_t extent_sent_ = 0;
  bool request_done_ = false;
  bool reply_done_ = false;
  Clock::time_point last_progress_;
};

Clock::time_point FlowReplay::due(std::size_t extent) const {
  if (options_.speed == 0) return start_;
  const double us =
      static_cast<double>(request_.extents[extent].time_us - flow_.first_us) / options_.speed;
  return start_ + std::chrono::microseconds(static_cast<std::int64_t>(std::max(0.0, us)));
}

bool FlowReplay::send_some(int fd) {
  std::array<std::uint8_t, 65536> buffer;
  while (extent_ < request_.extents.size() && Clock::now() >= due(extent_)) {
    const capture::Extent& e = request_.extents[extent_];
    const std::uint64_t left = e.length - extent_sent_;
    ssize_t n = 0;
    if (options_.copy) {
      const std::size_t chunk = std::min<std::uint64_t>(left, buffer.size());
      spool_.read(e.offset + extent_sent_, {buffer.data(), chunk});
      n = ::send(fd, buffer.data(), chunk, MSG_NOSIGNAL | MSG_DONTWAIT);
    } else {
      off_t offset = static_cast<off_t>(e.offset + extent_sent_);
      n = ::sendfile(fd, spool_.fd(), &offset, std::min<std::uint64_t>(left, 1 << 30));
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return true;
    if (n <= 0) {
      result_.error = std::string("send: ") + std::strerror(n < 0 ? errno : EPIPE);
      result_.ending = Ending::reset;
      return false;
    }
    result_.sent += static_cast<std::uint64_t>(n);
    last_progress_ = Clock::now();
    extent_sent_ += static_cast<std::uint64_t>(n);
    if (extent_sent_ == e.length) {
      ++extent_;
      extent_sent_ = 0;
    }
  }
  return true;
}

bool FlowReplay::receive_some(int fd) {
  std::array<std::uint8_t, 65536> buffer;
  for (;;) {
    const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (n > 0) {
      checker_.add({buffer.data(), static_cast<std::size_t>(n)});
      last_progress_ = Clock::now();
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return true;
    result_.ending = n == 0 ? Ending::closed : Ending::reset;
    if (n < 0 && errno != ECONNRESET) result_.error = std::string("recv: ") + std::strerror(errno);
    return false;
  }
}

void FlowReplay::end_request(int fd) {
  request_done_ = true;
  last_progress_ = Clock::now();
  ::shutdown(fd, SHUT_WR);
}

FlowResult FlowReplay::run(int fd) {
  result_.to_send = request_.contiguous;
  last_progress_ = Clock::now();
  for (;;) {
    if (!request_done_ && !send_some(fd)) break;  // the target reset or left
    if (!request_done_ && extent_ == request_.extents.size()) end_request(fd);
    if (request_done_ && reply_done_) break;
    const bool waiting = request_done_ || Clock::now() >= due(extent_);
    if (!waiting) last_progress_ = Clock::now();  // idle only counts while we wait on it
    Clock::time_point wake = last_progress_ + options_.idle_timeout;
    if (!waiting) wake = std::min(wake, due(extent_));
    const short events = (reply_done_ ? 0 : POLLIN) | (waiting && !request_done_ ? POLLOUT : 0);
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, poll_timeout(wake));
    if (r < 0 && errno != EINTR) break;
    if (!reply_done_ && (p.revents & (POLLIN | POLLERR | POLLHUP)) != 0 && !receive_some(fd)) {
      reply_done_ = true;
      if (result_.ending == Ending::reset) break;
    }
    if (r == 0 && waiting && Clock::now() >= last_progress_ + options_.idle_timeout) {
      result_.ending = Ending::idle_timeout;
      break;
    }
  }
  checker_.finish(result_);
  return result_;
}

}  // namespace

FlowResult replay_flow(const capture::Flow& flow, const capture::PayloadSpool& spool,
                       const ReplayOptions& options, Clock::time_point start) {
  std::this_thread::sleep_until(start);  // the captured pace: nothing else to do until then
  FlowResult result;
  const int fd = connect_target(options, result.error);
  if (fd < 0) {
    result.outcome = Outcome::connect_failed;
    result.to_send = flow.dir[capture::kClientToBackend].contiguous;
    return result;
  }
  result = FlowReplay(flow, spool, options, Clock::now()).run(fd);
  ::close(fd);
  return result;
}

}  // namespace spliceproxy::replay
