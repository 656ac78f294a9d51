// pcapng_format: the bytes of a pcapng capture (spec: IETF draft-ietf-opsawg-pcapng).
//
// A capture is a Section Header Block and one Interface Description Block (link type RAW:
// each packet is an IPv4 or IPv6 datagram), then one Enhanced Packet Block per synthesized TCP
// segment, timestamps in microseconds (the default resolution). A packet block is written as
// head (block header + IP + TCP header), payload (spliced from a pipe, never copied) and tail
// (padding to 4 bytes + the block length again). TCP and IP checksums are left zero.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "proxy/mirror/mirror_record.hpp"

namespace spliceproxy::pcapng {

inline constexpr std::uint32_t kLinkTypeRaw = 101;
// The largest TCP payload of one synthesized segment: IPv4's total length is 16 bits.
inline constexpr std::size_t kMaxSegmentPayload = 65535 - 20 - 20;
inline constexpr std::size_t kMaxHead = 28 + 40 + 20;
inline constexpr std::size_t kMaxTail = 3 + 4;

namespace tcp_flag {
inline constexpr std::uint8_t fin = 0x01, syn = 0x02, rst = 0x04, psh = 0x08, ack = 0x10;
}

// The SHB and IDB that start every file or stream.
std::vector<std::byte> section_header();

// One TCP segment from `src` to `dst`; both of one family (see unify_families).
struct Segment {
  const FlowEndpoint* src;
  const FlowEndpoint* dst;
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::uint8_t flags = 0;
  std::size_t payload = 0;  // <= kMaxSegmentPayload
  std::int64_t time_us = 0;
};

// Writes the head of `segment`'s packet block into `out`; returns its length.
std::size_t packet_head(const Segment& segment, std::span<std::byte, kMaxHead> out);
// Writes the tail of the block whose head `packet_head` returned; returns its length.
std::size_t packet_tail(const Segment& segment, std::span<std::byte, kMaxTail> out);

// A flow needs one family: when only one end is IPv6, the IPv4 end becomes ::ffff:a.b.c.d.
void unify_families(FlowEndpoint& a, FlowEndpoint& b);

}  // namespace spliceproxy::pcapng
