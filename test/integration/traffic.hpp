// Traffic for integration tests: deterministic byte streams, SHA-256 of what crossed a
// connection, loopback socket helpers, and a poll-based client driver.
//
// The driver runs any number of client connections in one thread: each sends a generated
// stream in randomly sized writes while reading and hashing what comes back, then half-closes
// (or resets), all nonblocking, and gives up at a deadline so that nothing waits forever.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "test/integration/byte_stream.hpp"
#include "test/integration/harness.hpp"

namespace spliceproxy::test {

// Where a test connection goes and comes from: `host` is a loopback IP literal ("127.0.0.1",
// "::1"); `source`, when not empty, is the local IP to bind first (any of 127.0.0.0/8 works,
// so tests can play several clients).
struct LoopbackTarget {
  std::string host = "127.0.0.1";
  std::string source;
};

// A nonblocking TCP connection to host:port; throws if it is not established by `deadline`
// (a connection the peer already reset again is returned: it reads as closed).
Fd connect_loopback(std::uint16_t port, Clock::time_point deadline,
                    const LoopbackTarget& target = {});

// Sets SO_LINGER {1, 0} and closes: the kernel sends RST instead of FIN.
void reset_connection(Fd& fd);

// True for the errors a socket reports after the peer sent RST.
bool is_reset_error(int error);

// How the peer ended a connection we only watch.
struct CloseEvent {
  bool closed = false;  // false: still open at the deadline
  bool reset = false;   // RST (ECONNRESET/EPIPE) rather than FIN
  Clock::time_point at{};
};

// Reads and discards from `fd` until the peer closes it or `deadline` passes.
CloseEvent wait_for_peer_close(int fd, Clock::time_point deadline);

// Sends all of `bytes` on nonblocking `fd`; false on error or deadline.
bool send_all(int fd, std::span<const std::uint8_t> bytes, Clock::time_point deadline);
// Receives exactly `count` bytes; nullopt on EOF, error or deadline.
std::optional<std::vector<std::uint8_t>> recv_exact(int fd, std::size_t count,
                                                    Clock::time_point deadline);

// What one client connection does.
struct ClientPlan {
  std::uint64_t send_bytes = 0;  // length of the generated stream to send
  std::uint64_t send_seed = 1;
  std::uint64_t chunk_seed = 2;          // drives the random write sizes
  std::uint64_t max_chunk = 256 * kKiB;  // largest single write
  std::uint64_t min_chunk = 1;           // smallest single write (but for the stream's end)
  bool send_after_peer_eof = false;      // hold every byte until the peer's EOF arrived
  std::uint64_t send_rate = 0;           // bytes per second from the connect on; 0 = unpaced
  // Reset (RST) the connection once this many bytes were sent, instead of finishing.
  std::optional<std::uint64_t> reset_after_sent = std::nullopt;
  LoopbackTarget target = {};  // 127.0.0.1 from any address unless set
};

// What one client connection observed. It is complete when every byte went out, the write
// side was shut down, and the peer's EOF arrived.
struct ClientResult {
  bool connected = false;
  std::uint64_t bytes_sent = 0;
  std::string sent_sha256;
  std::uint64_t bytes_received = 0;
  std::string received_sha256;
  bool shut_down = false;  // our FIN went out after the last byte
  bool peer_eof = false;
  bool reset_by_us = false;
  int error = 0;  // errno that ended the connection (ECONNRESET, EPIPE, ...)
  bool timed_out = false;
  Clock::time_point ended_at{};

  bool complete() const { return shut_down && peer_eof && error == 0 && !timed_out; }
  std::string describe() const;
};

// Runs one client connection per plan, all at once, against 127.0.0.1:port.
std::vector<ClientResult> run_clients(std::uint16_t port, const std::vector<ClientPlan>& plans,
                                      Clock::time_point deadline);
ClientResult run_client(std::uint16_t port, const ClientPlan& plan, Clock::time_point deadline);

}  // namespace spliceproxy::test
