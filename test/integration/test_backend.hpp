// Backends for integration tests, on 127.0.0.1 (or ::1) with a kernel-chosen port.
//
// `TestBackend` accepts connections, each served on its own thread with one behaviour (echo,
// sink with optional reply, reset after N bytes, slow reader) and records what it saw.
// `RefusingPort` and `Blackhole` are addresses where a connect fails at once or hangs.
//
//   test client ──► spliceproxy ──► TestBackend (one thread per accepted connection)
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "test/integration/harness.hpp"
#include "test/integration/traffic.hpp"

namespace spliceproxy::test {

// What a TestBackend does with each connection.
struct BackendBehavior {
  enum class Kind { echo, sink, reset_after, slow_reader };
  Kind kind = Kind::sink;
  std::uint64_t reply_bytes = 0;  // sink: length of the generated reply
  std::uint64_t reply_seed = 0;
  bool reply_at_once = false;     // sink: reply from the start instead of after the peer's EOF
  std::uint64_t reset_after = 0;  // reset_after: bytes read before the RST
  std::uint64_t read_rate = 0;    // slow_reader: bytes per second
  std::size_t keep_first = 0;     // the first bytes received kept in BackendResult::first_bytes
  // echo: on a connection whose first bytes are `alter_when_first`, the echoed byte at
  // `alter_offset` (past those first bytes) goes back inverted: a server that answers one
  // flow differently. Needs keep_first >= alter_when_first.size().
  std::vector<std::uint8_t> alter_when_first = {};
  std::uint64_t alter_offset = 0;

  // Sends back what it reads; on EOF, finishes echoing, then shuts down its write side.
  static BackendBehavior echo();
  // Hashes what it reads; after the peer's EOF sends `reply_bytes` of ByteStream(seed), then
  // shuts down its write side.
  static BackendBehavior sink(std::uint64_t reply_bytes = 0, std::uint64_t seed = 0);
  // Sends `reply_bytes` at once while reading, shuts down its write side when they are out, and
  // keeps reading (and hashing) until the peer's EOF.
  static BackendBehavior send_then_half_close(std::uint64_t reply_bytes, std::uint64_t seed);
  // Reads `bytes`, then closes with SO_LINGER {1, 0}: the kernel sends RST.
  static BackendBehavior reset_after_reading(std::uint64_t bytes);
  // Like sink(0) but reads at most `bytes_per_second` (token bucket).
  static BackendBehavior slow_reader(std::uint64_t bytes_per_second);
};

// What one backend connection saw, recorded when it ended.
struct BackendResult {
  std::uint64_t bytes_received = 0;
  std::string received_sha256;
  std::uint64_t bytes_sent = 0;
  std::string sent_sha256;
  std::vector<std::uint8_t> first_bytes;  // up to BackendBehavior::keep_first
  bool peer_eof = false;
  bool shut_down = false;  // our FIN went out after the last byte
  bool reset_by_us = false;
  int error = 0;         // errno that ended the connection (ECONNRESET, ...)
  bool stopped = false;  // still open when the backend was destroyed
  Clock::time_point ended_at{};

  bool complete() const { return peer_eof && shut_down && error == 0 && !stopped; }
  std::string describe() const;
};

class TestBackend {
 public:
  enum class Family { ipv4, ipv6 };

  // Listens on 127.0.0.1, or on ::1 with Family::ipv6, on a free port, or on `port` when not
  // 0 (to bring a killed backend back at the same address).
  explicit TestBackend(BackendBehavior behavior, Family family = Family::ipv4,
                       std::uint16_t port = 0);
  // Listens on `host`, "::1" or an address of 127.0.0.0/8 ("127.0.0.2"), on `port` (0: free).
  TestBackend(BackendBehavior behavior, const std::string& host, std::uint16_t port);
  // Stops accepting, makes every connection thread finish, joins them.
  ~TestBackend();
  TestBackend(const TestBackend&) = delete;
  TestBackend& operator=(const TestBackend&) = delete;

  std::uint16_t port() const { return port_; }
  std::size_t accepted() const;
  // Waits until `count` connections ended (or `deadline`); returns those ended, in end order.
  std::vector<BackendResult> wait_for_results(std::size_t count, Clock::time_point deadline) const;

 private:
  void accept_loop();
  void record(BackendResult result);

  BackendBehavior behavior_;
  Fd listener_;
  Fd stop_;  // eventfd: readable once the backend is being destroyed
  std::uint16_t port_ = 0;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::size_t accepted_ = 0;
  std::vector<BackendResult> results_;
  std::vector<std::thread> connections_;
  std::thread acceptor_;
};

// A port where nothing listens: a socket bound to it (so no one else can take it) but not
// listening, so a connect is refused with RST at once.
class RefusingPort {
 public:
  RefusingPort();
  std::uint16_t port() const { return port_; }

 private:
  Fd socket_;
  std::uint16_t port_ = 0;
};

// A loopback address where connect hangs: a socket listening with backlog 0 that never accepts,
// whose one accept-queue slot is taken by a connection made here. Linux then drops further
// SYNs (the accept queue is full), so the connecting side stays in SYN_SENT and retransmits.
class Blackhole {
 public:
  Blackhole();
  std::uint16_t port() const { return port_; }

 private:
  Fd listener_;
  Fd filler_;
  std::uint16_t port_ = 0;
};

// The SHA-256s of what `clients` sent and of what `copies` (the connections of a shadow
// backend) received, each list sorted: equal when the shadow got every client's stream whole,
// in whatever order the connections came.
struct SortedDigests {
  std::vector<std::string> sent;
  std::vector<std::string> received;
};
SortedDigests sorted_digests(const std::vector<ClientResult>& clients,
                             const std::vector<BackendResult>& copies);

}  // namespace spliceproxy::test
