// SpliceChannel: the forwarding loop of one direction.
#include "proxy/datapath/splice_channel.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cstring>

namespace spliceproxy {

using splice_io::Status;

namespace {

// A read that left the socket empty: smaller than asked, and small. Waiting then saves the
// read that would only say EAGAIN; for bulk reads, waiting would cost more than it saves.
bool drained_by(const splice_io::Result& r, std::size_t wanted) {
  return r.status == Status::progress && r.bytes < wanted && r.bytes < SpliceChannel::kSmallRead;
}

constexpr std::size_t kNoCap = ~std::size_t{0};  // an uncapped read

}  // namespace

SpliceChannel::SpliceChannel(int src, int dst, Direction direction, ChannelMode mode,
                             ChannelContext context, ChannelWatches watches)
    : src_fd_(src),
      dst_fd_(dst),
      direction_(direction),
      mode_(mode),
      context_(std::move(context)),
      watches_(watches),
      tap_(context_.tap && context_.tap->mirrors(static_cast<unsigned>(direction)) ? context_.tap
                                                                                   : nullptr) {}

SpliceChannel::~SpliceChannel() {
  cancel_wait();
  release_pipe();
}

void SpliceChannel::stop() {
  if (state_ == State::running) state_ = State::done;
  cancel_wait();
  release_pipe();
  src_fd_ = dst_fd_ = -1;  // the session closes them next; their numbers may be reused
}

// Loop until a syscall would block or the channel ends. Each round reads once (if the buffer
// has room) and then writes out what the buffer holds, so a burst goes through in few calls.
// A write the destination took only in part ends the loop too (see below).
void SpliceChannel::pump() {
  while (state_ == State::running && !waiting_) {
    bool moved = false;
    const bool reading = !src_eof_ && !source_drained_ && room() > 0;
    const std::size_t cap = reading && throttle_ ? throttle_->allowance() : kNoCap;
    if (cap == 0 && buffered() == 0) return wait_for_tokens();
    if (reading && cap > 0) {
      const splice_io::Result in = fill(cap);
      switch (in.status) {
        case Status::progress:
          if (throttle_) throttle_->consume(in.bytes);
          moved = true;
          break;
        case Status::eof:
          src_eof_ = true;
          break;
        case Status::would_block:
          // With bytes buffered, EAGAIN may mean the pipe is out of slots rather than the
          // socket being empty (SPLICE-NOTES): drain below, then read again.
          if (buffered() == 0) {
            if (wait(false)) return;
            continue;  // an edge came meanwhile: read again
          }
          break;
        case Status::unsupported:
          if (!fall_back_to_copy()) return fail(Side::source, in);
          continue;
        case Status::error:
          return fail(Side::source, in);
      }
    }
    splice_io::Result out{0, Status::would_block, 0};
    bool destination_full = false;
    if (const std::size_t pending = next_write(); pending > 0) {
      out = drain();
      if (out.status == Status::progress) {
        moved = true;
        destination_full = out.bytes < pending;
      }
    }
    keep_leftover();
    if (moved) last_progress_ = Clock::now();
    // A short write found the destination full: wait for room, as after EAGAIN, without the
    // call that would say it and without reading on. A read now would take the few bytes that
    // came since the last one, while the sender, whose window that read opens, keeps sending:
    // its segments then reach the source while the read holds it, and the kernel processes
    // them in our context. Waiting, the next read takes a full buffer in one call. Room that
    // comes before the wait is not lost: the poller notes the edge, or checks readiness when it
    // adds writing back to its interest.
    if ((out.status == Status::would_block || destination_full) && buffered() > 0) {
      if (wait(true)) return;
      continue;
    }
    if (out.status != Status::progress && out.status != Status::would_block)
      return fail(Side::destination, out);
    if (src_eof_ && buffered() == 0) return finish();
    // The last read was a small message that left the socket empty: rather than read again
    // for an EAGAIN, wait. Bytes that arrived meanwhile complete the wait at once (the poller
    // remembers the edge).
    if (source_drained_ && buffered() == 0) {
      if (wait(false)) return;
      continue;
    }
    if (!moved) return;
  }
}

// Which path the next read takes (see the header): a path holding bytes keeps the flow.
bool SpliceChannel::reads_into_pipe() const {
  if (mode_ == ChannelMode::copy) return false;
  if (bytes_in_pipe_ > 0) return true;
  if (buffer_end_ > buffer_begin_) return false;  // also in mode splice, past an urgent mark
  return mode_ == ChannelMode::splice || bulk_;
}

// Reads from the source once, into the pipe or the copy buffer.
splice_io::Result SpliceChannel::fill(std::size_t cap) {
  return reads_into_pipe() ? fill_pipe(cap) : fill_buffer(cap);
}

// One splice into the pipe, taking a pipe from the pool first.
splice_io::Result SpliceChannel::fill_pipe(std::size_t cap) {
  if (!pipe_) {
    pipe_ = context_.pipes.acquire();
    // Out of descriptors for now: this read copies, and the next one asks for a pipe again.
    if (!pipe_) return fill_buffer(cap);
  }
  const std::size_t wanted = std::min(room(), cap);
  const splice_io::Result r = splice_io::splice_move(src_fd_, pipe_->write_fd(), wanted);
  // A short splice may have stopped at the pipe's slot limit: it proves nothing about the
  // socket, so no wait follows it without an EAGAIN first (see edge_poller.hpp).
  note_read(r, wanted, false);
  if (r.status == Status::progress) {
    bytes_in_pipe_ += r.bytes;
    if (tap_) tap_->tee(static_cast<unsigned>(direction_), pipe_->read_fd(), r.bytes);
  }
  // Splice stops short of a TCP urgent mark and says EAGAIN although bytes follow; recv reads
  // past it (the urgent byte itself is not forwarded). Only a socket whose last event carried
  // EPOLLPRI is asked.
  if (r.status == Status::would_block && bytes_in_pipe_ == 0 &&
      context_.poller.urgent(watches_.src) && splice_io::at_urgent_mark(src_fd_)) {
    return fill_buffer(cap);
  }
  return r;
}

// One recv: into the channel's own buffer if it holds one, else into the worker's scratch.
splice_io::Result SpliceChannel::fill_buffer(std::size_t cap) {
  if (buffer_begin_ == buffer_end_) buffer_begin_ = buffer_end_ = 0;
  area_ = held_ ? held_.get() : context_.scratch.data();
  const std::size_t size =
      held_ ? kCopyBufferSize : std::min(context_.scratch.size(), kCopyBufferSize);
  const std::size_t wanted = std::min(size - buffer_end_, cap);
  const splice_io::Result r = splice_io::read_some(src_fd_, {area_ + buffer_end_, wanted});
  note_read(r, wanted, true);
  if (r.status == Status::progress) {
    if (tap_) tap_->write(static_cast<unsigned>(direction_), {area_ + buffer_end_, r.bytes});
    buffer_end_ += r.bytes;
  }
  return r;
}

// Classifies a read: whether it may be taken as having drained the socket (`may_skip_eagain`:
// the wait that follows needs no EAGAIN first), and (mode adaptive) whether the flow is bulk.
void SpliceChannel::note_read(const splice_io::Result& read, std::size_t wanted,
                              bool may_skip_eagain) {
  const bool small = drained_by(read, wanted);
  source_drained_ = small && may_skip_eagain;
  if (read.status != Status::progress) return;
  if (read.bytes >= kSmallRead) {
    bulk_ = true;
    small_reads_ = 0;
  } else if (small && ++small_reads_ >= kSmallReadsToCopy) {
    bulk_ = false;
  }
}

// Writes next_write() bytes to the destination and counts what it took.
splice_io::Result SpliceChannel::drain() {
  const bool spliced = bytes_in_pipe_ > 0;
  const std::size_t pending = next_write();
  splice_io::Result r;
  if (spliced) {
    r = splice_io::splice_move(pipe_->read_fd(), dst_fd_, pending);
    if (r.status == Status::progress) bytes_in_pipe_ -= r.bytes;
  } else {
    r = splice_io::write_some(dst_fd_, {area_ + buffer_begin_, pending});
    if (r.status == Status::progress) buffer_begin_ += r.bytes;
  }
  if (r.status != Status::progress) return r;
  bytes_forwarded_ += r.bytes;
  context_.stats.add(spliced ? Counter::bytes_spliced_total : Counter::bytes_copied_total, r.bytes);
  context_.stats.add(direction_ == Direction::client_to_backend
                         ? Counter::bytes_client_to_backend_total
                         : Counter::bytes_backend_to_client_total,
                     r.bytes);
  return r;
}

// Ends a round of pump(): bytes still in the scratch buffer move to the channel's own buffer.
void SpliceChannel::keep_leftover() {
  if (area_ == nullptr || area_ == held_.get()) return;
  const std::size_t pending = buffer_end_ - buffer_begin_;
  if (pending > 0) {
    held_ = std::make_unique_for_overwrite<std::byte[]>(kCopyBufferSize);
    std::memcpy(held_.get(), area_ + buffer_begin_, pending);
  }
  area_ = pending > 0 ? held_.get() : nullptr;
  buffer_begin_ = 0;
  buffer_end_ = pending;
}

// The pipe's bytes, else the copy buffer's: a path holding bytes keeps the flow (see
// reads_into_pipe()), so both never do; if they did, the pipe would go first, then the buffer.
std::size_t SpliceChannel::next_write() const {
  return bytes_in_pipe_ > 0 ? bytes_in_pipe_ : buffer_end_ - buffer_begin_;
}

std::size_t SpliceChannel::buffered() const {
  return bytes_in_pipe_ + (buffer_end_ - buffer_begin_);
}

std::size_t SpliceChannel::room() const {
  // The copy buffer refills from its start only once it is empty.
  if (!reads_into_pipe()) {
    if (!held_) return std::min(context_.scratch.size(), kCopyBufferSize);
    return buffer_end_ == buffer_begin_ ? kCopyBufferSize : kCopyBufferSize - buffer_end_;
  }
  // Without a pipe yet, any positive room lets fill() take one from the pool. A mirrored
  // channel reads only into an empty pipe: tee copies from the head (see the header).
  if (tap_ && bytes_in_pipe_ > 0) return 0;
  return pipe_ ? pipe_->capacity() - bytes_in_pipe_ : kCopyBufferSize;
}

// Splice was refused (a descriptor pair it does not support). Copying carries
// on only if no byte is stuck in a pipe; returns false when the channel must fail instead.
bool SpliceChannel::fall_back_to_copy() {
  if (mode_ == ChannelMode::copy || bytes_in_pipe_ != 0) return false;
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

// Starts a wait; returns false when the socket turned out ready already (the poller saw an
// edge since the last wait), for the caller to try again.
bool SpliceChannel::wait(bool writable) {
  if (!writable) go_idle();
  if (!context_.poller.wait(writable ? watches_.dst : watches_.src, writable, this)) return false;
  waiting_ = true;
  return true;
}

// An idle channel holds no pipe and no copy buffer (a wait for readability, or for tokens,
// means both are empty): thousands of idle connections cost no buffer memory.
void SpliceChannel::go_idle() {
  release_pipe();
  held_.reset();
  area_ = nullptr;
  buffer_begin_ = buffer_end_ = 0;
  source_drained_ = false;
}

// Out of bandwidth tokens with nothing buffered: the throttle's timer resumes the channel.
void SpliceChannel::wait_for_tokens() {
  go_idle();
  waiting_ = true;
  throttle_->wait([this] { on_ready(false); });
}

// From the poller (errors and hang-ups come as readiness: the next syscall reports them), or
// from the throttle's timer.
void SpliceChannel::on_ready(bool /*writable*/) {
  const auto owner = context_.owner.lock();  // the session outlives this call
  if (!owner) return;
  waiting_ = false;
  if (state_ == State::running) pump();
}

// A wait pending on a channel that stops or goes away is withdrawn.
void SpliceChannel::cancel_wait() {
  if (throttle_) throttle_->cancel();
  if (!waiting_) return;
  context_.poller.cancel(watches_.src, false, this);
  context_.poller.cancel(watches_.dst, true, this);
}

void SpliceChannel::finish() {
  release_pipe();
  ::shutdown(dst_fd_, SHUT_WR);  // the peer may be gone already; the session sees that
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
