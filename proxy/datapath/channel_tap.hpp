// ChannelTap: what a SpliceChannel tells whoever watches its bytes (the mirror, proxy/mirror/)
// once per chunk read. The data path knows only this interface, so it depends on no layer
// above it; MirrorTap implements it.
#pragma once

#include <cstddef>
#include <span>

namespace spliceproxy {

class ChannelTap {
 public:
  // Whether chunks of `direction` (0 client_to_backend, 1 backend_to_client) are wanted.
  virtual bool mirrors(unsigned direction) const = 0;
  // Pipe path: `pipe_fd`'s read end holds exactly the `bytes` just read, nothing else.
  // Must not consume them (tee) and must not block.
  virtual void tee(unsigned direction, int pipe_fd, std::size_t bytes) = 0;
  // Copy path: `data` was just read. Must not block.
  virtual void write(unsigned direction, std::span<const std::byte> data) = 0;

 protected:
  ~ChannelTap() = default;
};

}  // namespace spliceproxy
