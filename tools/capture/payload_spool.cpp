// PayloadSpool: an unlinked file, appended with pwrite and read back with pread.
#include "tools/capture/payload_spool.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace spliceproxy::capture {
namespace {

[[noreturn]] void fail(const std::string& what) {
  throw CaptureError("spool: " + what + ": " + std::strerror(errno));
}

}  // namespace

PayloadSpool::PayloadSpool(const std::string& dir) {
  std::string where = dir;
  if (where.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    where = tmp && *tmp ? tmp : "/tmp";
  }
  fd_ = ::open(where.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd_ < 0 && errno == EOPNOTSUPP) {  // a file system without O_TMPFILE: create, unlink
    std::string path = where + "/spliceproxy-spool-XXXXXX";
    fd_ = ::mkostemp(path.data(), O_CLOEXEC);
    if (fd_ >= 0) ::unlink(path.c_str());
  }
  if (fd_ < 0) fail("cannot create a temporary file in " + where);
}

PayloadSpool::~PayloadSpool() {
  ::close(fd_);
}

void PayloadSpool::append(FlowDirection& direction, std::span<const std::uint8_t> bytes,
                          std::int64_t time_us) {
  if (bytes.empty()) return;
  const std::uint64_t offset = size_;
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n =
        ::pwrite(fd_, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("write");
    done += static_cast<std::size_t>(n);
  }
  size_ += bytes.size();
  auto& extents = direction.extents;
  if (!extents.empty() && extents.back().offset + extents.back().length == offset &&
      extents.back().time_us == time_us) {
    extents.back().length += bytes.size();
  } else {
    extents.push_back({offset, bytes.size(), time_us});
  }
}

void PayloadSpool::read(std::uint64_t offset, std::span<std::uint8_t> out) const {
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n =
        ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("read");
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace spliceproxy::capture
