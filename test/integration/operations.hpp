// Helpers of the operations suites (workers, reload, drain): configs with several workers,
// ports the proxy logs after start, refused connects, and echo conversations driven step by
// step so that a test decides what happens between two steps (a reload, a signal).
#pragma once

#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "test/integration/byte_stream.hpp"
#include "test/integration/harness.hpp"
#include "test/integration/traffic.hpp"

namespace spliceproxy::test {

// `yaml` (from proxy_yaml) with `workers: n` instead of one worker.
inline std::string with_workers(std::string yaml, unsigned n) {
  const std::string one = "workers: 1\n";
  yaml.replace(yaml.find(one), one.size(), "workers: " + std::to_string(n) + "\n");
  return yaml;
}

// The port of the last "listener NAME listening on HOST:PORT" line in `log`.
inline std::optional<std::uint16_t> logged_port(const std::string& log, const std::string& name,
                                                const std::string& host = "127.0.0.1") {
  const std::string needle = "listener " + name + " listening on " + host + ":";
  const auto at = log.rfind(needle);
  if (at == std::string::npos) return std::nullopt;
  return static_cast<std::uint16_t>(std::stoul(log.substr(at + needle.size())));
}

// Whether a connect to 127.0.0.1:port is refused (nothing listens there).
inline bool connection_refused(std::uint16_t port) {
  try {
    connect_loopback(port, Clock::now() + 5s);
  } catch (const std::system_error& error) {
    return error.code().value() == ECONNREFUSED;
  }
  return false;
}

// One connection to an echo backend through the proxy, driven in steps: each step sends the
// next `bytes` of ByteStream(seed) and reads the echo back; both sides are hashed.
class EchoConversation {
 public:
  EchoConversation(std::uint16_t port, std::uint64_t seed, const LoopbackTarget& target = {})
      : EchoConversation(connect_loopback(port, Clock::now() + 5s, target), seed) {}
  // Over a connection the caller made (a Unix socket).
  EchoConversation(Fd connection, std::uint64_t seed) : fd_(std::move(connection)), stream_(seed) {}

  // Sends `bytes` and receives their echo; false on error, EOF or deadline.
  bool step(std::size_t bytes, Clock::time_point deadline) {
    std::vector<std::uint8_t> chunk(bytes);
    stream_.fill(chunk);
    sent_.update(chunk);
    if (!send_all(fd_.get(), chunk, deadline)) return false;
    const auto echoed = recv_exact(fd_.get(), bytes, deadline);
    if (!echoed) return false;
    received_.update(*echoed);
    return true;
  }

  // Half-closes and waits for the proxy's EOF (not a reset); then the digests must match.
  bool finish(Clock::time_point deadline) {
    ::shutdown(fd_.get(), SHUT_WR);
    const CloseEvent end = wait_for_peer_close(fd_.get(), deadline);
    return end.closed && !end.reset && sent_.hex_digest() == received_.hex_digest();
  }

  int fd() const { return fd_.get(); }

 private:
  Fd fd_;
  ByteStream stream_;
  Sha256 sent_;
  Sha256 received_;
};

}  // namespace spliceproxy::test
