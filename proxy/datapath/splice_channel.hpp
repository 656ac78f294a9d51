// SpliceChannel: one direction of a Session, source socket → buffer → destination socket.
//
//            splice                 splice
//   src ─────────────▶ [ pipe ] ─────────────▶ dst      pipe path (zero-copy)
//   src ─────────────▶ [ buf  ] ─────────────▶ dst      copy path
//            recv                    send
//
// Mode splice always takes the pipe path, mode copy (and any channel after a fallback) the
// copy path. Mode adaptive copies while the flow's reads are small (messages: a recv and a
// send cost less than two splices and a pipe) and splices once a read proves the flow bulk
// (kSmallRead or more), returning to copying after kSmallReadsToCopy small reads with no
// large one between.
// It switches only while the path it leaves holds no byte, so the order is kept.
//
// The copy path reads into the worker's scratch buffer and sends from it at once; only bytes
// the destination did not take move to a buffer of the channel's own, kept until the channel
// next waits to read. The scratch holds nothing between two rounds of pump().
//
//                  └── tee / write ──▶ ChannelTap (if mirrored: once per chunk read)
//
//   src EOF + buffer empty ──▶ shutdown(dst, SHUT_WR) ──▶ done
//   error on either side   ──▶ failed (the Session aborts both directions)
//
// The channel tries the syscall first and waits only after EAGAIN, with at most one wait
// pending (readable while the buffer is empty, writable while it is not). It waits through
// the worker's EdgePoller (no syscall per wait), in whose set both sockets are. A short write
// counts as EAGAIN (the destination is full: the
// channel waits for room without reading on, so that its next read takes a full buffer), and
// so does a short recv of a small message (the socket is drained).
// A splice that stops at a TCP urgent mark reads on with one recv (the urgent byte is dropped).
// The pipe comes from the worker's pool when bytes arrive and goes back once empty, so an idle
// channel holds no pipe. Reading stops while the buffer is full: memory is bounded by the
// buffer size plus kernel socket buffers. A mirrored channel in splice mode reads only into an
// empty pipe, so that tee (which copies from the pipe's head) sees exactly the new chunk.
// A capped channel (set_throttle) reads at most the bytes its ChannelThrottle allows, and with
// none allowed and nothing buffered waits on the throttle's timer, holding no pipe meanwhile.
#pragma once

#include <boost/asio/generic/stream_protocol.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "proxy/base/stats.hpp"
#include "proxy/datapath/channel_tap.hpp"
#include "proxy/datapath/channel_throttle.hpp"
#include "proxy/datapath/edge_poller.hpp"
#include "proxy/datapath/pipe.hpp"
#include "proxy/datapath/pipe_pool.hpp"
#include "proxy/datapath/splice_io.hpp"

namespace spliceproxy {

using Socket = boost::asio::generic::stream_protocol::socket;
using Clock = std::chrono::steady_clock;

enum class Direction { client_to_backend, backend_to_client };

enum class ChannelMode { splice, copy, adaptive };

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
  ChannelTap* tap = nullptr;  // the session's mirrors, if any; outlives the channel
  // The worker's scratch buffer for copy-path reads (see above); non-empty, shared by all
  // channels of the worker's thread.
  std::span<std::byte> scratch;
  EdgePoller& poller;  // the worker's: the sockets' readiness
};

// A channel's two sockets in the context's poller.
struct ChannelWatches {
  EdgePoller::Id src = 0;
  EdgePoller::Id dst = 0;
};

class SpliceChannel : private EdgePoller::Waiter {
 public:
  enum class State { running, done, failed };
  enum class Side { none, source, destination };
  // The size of a channel's own copy buffer, and of a worker's scratch buffer.
  static constexpr std::size_t kCopyBufferSize = 64 * 1024;
  // A read under this size that did not fill the room asked for is a small read: a message
  // that drained the socket. Bulk reads (loopback and GRO deliver 64 KiB segments) are larger.
  static constexpr std::size_t kSmallRead = 16 * 1024;
  // Mode adaptive: small reads (no large one between) after which a bulk flow copies again.
  static constexpr unsigned kSmallReadsToCopy = 4;

  // `src`, `dst`: non-blocking sockets the caller owns, added to the poller as `watches`.
  SpliceChannel(int src, int dst, Direction direction, ChannelMode mode, ChannelContext context,
                ChannelWatches watches);
  ~SpliceChannel();
  SpliceChannel(const SpliceChannel&) = delete;
  SpliceChannel& operator=(const SpliceChannel&) = delete;

  // Caps the bytes the channel reads (see channel_throttle.hpp); before start() only.
  void set_throttle(std::unique_ptr<ChannelThrottle> throttle) { throttle_ = std::move(throttle); }
  // Moves what it can now, then waits for the reactor. Both sockets must be non-blocking.
  void start() { pump(); }
  // Waits for the source to be readable first: for a source with nothing to read yet (a
  // backend just connected), a recv that would say EAGAIN fewer. Bytes that came before are
  // not missed: the poller noted their edge, or reports them after adding the socket.
  void start_waiting() {
    if (!wait(false)) pump();
  }

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
  bool holds_buffer() const { return pipe_.has_value() || held_ != nullptr; }

 private:
  void pump();
  bool reads_into_pipe() const;
  // Reads at most `cap` bytes (and what the buffer has room for).
  splice_io::Result fill(std::size_t cap);
  splice_io::Result fill_pipe(std::size_t cap);
  splice_io::Result fill_buffer(std::size_t cap);
  void note_read(const splice_io::Result& read, std::size_t wanted, bool may_skip_eagain);
  splice_io::Result drain();
  void keep_leftover();
  std::size_t buffered() const;
  std::size_t next_write() const;  // the bytes drain() offers the destination
  std::size_t room() const;
  bool fall_back_to_copy();
  void release_pipe();
  bool wait(bool writable);
  void go_idle();
  void wait_for_tokens();
  void on_ready(bool writable) override;
  void cancel_wait();
  void finish();
  void fail(Side side, const splice_io::Result& result);

  int src_fd_;
  int dst_fd_;
  Direction direction_;
  ChannelMode mode_;
  ChannelContext context_;
  ChannelWatches watches_;
  ChannelTap* tap_;                            // null unless this direction is mirrored
  std::unique_ptr<ChannelThrottle> throttle_;  // null unless capped
  State state_ = State::running;
  Side failed_side_ = Side::none;
  int error_ = 0;

  std::optional<Pipe> pipe_;
  std::size_t bytes_in_pipe_ = 0;
  // Copy path: [buffer_begin_, buffer_end_) of area_ is pending. area_ is the scratch buffer
  // within a round of pump(), held_ across rounds, or null while nothing is pending.
  std::unique_ptr<std::byte[]> held_;
  std::byte* area_ = nullptr;
  std::size_t buffer_begin_ = 0;
  std::size_t buffer_end_ = 0;
  bool bulk_ = false;         // mode adaptive: read into the pipe
  unsigned small_reads_ = 0;  // small reads in a row

  bool src_eof_ = false;
  bool source_drained_ = false;  // the last read was a small message: wait, then read
  bool waiting_ = false;
  std::uint64_t bytes_forwarded_ = 0;
  Clock::time_point last_progress_ = Clock::now();
};

}  // namespace spliceproxy
