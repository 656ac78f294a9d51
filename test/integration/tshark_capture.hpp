// tshark as the independent judge of our captures: runs `tshark -r FILE -T fields` on a
// pcapng file and hands every TCP segment with payload to a callback, or sums up the flows.
//
// Sequence numbers are tshark's relative ones: the first payload byte of a flow direction is
// at seq 1, so a segment's payload starts at stream offset seq - 1.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace spliceproxy::test {

// True when tshark is installed (tools/deps.sh --test installs it).
bool have_tshark();

struct TsharkSegment {
  int stream = 0;            // tcp.stream: tshark's flow index
  bool to_backend = false;   // destination port is the backend's
  std::uint64_t offset = 0;  // relative seq - 1
  std::span<const std::uint8_t> payload;
};

struct TsharkSummary {
  bool ok = false;    // tshark ran and exited 0
  std::string error;  // why not
  std::uint64_t packets = 0;
  std::uint64_t lost_segment_reports = 0;  // packets flagged tcp.analysis.lost_segment
  std::uint64_t syn_packets = 0;
  std::uint64_t fin_packets = 0;
  std::uint64_t rst_packets = 0;
};

// Reads `capture` with tshark; each segment that carries payload goes to `on_segment` in
// capture order. `backend_port` tells the directions apart.
TsharkSummary read_with_tshark(const std::string& capture, std::uint16_t backend_port,
                               const std::function<void(const TsharkSegment&)>& on_segment);

// One direction of one flow as reassembled from tshark's segments.
struct FlowDirection {
  std::uint64_t bytes = 0;     // payload bytes seen
  std::uint64_t next = 0;      // offset after the last segment
  std::uint64_t gaps = 0;      // segments that started past `next`
  std::uint64_t overlaps = 0;  // segments that started before `next`
  std::string sha256;          // of the payload in order (meaningful when no gap/overlap)
};

struct Flow {
  FlowDirection to_backend;
  FlowDirection to_client;
};

// Every flow of `capture` by tcp.stream, each direction reassembled by sequence number.
std::map<int, Flow> flows_with_tshark(const std::string& capture, std::uint16_t backend_port,
                                      TsharkSummary* summary = nullptr);

}  // namespace spliceproxy::test
