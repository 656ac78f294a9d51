// pcapng_format: block and header layout, little-endian blocks around big-endian packets.
#include "proxy/mirror/pcapng_format.hpp"

#include <cstring>

namespace spliceproxy::pcapng {
namespace {

class Out {
 public:
  explicit Out(std::byte* at) : at_(at) {}
  void le32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i)
      put(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void le16(std::uint16_t v) {
    put(static_cast<std::uint8_t>(v));
    put(static_cast<std::uint8_t>(v >> 8));
  }
  void be16(std::uint16_t v) {
    put(static_cast<std::uint8_t>(v >> 8));
    put(static_cast<std::uint8_t>(v));
  }
  void be32(std::uint32_t v) {
    be16(static_cast<std::uint16_t>(v >> 16));
    be16(static_cast<std::uint16_t>(v));
  }
  void bytes(const std::uint8_t* p, std::size_t n) {
    std::memcpy(at_ + used_, p, n);
    used_ += n;
  }
  void put(std::uint8_t b) { at_[used_++] = std::byte{b}; }
  std::size_t used() const { return used_; }
  std::byte* at(std::size_t offset) { return at_ + offset; }

 private:
  std::byte* at_;
  std::size_t used_ = 0;
};

std::size_t ip_header_size(const Segment& s) {
  return s.src->ipv6 ? 40 : 20;
}

std::size_t captured(const Segment& s) {
  return ip_header_size(s) + 20 + s.payload;
}

std::uint32_t block_length(const Segment& s) {
  return static_cast<std::uint32_t>(28 + ((captured(s) + 3) & ~std::size_t{3}) + 4);
}

void ip_header(Out& out, const Segment& s) {
  const std::size_t start = out.used();
  if (s.src->ipv6) {
    out.be32(0x60000000);
    out.be16(static_cast<std::uint16_t>(20 + s.payload));
    out.put(6);   // next header: TCP
    out.put(64);  // hop limit
    out.bytes(s.src->ip.data(), 16);
    out.bytes(s.dst->ip.data(), 16);
    return;
  }
  out.be16(0x4500);
  out.be16(static_cast<std::uint16_t>(40 + s.payload));
  out.be32(0x00004000);  // id 0, don't fragment
  out.be16(0x4006);      // ttl 64, TCP
  out.be16(0);           // checksum, set below
  out.bytes(s.src->ip.data(), 4);
  out.bytes(s.dst->ip.data(), 4);
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < 20; i += 2) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(out.at(start + i));
    sum += static_cast<std::uint32_t>(p[0] << 8 | p[1]);
  }
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  const auto checksum = static_cast<std::uint16_t>(~sum);
  *out.at(start + 10) = std::byte(checksum >> 8);
  *out.at(start + 11) = std::byte(checksum & 0xff);
}

}  // namespace

std::vector<std::byte> section_header() {
  std::vector<std::byte> bytes(28 + 20);
  Out out(bytes.data());
  out.le32(0x0A0D0D0A);  // SHB
  out.le32(28);
  out.le32(0x1A2B3C4D);  // byte-order magic
  out.le16(1);           // version 1.0
  out.le16(0);
  out.le32(0xffffffff);  // section length unknown
  out.le32(0xffffffff);
  out.le32(28);
  out.le32(1);  // IDB
  out.le32(20);
  out.le16(static_cast<std::uint16_t>(kLinkTypeRaw));
  out.le16(0);
  out.le32(0);  // no snap length limit
  out.le32(20);
  return bytes;
}

std::size_t packet_head(const Segment& s, std::span<std::byte, kMaxHead> buffer) {
  Out out(buffer.data());
  out.le32(6);  // EPB
  out.le32(block_length(s));
  out.le32(0);  // interface 0
  const auto ts = static_cast<std::uint64_t>(s.time_us);
  out.le32(static_cast<std::uint32_t>(ts >> 32));
  out.le32(static_cast<std::uint32_t>(ts));
  out.le32(static_cast<std::uint32_t>(captured(s)));
  out.le32(static_cast<std::uint32_t>(captured(s)));
  ip_header(out, s);
  out.be16(s.src->port);
  out.be16(s.dst->port);
  out.be32(s.seq);
  out.be32(s.ack);
  out.put(5 << 4);  // data offset: 5 words, no options
  out.put(s.flags);
  out.be16(65535);  // window
  out.be32(0);      // checksum, urgent pointer
  return out.used();
}

std::size_t packet_tail(const Segment& s, std::span<std::byte, kMaxTail> buffer) {
  Out out(buffer.data());
  for (std::size_t pad = captured(s); pad % 4 != 0; ++pad)
    out.put(0);
  out.le32(block_length(s));
  return out.used();
}

void unify_families(FlowEndpoint& a, FlowEndpoint& b) {
  for (FlowEndpoint* e : {&a, &b}) {
    if (e->ipv6 || !(a.ipv6 || b.ipv6)) continue;
    std::array<std::uint8_t, 16> mapped{};
    mapped[10] = mapped[11] = 0xff;
    std::memcpy(mapped.data() + 12, e->ip.data(), 4);
    e->ip = mapped;
    e->ipv6 = true;
  }
}

}  // namespace spliceproxy::pcapng
