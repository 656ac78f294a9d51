// SpliceChannel: one direction of a Session, source socket → buffer → destination socket.
//
//            splice                 splice
//   src ─────────────▶ [ pipe ] ─────────────▶ dst      mode splice (zero-copy)
//   src ─────────────▶ [ buf  ] ─────────────▶ dst      mode copy, or after a fallback
//            recv                    send
//
//                  └── tee / write ──▶ MirrorTap (if mirrored: once per chunk read)
//
//   src EOF + buffer empty ──▶ shutdown(dst, SHUT_WR) ──▶ done
//   error on either side   ──▶ failed (the Session aborts both directions)
//
// The channel tries the syscall first and waits on the reactor only after EAGAIN, with at
// most one wait pending (readable while the buffer is empty, writable while it is not). The
// pipe comes from the worker's pool when bytes arrive and goes back once empty, so an idle
// channel holds no pipe. Reading stops while the buffer is full: memory is bounded by the
// buffer size plus kernel socket buffers. A mirrored channel in splice mode reads only into an
// empty pipe, so that tee (which copies from the pipe's head) sees exactly the new chunk.
#pragma once

#include <boost/asio/generic/stream_protocol.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "proxy/mirror_tap.hpp"
#include "proxy/pipe.hpp"
#include "proxy/pipe_pool.hpp"
#include "proxy/splice_io.hpp"
#include "proxy/stats.hpp"

namespace spliceproxy {

using Socket = boost::asio::generic::stream_protocol::socket;
using Clock = std::chrono::steady_clock;

enum class Direction { client_to_backend, backend_to_client };

enum class ChannelMode { splice, copy };

class SpliceChannel;

// Told once when a channel has ended, either way.
class ChannelObserver {
 public:
  virtual void on_channel_end(SpliceChannel& channel) = 0;

 protected:
  ~ChannelObserver() = default;
};

// What a channel needs from its worker and session; all outlive the channel.
struct ChannelContext {
  PipePool& pipes;
  Stats& stats;
  ChannelObserver& observer;
  std::weak_ptr<void> owner;  // kept alive by pending waits
  MirrorTap* tap = nullptr;   // the session's mirrors, if any; outlives the channel
};

class SpliceChannel {
 public:
  enum class State { running, done, failed };
  enum class Side { none, source, destination };
  static constexpr std::size_t kCopyBufferSize = 64 * 1024;

  SpliceChannel(Socket& src, Socket& dst, Direction direction, ChannelMode mode,
                ChannelContext context);
  ~SpliceChannel();
  SpliceChannel(const SpliceChannel&) = delete;
  SpliceChannel& operator=(const SpliceChannel&) = delete;

  // Moves what it can now, then waits for the reactor. Both sockets must be non-blocking.
  void start() { pump(); }

  // Ends the channel without telling the observer; pending waits finish as no-ops once the
  // sockets are closed. Bytes still buffered are dropped with the pipe that holds them.
  void stop();

  State state() const { return state_; }
  Direction direction() const { return direction_; }
  ChannelMode mode() const { return mode_; }
  // For a failed channel: which socket failed and the errno.
  Side failed_side() const { return failed_side_; }
  int error() const { return error_; }
  std::uint64_t bytes_forwarded() const { return bytes_forwarded_; }
  Clock::time_point last_progress() const { return last_progress_; }
  // Whether the channel holds a pipe or a copy buffer (an idle one holds neither).
  bool holds_buffer() const { return pipe_.has_value() || buffer_ != nullptr; }

 private:
  void pump();
  splice_io::Result fill();
  splice_io::Result drain();
  std::size_t buffered() const;
  std::size_t room() const;
  bool fall_back_to_copy();
  void release_pipe();
  void wait(Socket& socket, bool writable);
  void on_wait(bool writable, const boost::system::error_code& ec);
  void finish();
  void fail(Side side, const splice_io::Result& result);

  Socket& src_;
  Socket& dst_;
  Direction direction_;
  ChannelMode mode_;
  ChannelContext context_;
  MirrorTap* tap_;  // null unless this direction is mirrored
  State state_ = State::running;
  Side failed_side_ = Side::none;
  int error_ = 0;

  std::optional<Pipe> pipe_;
  std::size_t bytes_in_pipe_ = 0;
  std::unique_ptr<std::byte[]> buffer_;  // copy mode: [buffer_begin_, buffer_end_) is pending
  std::size_t buffer_begin_ = 0;
  std::size_t buffer_end_ = 0;

  bool src_eof_ = false;
  bool source_drained_ = false;  // the last read was a small message: wait, then read
  bool waiting_ = false;
  std::uint64_t bytes_forwarded_ = 0;
  Clock::time_point last_progress_ = Clock::now();
};

}  // namespace spliceproxy
