// CaptureReceiver: accept loop, paced reads into a file. See capture_receiver.hpp.
#include "test/integration/capture_receiver.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>
#include <vector>

namespace spliceproxy::test {
namespace {

constexpr int kPollMs = 20;  // how often the thread looks at the stop flag

}  // namespace

CaptureReceiver::CaptureReceiver(std::string path, ReceiverBehavior behavior)
    : path_(std::move(path)), behavior_(behavior) {
  listener_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (!listener_.valid() || ::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::listen(listener_.get(), 16) != 0 ||
      ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw std::runtime_error("capture receiver: cannot listen");
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { run(); });
}

CaptureReceiver::~CaptureReceiver() {
  stop_ = true;
  thread_.join();
}

bool CaptureReceiver::wait_for_eof(Clock::time_point deadline) const {
  return run_until([this] { return eof_.load(); }, deadline);
}

void CaptureReceiver::run() {
  Fd file(::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  while (!stop_) {
    pollfd p{listener_.get(), POLLIN, 0};
    if (::poll(&p, 1, kPollMs) != 1) continue;
    Fd connection(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!connection.valid()) continue;
    if (dead_) continue;  // a dead receiver refuses by closing at once
    ++connections_;
    serve(std::move(connection), file);
  }
}

// Reads one connection into `file` at the configured pace until EOF, death or stop.
void CaptureReceiver::serve(Fd connection, Fd& file) {
  std::vector<char> buffer(64 * 1024);
  const auto start = Clock::now();
  std::uint64_t read = 0;
  while (!stop_) {
    pollfd p{connection.get(), POLLIN, 0};
    if (behavior_.never_read || ::poll(&p, 1, kPollMs) != 1) continue;
    std::size_t want = buffer.size();
    if (behavior_.read_rate != 0) {
      const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
      const auto allowed = static_cast<std::uint64_t>(seconds * behavior_.read_rate) + 16 * 1024;
      if (allowed <= read) {
        ::poll(nullptr, 0, 1);  // the pace, not a condition: wait for budget
        continue;
      }
      want = std::min<std::uint64_t>(want, allowed - read);
    }
    const ssize_t n = ::recv(connection.get(), buffer.data(), want, 0);
    if (n <= 0) {
      eof_ = n == 0;
      return;
    }
    if (::write(file.get(), buffer.data(), static_cast<std::size_t>(n)) != n) return;
    read += static_cast<std::uint64_t>(n);
    bytes_ += static_cast<std::uint64_t>(n);
    if (behavior_.die_after != 0 && bytes_ >= behavior_.die_after) {
      dead_ = true;
      return;
    }
  }
}

}  // namespace spliceproxy::test
