// PipePool: the pipes of one worker. A Channel takes a pipe when bytes arrive and gives it
// back once the pipe is empty, so an idle connection holds none. A pipe that still holds
// bytes is never pooled (it is closed instead): no session can see another's data.
#pragma once

#include <atomic>
#include <cstddef>
#include <optional>
#include <vector>

#include "proxy/base/stats.hpp"
#include "proxy/datapath/pipe.hpp"

namespace spliceproxy {

class PipePool {
 public:
  // `pipe_size`: capacity asked for each new pipe. `max_idle`: pipes kept for reuse.
  PipePool(std::size_t pipe_size, std::size_t max_idle, Stats& stats);

  // A pooled pipe, or a new one; nullopt when the process is out of descriptors.
  std::optional<Pipe> acquire();

  // Takes back a pipe the caller has emptied (`bytes_in_pipe == 0`); otherwise closes it.
  void release(Pipe pipe, std::size_t bytes_in_pipe);

  // Any thread (the admin endpoint's gauges); written by the worker's thread only.
  std::size_t idle() const { return idle_count_.load(std::memory_order_relaxed); }
  std::size_t in_use() const { return in_use_.load(std::memory_order_relaxed); }

 private:
  std::size_t pipe_size_;
  std::size_t max_idle_;
  Stats& stats_;
  // Sets a gauge of this, the only writer thread: a plain load and store, no atomic RMW.
  static void set(std::atomic<std::size_t>& gauge, std::size_t value) {
    gauge.store(value, std::memory_order_relaxed);
  }

  std::vector<Pipe> idle_;
  std::atomic<std::size_t> idle_count_{0};  // idle_.size()
  std::atomic<std::size_t> in_use_{0};
};

}  // namespace spliceproxy
