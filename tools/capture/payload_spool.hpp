// PayloadSpool: the payload of reassembled flows, kept in an unnamed temporary file rather than
// in memory, so that a capture larger than memory replays, and so that a sender can move the
// bytes to a socket with sendfile(2) without copying them through user space.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "tools/capture/flow_table.hpp"

namespace spliceproxy::capture {

class PayloadSpool {
 public:
  // An O_TMPFILE in `dir` ($TMPDIR or /tmp when empty); throws CaptureError when it cannot.
  explicit PayloadSpool(const std::string& dir = "");
  ~PayloadSpool();
  PayloadSpool(const PayloadSpool&) = delete;
  PayloadSpool& operator=(const PayloadSpool&) = delete;

  // Appends `bytes` and records them at the end of `direction`'s extents (merged with the last
  // one when they follow it in the file and share its timestamp). Throws on a write error.
  void append(FlowDirection& direction, std::span<const std::uint8_t> bytes, std::int64_t time_us);

  // Reads `out.size()` bytes at `offset`; throws on a short read.
  void read(std::uint64_t offset, std::span<std::uint8_t> out) const;

  int fd() const { return fd_; }
  std::uint64_t size() const { return size_; }

 private:
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

}  // namespace spliceproxy::capture
