// PcapngSink: flows to segments.
#include "proxy/mirror/pcapng_sink.hpp"

#include <algorithm>

namespace spliceproxy {
namespace {

// Initial sequence numbers: any value works; distinct per flow and direction reads better.
std::uint32_t initial_seq(std::uint64_t flow, unsigned direction) {
  return static_cast<std::uint32_t>(flow * 2654435761u) ^ (direction ? 0x5a5a0000u : 0x1000u);
}

}  // namespace

void PcapngSink::handle(const MirrorRecord& record, int pipe_fd) {
  using Kind = MirrorRecord::Kind;
  if (record.kind == Kind::open) {
    Flow flow{record.client, record.backend, {}};
    pcapng::unify_families(flow.client, flow.backend);
    flow.next_seq = {initial_seq(record.flow, 0), initial_seq(record.flow, 1)};
    Flow& f = flows_.insert_or_assign(record.flow, flow).first->second;
    segment(f, 0, pcapng::tcp_flag::syn, 0, -1, record.time_us);
    ++f.next_seq[0];
    segment(f, 1, pcapng::tcp_flag::syn | pcapng::tcp_flag::ack, 0, -1, record.time_us);
    ++f.next_seq[1];
    segment(f, 0, pcapng::tcp_flag::ack, 0, -1, record.time_us);
    return;
  }
  const auto it = flows_.find(record.flow);
  if (it == flows_.end()) {  // cannot happen: open records are never refused
    if (record.kind == Kind::data) discard(pipe_fd, record.bytes);
    return;
  }
  if (record.kind == Kind::data) return data(it->second, record, pipe_fd);
  end(it->second, record);
  flows_.erase(it);
}

void PcapngSink::data(Flow& flow, const MirrorRecord& record, int pipe_fd) {
  const unsigned direction = record.direction;
  flow.next_seq[direction] += static_cast<std::uint32_t>(record.dropped[direction]);
  std::size_t left = record.bytes;
  while (left > 0) {
    const std::size_t n = std::min(left, pcapng::kMaxSegmentPayload);
    segment(flow, direction, pcapng::tcp_flag::ack | pcapng::tcp_flag::psh, n, pipe_fd,
            record.time_us);
    flow.next_seq[direction] += static_cast<std::uint32_t>(n);
    left -= n;
  }
}

// FIN from the client, FIN from the backend, last ACK; or one RST from the client.
void PcapngSink::end(Flow& flow, const MirrorRecord& record) {
  for (unsigned direction = 0; direction < 2; ++direction)
    flow.next_seq[direction] += static_cast<std::uint32_t>(record.dropped[direction]);
  using namespace pcapng::tcp_flag;
  if (record.kind == MirrorRecord::Kind::reset) {
    return segment(flow, 0, rst | ack, 0, -1, record.time_us);
  }
  segment(flow, 0, fin | ack, 0, -1, record.time_us);
  ++flow.next_seq[0];
  segment(flow, 1, fin | ack, 0, -1, record.time_us);
  ++flow.next_seq[1];
  segment(flow, 0, ack, 0, -1, record.time_us);
}

void PcapngSink::segment(Flow& flow, unsigned direction, std::uint8_t flags, std::size_t payload,
                         int pipe_fd, std::int64_t time_us) {
  pcapng::Segment s;
  s.src = direction == 0 ? &flow.client : &flow.backend;
  s.dst = direction == 0 ? &flow.backend : &flow.client;
  s.seq = flow.next_seq[direction];
  s.ack = (flags & pcapng::tcp_flag::ack) ? flow.next_seq[1 - direction] : 0;
  s.flags = flags;
  s.payload = payload;
  s.time_us = time_us;
  std::array<std::byte, pcapng::kMaxHead> head;
  std::array<std::byte, pcapng::kMaxTail> tail;
  const std::size_t head_size = pcapng::packet_head(s, head);
  const std::size_t tail_size = pcapng::packet_tail(s, tail);
  const BlockResult r =
      put_block({head.data(), head_size}, pipe_fd, payload, {tail.data(), tail_size});
  if (payload == 0) return;
  if (r.consumed < payload) discard(pipe_fd, payload - r.consumed);
  if (r.written) {
    counters().bytes.fetch_add(payload, std::memory_order_relaxed);
  } else {
    count_drop(payload);
  }
}

}  // namespace spliceproxy
