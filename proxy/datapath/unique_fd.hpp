// UniqueFd: the one owner of a file descriptor. Move-only; closes on destruction.
// No other code in the proxy calls close(2).
#pragma once

#include <unistd.h>

#include <utility>

namespace spliceproxy {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }

  // Gives up ownership without closing; returns the descriptor (or -1).
  int release() { return std::exchange(fd_, -1); }

  // Closes the owned descriptor, if any, and takes `fd`.
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);  // close(2) always frees the fd, even on EINTR
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace spliceproxy
