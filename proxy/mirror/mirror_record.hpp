// MirrorRecord: the small piece of metadata a worker hands to a mirror sink for each event
// of a mirrored session (open, a chunk of one direction, close), and the flow's addresses.
#pragma once

#include <array>
#include <cstdint>

namespace spliceproxy {

// One end of a mirrored flow: an IPv4 or IPv6 address (IPv4 in the first 4 bytes) and port.
struct FlowEndpoint {
  bool ipv6 = false;
  std::array<std::uint8_t, 16> ip{};
  std::uint16_t port = 0;
};

struct MirrorRecord {
  enum class Kind : std::uint8_t { open, data, close, reset };
  Kind kind = Kind::data;
  std::uint8_t direction = 0;  // 0 client_to_backend, 1 backend_to_client
  std::uint16_t feed = 0;      // data: the sink's feed pipe that holds the bytes
  std::uint32_t skip = 0;      // data: bytes at the head of the feed pipe to throw away first
  std::uint32_t bytes = 0;     // data: then the bytes of this chunk
  std::uint64_t flow = 0;      // unique per process
  std::int64_t time_us = 0;    // wall clock, microseconds since the epoch
  // data: bytes of `direction` lost just before this chunk; close/reset: per direction,
  // lost after the last chunk.
  std::array<std::uint64_t, 2> dropped{};
  FlowEndpoint client;   // open
  FlowEndpoint backend;  // open
};

}  // namespace spliceproxy
