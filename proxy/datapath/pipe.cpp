// Pipe creation and sizing.
#include "proxy/datapath/pipe.hpp"

#include <fcntl.h>
#include <unistd.h>

namespace spliceproxy {

std::optional<Pipe> Pipe::create(std::size_t wanted_size) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return std::nullopt;
  UniqueFd read(fds[0]);
  UniqueFd write(fds[1]);
  // F_SETPIPE_SZ fails with EPERM past pipe-max-size for unprivileged users and with EPERM
  // past the per-user soft budget; either way the default size stays, which still works.
  ::fcntl(write.get(), F_SETPIPE_SZ, static_cast<int>(wanted_size));
  const int granted = ::fcntl(write.get(), F_GETPIPE_SZ);
  if (granted <= 0) return std::nullopt;
  return Pipe(std::move(read), std::move(write), static_cast<std::size_t>(granted));
}

}  // namespace spliceproxy
