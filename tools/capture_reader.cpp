// capture_reader: lists the TCP flows of a pcapng capture (addresses, payload bytes each way,
// gaps in the sequence numbers) and extracts one direction of one flow to a file.
//
//   capture_reader FILE                              list flows, numbered from 0
//   capture_reader FILE N client_to_backend|backend_to_client OUT
//
// The client of a flow is the sender of its SYN (or of its first packet when the capture
// starts mid-flow). Reads pcapng sections of either byte order with link types raw IP,
// IPv4, IPv6 and Ethernet. Payload is taken in capture order; a segment that starts past the
// expected sequence number is a gap (those bytes were not captured).
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace {

struct Endpoint {
  std::string text;  // "1.2.3.4:80" or "[::1]:80"
  bool operator<(const Endpoint& o) const { return text < o.text; }
  bool operator==(const Endpoint& o) const { return text == o.text; }
};

struct Direction {
  std::uint64_t bytes = 0;
  std::uint64_t gaps = 0;
  bool started = false;
  std::uint32_t next = 0;
};

struct Flow {
  Endpoint client, backend;
  Direction dir[2];  // 0 client→backend, 1 backend→client
  bool fin = false, rst = false;
};

struct Segment {
  Endpoint src, dst;
  std::uint32_t seq = 0;
  std::uint8_t flags = 0;
  const std::uint8_t* payload = nullptr;
  std::size_t size = 0;
};

std::uint16_t be16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}
std::uint32_t be32(const std::uint8_t* p) {
  return std::uint32_t{be16(p)} << 16 | be16(p + 2);
}

std::string address(const std::uint8_t* ip, bool v6, std::uint16_t port) {
  char text[64];
  if (!v6) {
    std::snprintf(text, sizeof text, "%u.%u.%u.%u:%u", ip[0], ip[1], ip[2], ip[3], port);
    return text;
  }
  std::string out = "[";
  for (int i = 0; i < 16; i += 2) {
    std::snprintf(text, sizeof text, "%s%x", i ? ":" : "", be16(ip + i));
    out += text;
  }
  return out + "]:" + std::to_string(port);
}

// Parses an IP datagram holding TCP; false for anything else.
bool parse_ip(const std::uint8_t* p, std::size_t n, Segment& s) {
  if (n < 20) return false;
  const bool v6 = (p[0] >> 4) == 6;
  std::size_t header = 0, total = 0;
  if (v6) {
    if (n < 40 || p[6] != 6) return false;
    header = 40;
    total = 40 + be16(p + 4);
  } else {
    if ((p[0] >> 4) != 4 || p[9] != 6) return false;
    header = (p[0] & 0x0f) * 4u;
    total = be16(p + 2);
  }
  total = std::min(total, n);
  if (total < header + 20) return false;
  const std::uint8_t* tcp = p + header;
  const std::size_t tcp_header = (tcp[12] >> 4) * 4u;
  if (total < header + tcp_header) return false;
  const std::uint8_t* src_ip = v6 ? p + 8 : p + 12;
  const std::uint8_t* dst_ip = v6 ? p + 24 : p + 16;
  s.src = {address(src_ip, v6, be16(tcp))};
  s.dst = {address(dst_ip, v6, be16(tcp + 2))};
  s.seq = be32(tcp + 4);
  s.flags = tcp[13];
  s.payload = tcp + tcp_header;
  s.size = total - header - tcp_header;
  return true;
}

class Reader {
 public:
  explicit Reader(const char* path) : in_(path, std::ios::binary) {}
  bool ok() const { return static_cast<bool>(in_); }

  // Calls `on_segment` for each TCP segment; returns false on a malformed file.
  template <typename F>
  bool each_segment(F&& on_segment) {
    std::vector<std::uint8_t> block;
    std::uint8_t head[8];
    while (in_.read(reinterpret_cast<char*>(head), 8)) {
      std::uint32_t type = u32(head), length = u32(head + 4);
      if (type == 0x0A0D0D0A) {  // SHB: byte order from its magic
        std::uint8_t magic[4];
        if (!in_.read(reinterpret_cast<char*>(magic), 4)) return false;
        swap_ = magic[0] == 0x1A;
        length = u32(head + 4);
        links_.clear();
        if (length < 16 || !in_.seekg(length - 12, std::ios::cur)) return false;
        continue;
      }
      if (length < 12 || length % 4 != 0) return false;
      block.resize(length - 8);
      if (!in_.read(reinterpret_cast<char*>(block.data()), block.size())) return false;
      if (type == 1) links_.push_back(u16(block.data()));
      if (type != 6 || block.size() < 24) continue;
      const std::uint32_t interface = u32(block.data());
      const std::size_t captured = std::min<std::size_t>(u32(block.data() + 12), block.size() - 24);
      const std::uint8_t* data = block.data() + 20;
      Segment s;
      if (interface < links_.size() && parse_link(links_[interface], data, captured, s))
        on_segment(s);
    }
    return in_.eof();
  }

 private:
  std::uint32_t u32(const std::uint8_t* p) const {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    return swap_ ? __builtin_bswap32(v) : v;
  }
  std::uint16_t u16(const std::uint8_t* p) const {
    std::uint16_t v;
    std::memcpy(&v, p, 2);
    return swap_ ? __builtin_bswap16(v) : v;
  }
  static bool parse_link(std::uint16_t link, const std::uint8_t* p, std::size_t n, Segment& s) {
    if (link == 101 || link == 228 || link == 229) return parse_ip(p, n, s);
    if (link == 1 && n >= 14 && (be16(p + 12) == 0x0800 || be16(p + 12) == 0x86DD))
      return parse_ip(p + 14, n - 14, s);
    return false;
  }

  std::ifstream in_;
  bool swap_ = false;
  std::vector<std::uint16_t> links_;
};

// Adds `s` to its flow (creating it), in `flows` by first appearance; returns its index and
// direction, and updates byte and gap counts.
std::pair<std::size_t, int> account(std::vector<Flow>& flows,
                                    std::map<std::pair<Endpoint, Endpoint>, std::size_t>& index,
                                    const Segment& s) {
  const auto key = s.src < s.dst ? std::pair{s.src, s.dst} : std::pair{s.dst, s.src};
  auto [it, fresh] = index.emplace(key, flows.size());
  if (fresh) flows.push_back(Flow{s.src, s.dst, {}, false, false});
  Flow& flow = flows[it->second];
  const int d = s.src == flow.client ? 0 : 1;
  Direction& dir = flow.dir[d];
  const bool syn = s.flags & 0x02;
  if (syn) {
    dir.started = true;
    dir.next = s.seq + 1;
  } else if (s.size > 0) {
    if (dir.started && static_cast<std::int32_t>(s.seq - dir.next) > 0) ++dir.gaps;
    dir.started = true;
    dir.bytes += s.size;
    dir.next = s.seq + static_cast<std::uint32_t>(s.size);
  }
  flow.fin |= (s.flags & 0x01) != 0;
  flow.rst |= (s.flags & 0x04) != 0;
  return {it->second, d};
}

void list(const std::vector<Flow>& flows) {
  for (std::size_t i = 0; i < flows.size(); ++i) {
    const Flow& f = flows[i];
    std::printf(
        "%zu %s -> %s client_to_backend=%llu gaps=%llu backend_to_client=%llu gaps=%llu %s\n", i,
        f.client.text.c_str(), f.backend.text.c_str(),
        static_cast<unsigned long long>(f.dir[0].bytes),
        static_cast<unsigned long long>(f.dir[0].gaps),
        static_cast<unsigned long long>(f.dir[1].bytes),
        static_cast<unsigned long long>(f.dir[1].gaps),
        f.rst   ? "reset"
        : f.fin ? "closed"
                : "open");
  }
}

int usage() {
  std::fprintf(stderr,
               "usage: capture_reader FILE\n"
               "       capture_reader FILE N client_to_backend|backend_to_client OUT\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 && argc != 5) return usage();
  Reader reader(argv[1]);
  if (!reader.ok()) {
    std::fprintf(stderr, "capture_reader: cannot open %s\n", argv[1]);
    return 1;
  }
  const bool extract = argc == 5;
  const std::size_t wanted = extract ? std::stoul(argv[2]) : 0;
  const int wanted_dir = extract && std::strcmp(argv[3], "backend_to_client") == 0 ? 1 : 0;
  if (extract && wanted_dir == 0 && std::strcmp(argv[3], "client_to_backend") != 0) return usage();
  std::FILE* out = extract ? std::fopen(argv[4], "wb") : nullptr;
  if (extract && !out) {
    std::fprintf(stderr, "capture_reader: cannot create %s\n", argv[4]);
    return 1;
  }
  std::vector<Flow> flows;
  std::map<std::pair<Endpoint, Endpoint>, std::size_t> index;
  const bool well_formed = reader.each_segment([&](const Segment& s) {
    const auto [flow, dir] = account(flows, index, s);
    if (out && flow == wanted && dir == wanted_dir && s.size > 0)
      std::fwrite(s.payload, 1, s.size, out);
  });
  if (out && std::fclose(out) != 0) return 1;
  if (!well_formed) std::fprintf(stderr, "capture_reader: %s: truncated or malformed\n", argv[1]);
  if (extract && wanted >= flows.size()) {
    std::fprintf(stderr, "capture_reader: no flow %zu (%zu flows)\n", wanted, flows.size());
    return 1;
  }
  if (!extract) list(flows);
  return well_formed ? 0 : 1;
}
