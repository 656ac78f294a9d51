// splice_io: syscall classification and the fault-injection hook.
#include "proxy/datapath/splice_io.hpp"

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>

namespace spliceproxy::splice_io {
namespace {

struct FaultPlan {
  unsigned countdown = 0;  // 0 = disarmed
  int error = 0;
  unsigned long calls = 0;
};

thread_local FaultPlan fault_plan;

// Counts the call and returns the injected errno when this call is the chosen one, else 0.
int take_fault() {
  ++fault_plan.calls;
  if (fault_plan.countdown == 0 || --fault_plan.countdown != 0) return 0;
  return fault_plan.error;
}

Status classify(int error, bool splicing) {
  switch (error) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
      return Status::would_block;
    case EINVAL:
    case ENOSYS:
    case EOPNOTSUPP:
      return splicing ? Status::unsupported : Status::error;
    default:
      return Status::error;
  }
}

// Runs `call` (returning ssize_t, -1 with errno on failure) once, retrying EINTR.
template <typename Call>
Result run(Call call, bool splicing) {
  if (const int injected = take_fault()) return {0, classify(injected, splicing), injected};
  for (;;) {
    const ssize_t n = call();
    if (n > 0) return {static_cast<std::size_t>(n), Status::progress, 0};
    if (n == 0) return {0, Status::eof, 0};
    const int error = errno;
    if (error == EINTR) continue;
    return {0, classify(error, splicing), error};
  }
}

}  // namespace

Result splice_move(int from, int to, std::size_t len) {
  const std::size_t capped = std::min(len, kMaxSpliceLength);
  return run(
      [&] {
        return ::splice(from, nullptr, to, nullptr, capped, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
      },
      true);
}

Result read_some(int fd, std::span<std::byte> buffer) {
  return run([&] { return ::recv(fd, buffer.data(), buffer.size(), 0); }, false);
}

Result write_some(int fd, std::span<const std::byte> data) {
  return run([&] { return ::send(fd, data.data(), data.size(), MSG_NOSIGNAL); }, false);
}

bool at_urgent_mark(int fd) {
  int at_mark = 0;
  return ::ioctl(fd, SIOCATMARK, &at_mark) == 0 && at_mark != 0;
}

void close_with_reset(UniqueFd& socket) {
  if (!socket) return;
  const ::linger abort{.l_onoff = 1, .l_linger = 0};
  ::setsockopt(socket.get(), SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
  socket.reset();
}

void inject_fault(unsigned nth, int error) {
  fault_plan.countdown = nth;
  fault_plan.error = error;
}

unsigned long calls_made() {
  return fault_plan.calls;
}

}  // namespace spliceproxy::splice_io
