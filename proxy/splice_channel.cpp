// SpliceChannel: the forwarding loop of one direction.
#include "proxy/splice_channel.hpp"

#include <sys/socket.h>

namespace spliceproxy {

using splice_io::Status;

namespace {

// A read under this size that did not fill the room asked for is taken as a message that
// drained the socket. Bulk reads (loopback and GRO deliver 64 KiB segments) are larger and
// read again at once: there, waiting would cost more syscalls than the EAGAIN it saves.
constexpr std::size_t kSmallRead = 16 * 1024;

bool drained_by(const splice_io::Result& r, std::size_t wanted) {
  return r.status == Status::progress && r.bytes < wanted && r.bytes < kSmallRead;
}

}  // namespace

SpliceChannel::SpliceChannel(Socket& src, Socket& dst, Direction direction, ChannelMode mode,
                             ChannelContext context)
    : src_(src),
      dst_(dst),
      direction_(direction),
      mode_(mode),
      context_(std::move(context)),
      tap_(context_.tap && context_.tap->mirrors(static_cast<unsigned>(direction)) ? context_.tap
                                                                                   : nullptr) {}

SpliceChannel::~SpliceChannel() {
  release_pipe();
}

void SpliceChannel::stop() {
  if (state_ == State::running) state_ = State::done;
  release_pipe();
}

// Loop until a syscall would block or the channel ends. Each round reads once (if the buffer
// has room) and then writes out what the buffer holds, so a burst goes through in few calls.
void SpliceChannel::pump() {
  while (state_ == State::running && !waiting_) {
    bool moved = false;
    if (!src_eof_ && !source_drained_ && room() > 0) {
      const splice_io::Result in = fill();
      switch (in.status) {
        case Status::progress:
          moved = true;
          break;
        case Status::eof:
          src_eof_ = true;
          break;
        case Status::would_block:
          // With bytes buffered, EAGAIN may mean the pipe is out of slots rather than the
          // socket being empty (SPLICE-NOTES): drain below, then read again.
          if (buffered() == 0) return wait(src_, false);
          break;
        case Status::unsupported:
          if (!fall_back_to_copy()) return fail(Side::source, in);
          continue;
        case Status::error:
          return fail(Side::source, in);
      }
    }
    splice_io::Result out{0, Status::would_block, 0};
    if (buffered() > 0) {
      out = drain();
      if (out.status == Status::progress) moved = true;
    }
    if (moved) last_progress_ = Clock::now();
    if (out.status == Status::would_block && buffered() > 0) return wait(dst_, true);
    if (out.status != Status::progress && out.status != Status::would_block)
      return fail(Side::destination, out);
    if (src_eof_ && buffered() == 0) return finish();
    // The last read was a small message that left the socket empty: rather than read again
    // for an EAGAIN, wait. Starting a wait re-arms the descriptor (EPOLL_CTL_MOD), so bytes
    // that arrived meanwhile complete it at once.
    if (source_drained_ && buffered() == 0) return wait(src_, false);
    if (!moved) return;
  }
}

// Reads from the source into the buffer: one splice into the pipe (taking a pipe from the
// pool first) or one recv into the user buffer.
splice_io::Result SpliceChannel::fill() {
  if (mode_ == ChannelMode::splice) {
    if (!pipe_) {
      pipe_ = context_.pipes.acquire();
      if (!pipe_) return {0, Status::unsupported, EMFILE};
    }
    const std::size_t wanted = room();
    const splice_io::Result r =
        splice_io::splice_move(src_.native_handle(), pipe_->write_fd(), wanted);
    source_drained_ = drained_by(r, wanted);
    if (r.status == Status::progress) {
      bytes_in_pipe_ += r.bytes;
      if (tap_) tap_->tee(static_cast<unsigned>(direction_), pipe_->read_fd(), r.bytes);
    }
    return r;
  }
  if (!buffer_) buffer_ = std::make_unique<std::byte[]>(kCopyBufferSize);
  if (buffer_begin_ == buffer_end_) buffer_begin_ = buffer_end_ = 0;
  const std::size_t wanted = kCopyBufferSize - buffer_end_;
  const splice_io::Result r =
      splice_io::read_some(src_.native_handle(), {buffer_.get() + buffer_end_, wanted});
  source_drained_ = drained_by(r, wanted);
  if (r.status == Status::progress) {
    if (tap_)
      tap_->write(static_cast<unsigned>(direction_), {buffer_.get() + buffer_end_, r.bytes});
    buffer_end_ += r.bytes;
  }
  return r;
}

// Writes buffered bytes to the destination and counts them.
splice_io::Result SpliceChannel::drain() {
  splice_io::Result r;
  if (mode_ == ChannelMode::splice) {
    r = splice_io::splice_move(pipe_->read_fd(), dst_.native_handle(), bytes_in_pipe_);
    if (r.status == Status::progress) bytes_in_pipe_ -= r.bytes;
  } else {
    r = splice_io::write_some(dst_.native_handle(),
                              {buffer_.get() + buffer_begin_, buffer_end_ - buffer_begin_});
    if (r.status == Status::progress) buffer_begin_ += r.bytes;
  }
  if (r.status != Status::progress) return r;
  bytes_forwarded_ += r.bytes;
  context_.stats.add(
      mode_ == ChannelMode::splice ? Counter::bytes_spliced_total : Counter::bytes_copied_total,
      r.bytes);
  context_.stats.add(direction_ == Direction::client_to_backend
                         ? Counter::bytes_client_to_backend_total
                         : Counter::bytes_backend_to_client_total,
                     r.bytes);
  return r;
}

std::size_t SpliceChannel::buffered() const {
  return mode_ == ChannelMode::splice ? bytes_in_pipe_ : buffer_end_ - buffer_begin_;
}

std::size_t SpliceChannel::room() const {
  // The user buffer refills from its start only once it is empty.
  if (mode_ == ChannelMode::copy)
    return buffered() == 0 ? kCopyBufferSize : kCopyBufferSize - buffer_end_;
  // Without a pipe yet, any positive room lets fill() take one from the pool. A mirrored
  // channel reads only into an empty pipe: tee copies from the head (see the header).
  if (tap_ && bytes_in_pipe_ > 0) return 0;
  return pipe_ ? pipe_->capacity() - bytes_in_pipe_ : kCopyBufferSize;
}

// Splice was refused (unsupported descriptor pair, or no pipe to be had). Copying carries
// on only if no byte is stuck in a pipe; returns false when the channel must fail instead.
bool SpliceChannel::fall_back_to_copy() {
  if (mode_ != ChannelMode::splice || bytes_in_pipe_ != 0) return false;
  release_pipe();
  mode_ = ChannelMode::copy;
  context_.stats.add(Counter::splice_fallbacks_total);
  return true;
}

void SpliceChannel::release_pipe() {
  if (!pipe_) return;
  context_.pipes.release(std::move(*pipe_), bytes_in_pipe_);
  pipe_.reset();
  bytes_in_pipe_ = 0;
}

void SpliceChannel::wait(Socket& socket, bool writable) {
  // An idle channel holds no pipe and no copy buffer (a wait for readability means both are
  // empty): thousands of idle connections cost no buffer memory.
  if (!writable) {
    release_pipe();
    buffer_.reset();
    source_drained_ = false;
  }
  waiting_ = true;
  socket.async_wait(writable ? Socket::wait_write : Socket::wait_read,
                    [this, writable, owner = context_.owner.lock()](
                        const boost::system::error_code& ec) { on_wait(writable, ec); });
}

void SpliceChannel::on_wait(bool writable, const boost::system::error_code& ec) {
  waiting_ = false;
  if (state_ != State::running) return;
  if (ec == boost::asio::error::operation_aborted) return;
  if (ec) {
    return fail(writable ? Side::destination : Side::source, {0, Status::error, ec.value()});
  }
  pump();
}

void SpliceChannel::finish() {
  release_pipe();
  boost::system::error_code ignored;  // the peer may be gone already; the session sees that
  dst_.shutdown(Socket::shutdown_send, ignored);
  state_ = State::done;
  context_.observer.on_channel_end(*this);
}

void SpliceChannel::fail(Side side, const splice_io::Result& result) {
  failed_side_ = side;
  error_ = result.error;
  state_ = State::failed;
  release_pipe();
  context_.observer.on_channel_end(*this);
}

}  // namespace spliceproxy
