// CaptureFile: the TCP segments of a capture file, read with libpcap (pcap or pcapng, either
// byte order; link types raw IP, IPv4, IPv6, Ethernet and Linux cooked capture).
//
// A segment is what one packet says about one direction of one TCP flow: addresses, sequence
// number, flags, timestamp and the payload bytes the file holds. When the file holds less
// payload than the packet carried (a snap length, a truncated packet), `payload` is the part
// captured and `wire_size` the length sent: the reader of the flow sees a gap after it.
#pragma once

#include <pcap/pcap.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>

namespace spliceproxy::capture {

// A capture that cannot be opened or read; what() names the file and says why.
struct CaptureError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// One end of a flow as text: "127.0.0.1:80" or "[::1]:80" (inet_ntop's form).
using Endpoint = std::string;

namespace tcp_flag {
inline constexpr std::uint8_t fin = 0x01, syn = 0x02, rst = 0x04, ack = 0x10;
}

struct Segment {
  Endpoint src;
  Endpoint dst;
  std::uint32_t seq = 0;
  std::uint8_t flags = 0;
  std::int64_t time_us = 0;  // microseconds since the epoch
  std::span<const std::uint8_t> payload;
  std::size_t wire_size = 0;  // payload length the packet carried (>= payload.size())
};

// Parses one packet of link type `link` (a DLT_ value); false when it is not TCP over IP.
bool parse_packet(int link, std::span<const std::uint8_t> packet, Segment& out);

class CaptureFile {
 public:
  // Opens `path`; throws CaptureError when libpcap cannot (missing, not a capture, corrupt
  // header) or its link type is not one parse_packet reads.
  explicit CaptureFile(const std::string& path);
  CaptureFile(const CaptureFile&) = delete;
  CaptureFile& operator=(const CaptureFile&) = delete;

  const std::string& path() const { return path_; }

  // Calls `on_segment` for each TCP segment, in file order, until the end. Packets that are
  // not TCP over IP are counted in skipped_packets(). Throws CaptureError when the file is
  // truncated or corrupt past its header (the segments before were delivered).
  void each_segment(const std::function<void(const Segment&)>& on_segment);

  // Timestamp of the next packet, which it reads and keeps for each_segment; -1 at the end.
  std::int64_t first_time_us();

  std::uint64_t packets() const { return packets_; }
  std::uint64_t skipped_packets() const { return skipped_; }

 private:
  struct Closer {
    void operator()(pcap_t* p) const { pcap_close(p); }
  };
  // One packet: 1, 0 at the end; throws on a read error.
  int next(pcap_pkthdr** header, const std::uint8_t** data);

  std::string path_;
  std::unique_ptr<pcap_t, Closer> pcap_;
  int link_ = 0;
  pcap_pkthdr* held_header_ = nullptr;  // a packet first_time_us read ahead
  const std::uint8_t* held_data_ = nullptr;
  std::uint64_t packets_ = 0;
  std::uint64_t skipped_ = 0;
};

}  // namespace spliceproxy::capture
