// Sinks for unit tests. RecordingSink: a MirrorSink It reads what it is handed (tests may copy) and
// checks it against the stream it mirrors, skipping the gaps the records announce, so a test
// can tell "each byte once, in order, or an explicit gap" from anything else.
#pragma once

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "proxy/mirror/mirror_sink.hpp"

namespace spliceproxy {

class RecordingSink final : public MirrorSink {
 public:
  RecordingSink(std::vector<std::byte> truth, std::size_t pipe_size)
      : MirrorSink("recording", 1, pipe_size), truth_(std::move(truth)) {}
  ~RecordingSink() override { stop(); }

  // Read these after stop(): the sink thread has ended.
  std::uint64_t offset = 0;      // where the stream is: bytes received plus bytes dropped
  std::uint64_t received = 0;    // bytes handed over
  std::uint64_t mismatches = 0;  // chunks that differ from the stream at their offset
  int opens = 0;
  int closes = 0;

 private:
  void handle(const MirrorRecord& record, int pipe_fd) override {
    if (record.kind == MirrorRecord::Kind::open) {
      ++opens;
      return;
    }
    offset += record.dropped[0];
    if (record.kind != MirrorRecord::Kind::data) {
      ++closes;
      return;
    }
    std::vector<std::byte> chunk(record.bytes);
    std::size_t got = 0;
    while (got < chunk.size()) {
      const ssize_t n = ::read(pipe_fd, chunk.data() + got, chunk.size() - got);
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    const bool inside = offset + got <= truth_.size();
    // A record may carry no bytes (its pipe held only a skipped duplicate).
    if (got != chunk.size() || !inside ||
        (got > 0 && std::memcmp(chunk.data(), truth_.data() + offset, got) != 0))
      ++mismatches;
    offset += got;
    received += got;
  }

  std::vector<std::byte> truth_;
};

// StuckSink: a sink whose output never drains: handle() blocks in a splice to a socket that no
// one reads, until release() closes the far end. What a stuck disk or consumer looks like.
class StuckSink final : public MirrorSink {
 public:
  StuckSink() : MirrorSink("stuck", 1, 1024 * 1024) {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0) {
      out_.reset(pair[0]);
      far_end_.reset(pair[1]);
    }
  }
  ~StuckSink() override {
    release();
    stop();
  }
  void release() { far_end_.reset(); }

 private:
  void handle(const MirrorRecord& record, int pipe_fd) override {
    if (record.kind != MirrorRecord::Kind::data) return;
    std::size_t moved = 0;
    while (moved < record.bytes) {
      const ssize_t n = ::splice(pipe_fd, nullptr, out_.get(), nullptr, record.bytes - moved, 0);
      if (n <= 0) break;
      moved += static_cast<std::size_t>(n);
    }
    if (moved < record.bytes) discard(pipe_fd, record.bytes - moved);
  }

  UniqueFd out_;
  UniqueFd far_end_;
};

}  // namespace spliceproxy
