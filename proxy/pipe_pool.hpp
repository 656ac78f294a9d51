// PipePool: the pipes of one worker. A Channel takes a pipe when bytes arrive and gives it
// back once the pipe is empty, so an idle connection holds none. A pipe that still holds
// bytes is never pooled (it is closed instead): no session can see another's data.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "proxy/pipe.hpp"
#include "proxy/stats.hpp"

namespace spliceproxy {

class PipePool {
 public:
  // `pipe_size`: capacity asked for each new pipe. `max_idle`: pipes kept for reuse.
  PipePool(std::size_t pipe_size, std::size_t max_idle, Stats& stats);

  // A pooled pipe, or a new one; nullopt when the process is out of descriptors.
  std::optional<Pipe> acquire();

  // Takes back a pipe the caller has emptied (`bytes_in_pipe == 0`); otherwise closes it.
  void release(Pipe pipe, std::size_t bytes_in_pipe);

  std::size_t idle() const { return idle_.size(); }
  std::size_t in_use() const { return in_use_; }

 private:
  std::size_t pipe_size_;
  std::size_t max_idle_;
  Stats& stats_;
  std::vector<Pipe> idle_;
  std::size_t in_use_ = 0;
};

}  // namespace spliceproxy
