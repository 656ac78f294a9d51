// FlowTable: TCP flows reassembled from the segments of one or more captures, by addresses and
// per-direction sequence numbers.
//
// The client of a flow is the sender of its SYN (the receiver of a SYN-ACK; the sender of its
// first packet when neither was captured). A direction's bytes are taken in sequence order:
// a segment that starts past the next expected sequence number leaves a gap (bytes the capture
// lost: spliceproxy's mirror skips sequence numbers where it dropped); one that starts before
// it is a retransmission, and only its new bytes count. A SYN for an address pair whose flow
// already had one starts a new flow (the client port was reused).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <span>
#include <utility>
#include <vector>

#include "tools/capture/capture_file.hpp"

namespace spliceproxy::capture {

inline constexpr int kClientToBackend = 0;
inline constexpr int kBackendToClient = 1;

// A run of one direction's bytes kept in a PayloadSpool, with the time it was captured.
struct Extent {
  std::uint64_t offset = 0;  // in the spool
  std::uint64_t length = 0;
  std::int64_t time_us = 0;
};

struct FlowDirection {
  std::uint64_t bytes = 0;       // payload bytes captured
  std::uint64_t gaps = 0;        // runs of bytes not captured, after the first byte seen
  std::uint64_t contiguous = 0;  // bytes from the start of the stream up to its first gap
  bool syn = false;              // the direction's SYN was captured
  bool started = false;
  std::uint32_t next = 0;       // sequence number of the next byte
  std::vector<Extent> extents;  // the contiguous bytes, when a spool keeps them
  // Whether every byte from the SYN on was captured (up to the end of the capture).
  bool complete() const { return syn && gaps == 0; }
};

struct Flow {
  Endpoint client;
  Endpoint backend;
  std::array<FlowDirection, 2> dir;  // kClientToBackend, kBackendToClient
  bool fin = false;
  bool rst = false;
  std::int64_t first_us = 0;  // first and last packet
  std::int64_t last_us = 0;
  bool start_captured() const { return dir[kClientToBackend].syn; }
};

class FlowTable {
 public:
  // Where a segment went: its flow (index into flows()), direction, and the payload bytes it
  // added to that direction (none for a retransmission); `contiguous` when they extend the
  // direction's gapless start.
  struct Placed {
    std::size_t flow = 0;
    int direction = 0;
    std::span<const std::uint8_t> payload;
    bool contiguous = false;
  };

  Placed add(const Segment& segment);
  std::vector<Flow>& flows() { return flows_; }
  const std::vector<Flow>& flows() const { return flows_; }

 private:
  std::size_t flow_for(const Segment& segment);

  std::vector<Flow> flows_;
  std::map<std::pair<Endpoint, Endpoint>, std::size_t> index_;
};

}  // namespace spliceproxy::capture
