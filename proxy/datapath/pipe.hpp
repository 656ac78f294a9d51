// Pipe: a kernel pipe (two UniqueFds, O_CLOEXEC | O_NONBLOCK) used as the buffer of a
// splice Channel. Its capacity is what F_SETPIPE_SZ granted, which can be less than asked
// (pipe-max-size, per-user pipe budget).
#pragma once

#include <cstddef>
#include <optional>

#include "proxy/datapath/unique_fd.hpp"

namespace spliceproxy {

class Pipe {
 public:
  // Creates a pipe and asks the kernel for `wanted_size` bytes of capacity. Returns nullopt
  // (errno set) when no pipe can be created (EMFILE, ENFILE). A refused resize is not an
  // error: the pipe keeps the size the kernel gave it.
  static std::optional<Pipe> create(std::size_t wanted_size);

  int read_fd() const { return read_.get(); }
  int write_fd() const { return write_.get(); }
  std::size_t capacity() const { return capacity_; }

 private:
  Pipe(UniqueFd read, UniqueFd write, std::size_t capacity)
      : read_(std::move(read)), write_(std::move(write)), capacity_(capacity) {}

  UniqueFd read_;
  UniqueFd write_;
  std::size_t capacity_;
};

}  // namespace spliceproxy
