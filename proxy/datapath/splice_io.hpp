// splice_io: the thin layer that makes one data-path syscall and classifies its outcome.
//
// Every function retries EINTR, reads errno once, and returns {bytes, status, error}. Callers
// switch on the status; nobody else looks at errno. A per-thread fault hook lets tests make
// the Nth call fail with a chosen errno to reach paths real sockets rarely take.
#pragma once

#include <cstddef>
#include <span>

#include "proxy/datapath/unique_fd.hpp"

namespace spliceproxy::splice_io {

enum class Status {
  progress,     // bytes > 0 moved
  would_block,  // EAGAIN: wait on the reactor (or, reading into a non-empty pipe: it may be full)
  eof,          // the source is at end of stream (0 from a read with len > 0)
  unsupported,  // EINVAL/ENOSYS/EOPNOTSUPP from splice: this descriptor pair can't splice
  error,        // anything else; `error` holds the errno (ECONNRESET, EPIPE, ...)
};

struct Result {
  std::size_t bytes = 0;
  Status status = Status::progress;
  int error = 0;
};

// The largest length passed to one splice call: an over-large length gives EINVAL.
inline constexpr std::size_t kMaxSpliceLength = std::size_t{1} << 30;

// splice(from → to, min(len, kMaxSpliceLength)) with SPLICE_F_NONBLOCK | SPLICE_F_MOVE.
// `len` must be > 0. Returns eof for a 0 result.
Result splice_move(int from, int to, std::size_t len);

// recv(2) into `buffer` (non-empty). Returns eof for a 0 result.
Result read_some(int fd, std::span<std::byte> buffer);

// send(2) of `data` (non-empty) with MSG_NOSIGNAL.
Result write_some(int fd, std::span<const std::byte> data);

// Whether the next byte to read from TCP socket `fd` is an urgent byte (ioctl SIOCATMARK);
// false on error and for sockets without urgent data. Not one of the calls counted below.
bool at_urgent_mark(int fd);

// Closes a socket so that its peer sees an abort (RST: SO_LINGER 0, then close).
void close_with_reset(UniqueFd& socket);

// Test hook: the `nth` call (1 = the next one) made through this layer on the calling thread
// fails with `error` without reaching the kernel. `nth == 0` disarms it.
void inject_fault(unsigned nth, int error);

// Calls made through this layer on the calling thread so far.
unsigned long calls_made();

}  // namespace spliceproxy::splice_io
