// CaptureFile: libpcap's offline reader, and the IP and TCP headers of each packet.
#include "tools/capture/capture_file.hpp"

#include <arpa/inet.h>

namespace spliceproxy::capture {
namespace {

// DLT_ values libpcap hands out for the link types we read (pcap/dlt.h).
constexpr int kDltEthernet = 1;    // DLT_EN10MB
constexpr int kDltLinuxSll = 113;  // DLT_LINUX_SLL
constexpr int kDltIpv4 = 228;
constexpr int kDltIpv6 = 229;

bool is_raw(int link) {
  return link == DLT_RAW || link == 101 || link == kDltIpv4 || link == kDltIpv6;
}

bool readable_link(int link) {
  return is_raw(link) || link == kDltEthernet || link == kDltLinuxSll;
}

std::uint16_t be16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}
std::uint32_t be32(const std::uint8_t* p) {
  return std::uint32_t{be16(p)} << 16 | be16(p + 2);
}

Endpoint endpoint(const std::uint8_t* ip, bool v6, std::uint16_t port) {
  char text[INET6_ADDRSTRLEN];
  ::inet_ntop(v6 ? AF_INET6 : AF_INET, ip, text, sizeof text);
  // Appended piece by piece: GCC 12 warns (-Wrestrict) about "[" + std::string.
  std::string out;
  if (v6) out += '[';
  out += text;
  if (v6) out += ']';
  out += ':';
  out += std::to_string(port);
  return out;
}

// An IP datagram holding TCP; false for anything else.
bool parse_ip(std::span<const std::uint8_t> packet, Segment& s) {
  const std::uint8_t* p = packet.data();
  const std::size_t n = packet.size();
  if (n < 20) return false;
  const bool v6 = (p[0] >> 4) == 6;
  std::size_t header = 0, total = 0;
  if (v6) {
    if (n < 40 || p[6] != 6) return false;  // no extension headers: next header must be TCP
    header = 40;
    total = 40 + be16(p + 4);
  } else {
    if ((p[0] >> 4) != 4 || p[9] != 6) return false;
    header = (p[0] & 0x0f) * 4u;
    total = be16(p + 2);
    if ((be16(p + 6) & 0x3fff) != 0) return false;  // a fragment: not a whole segment
  }
  if (header < 20 || n < header + 20 || total < header + 20) return false;
  const std::uint8_t* tcp = p + header;
  const std::size_t tcp_header = (tcp[12] >> 4) * 4u;
  if (tcp_header < 20 || total < header + tcp_header || n < header + tcp_header) return false;
  s.src = endpoint(v6 ? p + 8 : p + 12, v6, be16(tcp));
  s.dst = endpoint(v6 ? p + 24 : p + 16, v6, be16(tcp + 2));
  s.seq = be32(tcp + 4);
  s.flags = tcp[13];
  s.wire_size = total - header - tcp_header;
  const std::size_t held = std::min(total, n) - header - tcp_header;
  s.payload = packet.subspan(header + tcp_header, held);
  return true;
}

}  // namespace

bool parse_packet(int link, std::span<const std::uint8_t> packet, Segment& out) {
  if (is_raw(link)) return parse_ip(packet, out);
  std::size_t header = 0;
  std::uint16_t type = 0;
  if (link == kDltEthernet && packet.size() >= 14) {
    header = 14;
    type = be16(packet.data() + 12);
  } else if (link == kDltLinuxSll && packet.size() >= 16) {
    header = 16;
    type = be16(packet.data() + 14);
  }
  if (type != 0x0800 && type != 0x86DD) return false;
  return parse_ip(packet.subspan(header), out);
}

CaptureFile::CaptureFile(const std::string& path) : path_(path) {
  char error[PCAP_ERRBUF_SIZE] = "";
  pcap_.reset(
      pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_MICRO, error));
  if (!pcap_) throw CaptureError(path + ": " + error);
  link_ = pcap_datalink(pcap_.get());
  if (!readable_link(link_)) {
    const char* name = pcap_datalink_val_to_name(link_);
    throw CaptureError(path + ": link type " + (name ? name : std::to_string(link_)) +
                       " is not IP, Ethernet or Linux cooked capture");
  }
}

int CaptureFile::next(pcap_pkthdr** header, const std::uint8_t** data) {
  if (held_header_) {
    *header = held_header_;
    *data = held_data_;
    held_header_ = nullptr;
    return 1;
  }
  const int r = pcap_next_ex(pcap_.get(), header, data);
  if (r == 1) return 1;
  if (r == PCAP_ERROR_BREAK) return 0;
  throw CaptureError(path_ + ": after " + std::to_string(packets_) +
                     " packets: " + pcap_geterr(pcap_.get()));
}

std::int64_t CaptureFile::first_time_us() {
  if (!held_header_ && next(&held_header_, &held_data_) == 0) return -1;
  return std::int64_t{held_header_->ts.tv_sec} * 1'000'000 + held_header_->ts.tv_usec;
}

void CaptureFile::each_segment(const std::function<void(const Segment&)>& on_segment) {
  pcap_pkthdr* header = nullptr;
  const std::uint8_t* data = nullptr;
  Segment segment;
  while (next(&header, &data) == 1) {
    ++packets_;
    if (!parse_packet(link_, {data, header->caplen}, segment)) {
      ++skipped_;
      continue;
    }
    segment.time_us = std::int64_t{header->ts.tv_sec} * 1'000'000 + header->ts.tv_usec;
    on_segment(segment);
  }
}

}  // namespace spliceproxy::capture
