// MirrorSink: the consumer side of one mirror, running on its own thread, and the handoff
// from the workers that feed it.
//
//   worker k:  tee/write ──▶ [ feed pipes of k ] ──────────┐ payload (splice, zero-copy)
//              push(record) ─▶ [ record queue ] ──swap──▶ sink thread ──▶ file / socket
//
// Handoff contract. Each worker owns kPipesPerWorker feed pipes per sink (the only writer)
// and the sink thread is their only reader. A worker first reserves a data slot (an atomic
// count, bounded by kMaxQueuedData), then tees or writes the chunk into one of its feed pipes
// without blocking, then pushes a small MirrorRecord (flow, direction, which pipe, bytes now in
// it, bytes dropped before them, timestamp) under a mutex held for one push_back into reserved
// capacity. Records of one pipe are queued in the order their bytes entered it, so the sink
// consumes each record's bytes from the head of that pipe. Several pipes, because a pipe holds
// at most 256 buffers (pipe-max-size 1 MiB) and a tee of many small reads fills its slots long
// before its bytes: a worker moves on to an empty pipe once the current one holds many
// records or refuses a chunk (see MirrorTap::deliver). Open and close records are never refused
// (one of each per flow, so they are bounded by the sessions); a refused data slot or a short tee
// is a drop the worker carries into its next record. The sink swaps the whole queue out under
// the mutex and does all its slow work (disk, network) without holding it. Nor does it ever
// block while reading a feed pipe: the kernel holds a pipe's lock for the whole of a splice,
// and a worker's tee into that pipe would wait for it (SPLICE_F_NONBLOCK does not cover the
// lock). So each chunk first moves, nonblocking, to the sink's private staging pipe, and the
// slow write to disk or socket reads from there.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "proxy/datapath/pipe.hpp"
#include "proxy/datapath/unique_fd.hpp"
#include "proxy/mirror/mirror_record.hpp"

namespace spliceproxy {

// What one sink did, summed over its life; read from any thread.
struct MirrorCounters {
  std::atomic<std::uint64_t> bytes{0};          // payload delivered to the sink's output
  std::atomic<std::uint64_t> dropped_bytes{0};  // payload lost, wherever it was lost
  std::atomic<std::uint64_t> gaps{0};           // runs of lost payload
};

class MirrorSink {
 public:
  // Data records queued and not yet consumed, per sink.
  static constexpr std::uint32_t kMaxQueuedData = 4096;
  // Payload bytes queued in the feed pipes and not yet consumed, per sink (a soft limit: the
  // chunk that crosses it is taken). Tee'd buffers pin socket pages, and a buffer can hold far
  // more than a page, so the pipes' slots alone do not bound the memory a slow sink holds.
  static constexpr std::uint64_t kMaxQueuedBytes = std::uint64_t{32} << 20;
  static constexpr unsigned kPipesPerWorker = 16;
  // Records in a pipe after which a worker prefers an empty pipe for its next chunk.
  static constexpr std::uint32_t kRecordsPerPipe = 16;

  // `workers`: feeders; each gets kPipesPerWorker pipes asking for `pipe_size` bytes.
  MirrorSink(std::string name, unsigned workers, std::size_t pipe_size);
  virtual ~MirrorSink();
  MirrorSink(const MirrorSink&) = delete;
  MirrorSink& operator=(const MirrorSink&) = delete;

  // Starts the sink thread. Throws std::runtime_error when the sink cannot start.
  void start();
  // Consumes what is queued, then ends the thread. Idempotent.
  void stop();

  const std::string& name() const { return name_; }
  // The directions this kind of sink takes (bit 0 client_to_backend, bit 1 backend_to_client).
  virtual unsigned directions() const { return 3u; }
  MirrorCounters& counters() { return counters_; }
  // Worker side. The pipe worker `worker` should write its next chunk to; with `refused`, the
  // current one just refused a chunk: another one if any is empty.
  unsigned pick_pipe(unsigned worker, bool refused);
  // Worker side. The write end of pipe `index` (nonblocking).
  int pipe_fd(unsigned index) const { return pipes_[index]->pipe.write_fd(); }
  // Worker side. Reserves room for one data record; false when the queue is full (records or
  // bytes).
  bool reserve_data();
  // Worker side. Returns a reservation that will not be used.
  void cancel_data() { queued_data_.fetch_sub(1, std::memory_order_relaxed); }
  // Worker side. Queues a record (data records only after reserve_data()).
  void push(const MirrorRecord& record);

 protected:
  // Sink thread. Opens outputs; throws std::runtime_error on failure (from start()).
  virtual void open() {}
  // Sink thread. Must consume exactly record.bytes from `pipe_fd` for a data record.
  virtual void handle(const MirrorRecord& record, int pipe_fd) = 0;
  // Sink thread. Called after each batch and at least every kTick while idle.
  virtual void tick() {}
  // Sink thread. After the last batch.
  virtual void close() {}

  // Sink thread. Removes `bytes` from `pipe_fd` without copying them (splice to /dev/null).
  void discard(int pipe_fd, std::size_t bytes);
  // Counts `bytes` lost at the sink as one gap.
  void count_drop(std::uint64_t bytes);

 private:
  void run();
  // Moves a data record's bytes from its feed pipe to the staging pipe; returns the record as
  // handle() gets it (its bytes now in the staging pipe).
  MirrorRecord stage(const MirrorRecord& record);

  std::string name_;
  struct FeedPipe {
    explicit FeedPipe(Pipe p) : pipe(std::move(p)) {}
    Pipe pipe;
    std::atomic<std::uint32_t> records{0};  // data records queued and not consumed
  };
  std::vector<std::unique_ptr<FeedPipe>> pipes_;  // worker k owns [k * kPipesPerWorker, ...)
  std::vector<unsigned> current_;                 // per worker; only that worker touches it
  MirrorCounters counters_;
  UniqueFd dev_null_;
  std::optional<Pipe> staging_;  // sink thread only
  std::atomic<std::uint32_t> queued_data_{0};
  std::atomic<std::uint64_t> queued_bytes_{0};  // skip + bytes of the data records queued
  std::mutex mutex_;
  std::condition_variable queued_;
  std::vector<MirrorRecord> queue_;  // guarded by mutex_
  bool stopping_ = false;            // guarded by mutex_
  std::thread thread_;
};

}  // namespace spliceproxy
