// FlowTable: segments into flows and directions, sequence numbers into gaps.
#include "tools/capture/flow_table.hpp"

namespace spliceproxy::capture {
namespace {

bool pure_syn(const Segment& s) {
  return (s.flags & tcp_flag::syn) && !(s.flags & tcp_flag::ack);
}

// Signed distance from `from` to `to` in sequence space.
std::int64_t seq_delta(std::uint32_t to, std::uint32_t from) {
  return static_cast<std::int32_t>(to - from);
}

// Takes `s`'s payload into `d`; returns the new bytes and whether they extend the gapless start.
std::pair<std::span<const std::uint8_t>, bool> take_payload(FlowDirection& d, const Segment& s) {
  std::span<const std::uint8_t> payload = s.payload;
  std::size_t wire = s.wire_size;
  std::uint32_t seq = s.seq;
  if (!d.started) {
    d.started = true;
    d.next = seq;
  }
  const std::int64_t delta = seq_delta(seq, d.next);
  if (delta > 0) {
    ++d.gaps;
  } else if (delta < 0) {  // a retransmission: keep what is new
    const auto old = static_cast<std::size_t>(-delta);
    if (old >= wire) return {};
    wire -= old;
    payload = payload.subspan(std::min(old, payload.size()));
    seq = d.next;
  }
  const bool contiguous = d.syn && d.gaps == 0;
  d.bytes += payload.size();
  if (contiguous) d.contiguous += payload.size();
  if (payload.size() < wire) ++d.gaps;  // the packet carried more than the file holds
  d.next = seq + static_cast<std::uint32_t>(wire);
  return {payload, contiguous};
}

}  // namespace

std::size_t FlowTable::flow_for(const Segment& s) {
  const auto key = s.src < s.dst ? std::pair{s.src, s.dst} : std::pair{s.dst, s.src};
  const auto it = index_.find(key);
  if (it != index_.end()) {
    const Flow& flow = flows_[it->second];
    const bool reused = pure_syn(s) && (flow.dir[kClientToBackend].syn || flow.fin || flow.rst);
    if (!reused) return it->second;
  }
  Flow flow;
  const bool syn_ack = (s.flags & tcp_flag::syn) && (s.flags & tcp_flag::ack);
  flow.client = syn_ack ? s.dst : s.src;
  flow.backend = syn_ack ? s.src : s.dst;
  flow.first_us = s.time_us;
  flows_.push_back(std::move(flow));
  index_.insert_or_assign(key, flows_.size() - 1);
  return flows_.size() - 1;
}

FlowTable::Placed FlowTable::add(const Segment& s) {
  Placed placed;
  placed.flow = flow_for(s);
  Flow& flow = flows_[placed.flow];
  placed.direction = s.src == flow.client ? kClientToBackend : kBackendToClient;
  FlowDirection& d = flow.dir[placed.direction];
  flow.last_us = s.time_us;
  flow.fin |= (s.flags & tcp_flag::fin) != 0;
  flow.rst |= (s.flags & tcp_flag::rst) != 0;
  if (s.flags & tcp_flag::syn) {
    if (!d.started) {  // a SYN after bytes of its direction is a stray: ignore it
      d.syn = true;
      d.started = true;
      d.next = s.seq + 1;
    }
    return placed;
  }
  // A FIN past the bytes seen: the capture lost the direction's tail (the sink dropped it).
  if ((s.flags & tcp_flag::fin) && s.wire_size == 0 && d.started && seq_delta(s.seq, d.next) > 0)
    ++d.gaps;
  if (s.wire_size == 0) return placed;
  std::tie(placed.payload, placed.contiguous) = take_payload(d, s);
  return placed;
}

}  // namespace spliceproxy::capture
