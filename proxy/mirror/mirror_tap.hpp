// MirrorTap: the worker side of mirroring for one session. The session opens it with the
// sinks chosen at accept; each SpliceChannel calls it once per chunk read, and the session
// closes it at the end.
//
//   channel pipe ──tee (head = the chunk just spliced in)──▶ a feed pipe of sink A, B ...
//   copy buffer  ──write──────────────────────────────────▶ a feed pipe of sink A, B ...
//
// Each chunk reaches each sink at most once, in order, or is counted as dropped: a short tee
// or write (the feed pipes are full) drops the chunk's tail, a full record queue drops the whole
// chunk. Drops are carried into the sink's next record for that direction (a gap in the capture's
// sequence numbers) and counted in Stats. Never blocks, never allocates per chunk.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "proxy/base/stats.hpp"
#include "proxy/datapath/channel_tap.hpp"
#include "proxy/mirror/mirror_record.hpp"
#include "proxy/mirror/mirror_sink.hpp"

namespace spliceproxy {

class MirrorTap final : public ChannelTap {
 public:
  explicit MirrorTap(Stats& stats) : stats_(stats) {}
  MirrorTap(const MirrorTap&) = delete;
  MirrorTap& operator=(const MirrorTap&) = delete;

  // Adds a sink for the directions in `mask` (bit 0 client_to_backend, bit 1
  // backend_to_client), as flow `flow` on the feed pipes of worker `worker`.
  void add(MirrorSink& sink, unsigned mask, unsigned worker, std::uint64_t flow);
  bool empty() const { return targets_.empty(); }
  bool mirrors(unsigned direction) const override { return (mask_ >> direction) & 1u; }
  // Payload bytes this session's mirrors lost, summed over sinks and directions.
  std::uint64_t dropped_bytes() const { return dropped_bytes_; }

  // Tells every sink that the flow between `client` and `backend` started.
  void open(const FlowEndpoint& client, const FlowEndpoint& backend);
  // Splice mode: `pipe_fd`'s read end holds exactly the `bytes` just read, nothing else.
  void tee(unsigned direction, int pipe_fd, std::size_t bytes) override;
  // Copy mode: `data` was just read.
  void write(unsigned direction, std::span<const std::byte> data) override;
  // Tells every sink the flow ended, with a FIN (or an RST when `reset`). Idempotent; does
  // nothing for a tap never opened.
  void close(bool reset);

 private:
  struct Target {
    MirrorSink* sink;
    unsigned mask;
    unsigned worker;
    std::uint64_t flow;
    std::array<std::uint64_t, 2> pending_drop{};
  };

  // Runs `copy(pipe_fd, len) -> bytes` for each target of `direction` and queues the record.
  template <typename Copy>
  void deliver(unsigned direction, std::size_t bytes, Copy&& copy);
  void drop(Target& target, unsigned direction, std::uint64_t bytes);
  MirrorRecord record(MirrorRecord::Kind kind, const Target& target) const;

  Stats& stats_;
  std::vector<Target> targets_;
  unsigned mask_ = 0;
  std::uint64_t dropped_bytes_ = 0;
  bool closed_ = true;  // until open()
};

// Microseconds since the epoch, for record timestamps (vDSO, no syscall).
std::int64_t wall_clock_us();

}  // namespace spliceproxy
