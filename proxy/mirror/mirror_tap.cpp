// MirrorTap: tee/write into feed pipes, drop accounting, records.
#include "proxy/mirror/mirror_tap.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <utility>

namespace spliceproxy {

std::int64_t wall_clock_us() {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<std::int64_t>(now.tv_sec) * 1000000 + now.tv_nsec / 1000;
}

void MirrorTap::add(MirrorSink& sink, unsigned mask, unsigned worker, std::uint64_t flow) {
  targets_.push_back(Target{&sink, mask, worker, flow});
  mask_ |= mask;
}

MirrorRecord MirrorTap::record(MirrorRecord::Kind kind, const Target& target) const {
  MirrorRecord r;
  r.kind = kind;
  r.flow = target.flow;
  r.time_us = wall_clock_us();
  return r;
}

void MirrorTap::open(const FlowEndpoint& client, const FlowEndpoint& backend) {
  closed_ = false;
  for (const Target& target : targets_) {
    MirrorRecord r = record(MirrorRecord::Kind::open, target);
    r.client = client;
    r.backend = backend;
    target.sink->push(r);
  }
}

void MirrorTap::close(bool reset) {
  if (closed_) return;
  closed_ = true;
  for (const Target& target : targets_) {
    MirrorRecord r = record(reset ? MirrorRecord::Kind::reset : MirrorRecord::Kind::close, target);
    r.dropped = target.pending_drop;
    target.sink->push(r);
  }
}

void MirrorTap::drop(Target& target, unsigned direction, std::uint64_t bytes) {
  if (bytes == 0) return;
  // A gap is a run of lost bytes: a drop right after another one extends it.
  if (target.pending_drop[direction] == 0) {
    stats_.add(Counter::mirror_gaps_total);
    target.sink->counters().gaps.fetch_add(1, std::memory_order_relaxed);
  }
  target.pending_drop[direction] += bytes;
  dropped_bytes_ += bytes;
  stats_.add(Counter::mirror_dropped_bytes_total, bytes);
  target.sink->counters().dropped_bytes.fetch_add(bytes, std::memory_order_relaxed);
}

// A pipe refuses a chunk, or takes only its head, when its buffer slots run out (a chunk of
// small reads takes many). The chunk then goes, whole, to an empty pipe if there is one, with
// a `skip` of what the first pipe took: the sink throws those duplicate bytes away unread.
template <typename Copy>
void MirrorTap::deliver(unsigned direction, std::size_t bytes, Copy&& copy) {
  for (Target& target : targets_) {
    if (!((target.mask >> direction) & 1u)) continue;
    MirrorSink& sink = *target.sink;
    std::size_t done = 0;  // bytes of the chunk the sink will get
    unsigned pipe = sink.pick_pipe(target.worker, false);
    for (int attempt = 0; attempt < 2 && done < bytes; ++attempt) {
      if (attempt == 1) {
        const unsigned other = sink.pick_pipe(target.worker, true);
        if (other == pipe) break;
        pipe = other;
      }
      if (!sink.reserve_data()) break;
      const ssize_t n = copy(sink.pipe_fd(pipe), bytes);  // always from the chunk's start
      if (n <= 0) {
        sink.cancel_data();
        continue;
      }
      const auto got = static_cast<std::size_t>(n);
      MirrorRecord r = record(MirrorRecord::Kind::data, target);
      r.direction = static_cast<std::uint8_t>(direction);
      r.feed = static_cast<std::uint16_t>(pipe);
      r.skip = static_cast<std::uint32_t>(std::min(done, got));
      r.bytes = static_cast<std::uint32_t>(got - r.skip);
      r.dropped[direction] = std::exchange(target.pending_drop[direction], 0);
      sink.push(r);
      done = std::max(done, got);
    }
    stats_.add(Counter::mirror_bytes_total, done);
    drop(target, direction, bytes - done);
  }
}

void MirrorTap::tee(unsigned direction, int pipe_fd, std::size_t bytes) {
  deliver(direction, bytes, [pipe_fd](int mirror_fd, std::size_t len) {
    return ::tee(pipe_fd, mirror_fd, len, SPLICE_F_NONBLOCK);
  });
}

void MirrorTap::write(unsigned direction, std::span<const std::byte> data) {
  deliver(direction, data.size(),
          [data](int mirror_fd, std::size_t len) { return ::write(mirror_fd, data.data(), len); });
}

}  // namespace spliceproxy
