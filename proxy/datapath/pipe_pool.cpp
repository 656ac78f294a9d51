// PipePool: reuse of empty pipes.
#include "proxy/datapath/pipe_pool.hpp"

namespace spliceproxy {

PipePool::PipePool(std::size_t pipe_size, std::size_t max_idle, Stats& stats)
    : pipe_size_(pipe_size), max_idle_(max_idle), stats_(stats) {
  idle_.reserve(max_idle);
}

std::optional<Pipe> PipePool::acquire() {
  if (!idle_.empty()) {
    Pipe pipe = std::move(idle_.back());
    idle_.pop_back();
    set(idle_count_, idle_.size());
    set(in_use_, in_use() + 1);
    return pipe;
  }
  auto pipe = Pipe::create(pipe_size_);
  if (!pipe) return std::nullopt;
  stats_.add(Counter::pipes_created_total);
  set(in_use_, in_use() + 1);
  return pipe;
}

void PipePool::release(Pipe pipe, std::size_t bytes_in_pipe) {
  set(in_use_, in_use() - 1);
  if (bytes_in_pipe == 0 && idle_.size() < max_idle_) {
    idle_.push_back(std::move(pipe));
    set(idle_count_, idle_.size());
  }
  // else: `pipe` goes out of scope here and both ends are closed.
}

}  // namespace spliceproxy
