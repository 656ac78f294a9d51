// proxy_protocol: parser and encoder of PROXY protocol headers; see proxy_protocol.hpp.
#include "proxy/protocol/proxy_protocol.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <string>

namespace spliceproxy::proxy_protocol {
namespace {

using Bytes = std::span<const std::uint8_t>;

constexpr std::string_view kV1Prefix = "PROXY ";
constexpr std::string_view kV1Unknown = "PROXY UNKNOWN\r\n";  // also the shortest v1 header
constexpr std::array<std::uint8_t, 12> kV2Signature = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                       0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr std::uint8_t kV2Version = 0x20;
constexpr std::uint8_t kCommandLocal = 0x0;
constexpr std::uint8_t kCommandProxy = 0x1;
// Family (high nibble) and protocol (low nibble) bytes the spec defines.
constexpr std::uint8_t kUnspec = 0x00;
constexpr std::uint8_t kTcp4 = 0x11;
constexpr std::uint8_t kUdp4 = 0x12;
constexpr std::uint8_t kTcp6 = 0x21;
constexpr std::uint8_t kUdp6 = 0x22;
constexpr std::uint8_t kUnixStream = 0x31;
constexpr std::uint8_t kUnixDgram = 0x32;
constexpr std::size_t kV4Block = 12;     // two IPv4 addresses, two ports
constexpr std::size_t kV6Block = 36;     // two IPv6 addresses, two ports
constexpr std::size_t kUnixBlock = 216;  // two 108-byte paths

Result incomplete(std::size_t least) {
  return {.status = Result::Status::incomplete, .length = least};
}

Result invalid(Error error) {
  return {.status = Result::Status::invalid, .error = error};
}

Result complete(Version version, std::size_t length) {
  return {.status = Result::Status::complete, .length = length, .version = version};
}

bool starts_like(Bytes data, const void* prefix, std::size_t prefix_size) {
  return std::memcmp(data.data(), prefix, std::min(data.size(), prefix_size)) == 0;
}

// A port in decimal: 1 to 5 digits, no leading zero (but "0" itself), at most 65535.
bool parse_port(std::string_view text, std::uint16_t& port) {
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) return false;
  unsigned value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > 0xffff) return false;
  port = static_cast<std::uint16_t>(value);
  return true;
}

// An address of `family` as inet_pton reads it (which refuses IPv4 parts with leading zeros).
bool parse_ip(std::string_view text, bool ipv6, IpPort& out) {
  char buffer[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof buffer) return false;
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  out.ipv6 = ipv6;
  return inet_pton(ipv6 ? AF_INET6 : AF_INET, buffer, out.ip.data()) == 1;
}

// The text between "PROXY " and "\r\n": "UNKNOWN[ anything]" or
// "TCP4|TCP6 SRC DST SRCPORT DSTPORT", single spaces.
Result parse_v1_fields(std::string_view line, std::size_t length) {
  if (line == "UNKNOWN" || line.starts_with("UNKNOWN ")) return complete(Version::v1, length);
  std::string_view fields[5];
  for (std::size_t i = 0; i < 5; ++i) {
    const std::size_t space = line.find(' ');
    if ((space == std::string_view::npos) != (i == 4)) return invalid(Error::v1_bad_line);
    fields[i] = line.substr(0, space);
    if (fields[i].empty()) return invalid(Error::v1_bad_line);
    line.remove_prefix(i == 4 ? line.size() : space + 1);
  }
  if (fields[0] != "TCP4" && fields[0] != "TCP6") return invalid(Error::v1_bad_line);
  const bool ipv6 = fields[0] == "TCP6";
  Result result = complete(Version::v1, length);
  Addresses& a = result.addresses;
  if (!parse_ip(fields[1], ipv6, a.source) || !parse_ip(fields[2], ipv6, a.destination))
    return invalid(Error::v1_bad_address);
  if (!parse_port(fields[3], a.source.port) || !parse_port(fields[4], a.destination.port))
    return invalid(Error::v1_bad_port);
  result.has_addresses = true;
  return result;
}

Result parse_v1(Bytes data) {
  if (!starts_like(data, kV1Prefix.data(), kV1Prefix.size()))
    return invalid(Error::not_proxy_protocol);
  const std::size_t window = std::min(data.size(), kMaxV1Length);
  const auto* text = reinterpret_cast<const char*>(data.data());
  const auto* newline = static_cast<const char*>(std::memchr(text, '\n', window));
  if (newline == nullptr) {
    if (data.size() >= kMaxV1Length) return invalid(Error::v1_too_long);
    // A '\r' must end the line: one followed by anything but '\n' is malformed.
    if (std::memchr(text, '\r', data.size() - 1) != nullptr) return invalid(Error::v1_bad_line);
    // The shortest end: "\n" after a final '\r', else "\r\n"; past 107 bytes it cannot fit.
    const std::size_t least = data.size() + (data.back() == '\r' ? 1 : 2);
    if (least > kMaxV1Length) return invalid(Error::v1_too_long);
    return incomplete(std::max(kV1Unknown.size(), least));
  }
  const std::size_t length = static_cast<std::size_t>(newline - text) + 1;
  const std::string_view line(text, length);
  if (length < kV1Prefix.size() + 2 || line[length - 2] != '\r' || line.find('\r') != length - 2)
    return invalid(Error::v1_bad_line);
  return parse_v1_fields(line.substr(kV1Prefix.size(), length - kV1Prefix.size() - 2), length);
}

std::size_t address_block_size(std::uint8_t family) {
  switch (family) {
    case kTcp4:
    case kUdp4:
      return kV4Block;
    case kTcp6:
    case kUdp6:
      return kV6Block;
    case kUnixStream:
    case kUnixDgram:
      return kUnixBlock;
    default:
      return 0;
  }
}

// Type-length-value records filling `tlvs` exactly; their contents are not interpreted.
bool tlvs_fit(Bytes tlvs) {
  while (!tlvs.empty()) {
    if (tlvs.size() < 3) return false;
    const std::size_t size = 3 + (std::size_t{tlvs[1]} << 8 | tlvs[2]);
    if (size > tlvs.size()) return false;
    tlvs = tlvs.subspan(size);
  }
  return true;
}

IpPort read_ip_port(Bytes block, bool ipv6, std::size_t ip_offset, std::size_t port_offset) {
  IpPort out;
  out.ipv6 = ipv6;
  std::memcpy(out.ip.data(), block.data() + ip_offset, ipv6 ? 16 : 4);
  out.port = static_cast<std::uint16_t>(block[port_offset] << 8 | block[port_offset + 1]);
  return out;
}

// The checks of bytes 12 and 13 (version/command, family/protocol), as far as `data` goes.
Error check_v2_fixed(Bytes data) {
  if (data.size() > 12) {
    if ((data[12] & 0xf0) != kV2Version) return Error::v2_bad_version;
    if ((data[12] & 0x0f) > kCommandProxy) return Error::v2_bad_command;
  }
  if (data.size() > 13) {
    const std::uint8_t family = data[13];
    if (family != kUnspec && address_block_size(family) == 0) return Error::v2_bad_family;
    const bool proxy = (data[12] & 0x0f) == kCommandProxy;
    if (proxy && (family == kUdp4 || family == kUdp6 || family == kUnixDgram))
      return Error::v2_bad_family;
  }
  return Error::none;
}

Result parse_v2(Bytes data) {
  if (!starts_like(data, kV2Signature.data(), kV2Signature.size()))
    return invalid(Error::not_proxy_protocol);
  if (const Error error = check_v2_fixed(data); error != Error::none) return invalid(error);
  if (data.size() < kV2FixedLength) return incomplete(kV2FixedLength);
  const bool proxy = (data[12] & 0x0f) == kCommandProxy;
  const std::uint8_t family = data[13];
  const std::size_t body = std::size_t{data[14]} << 8 | data[15];
  const std::size_t block = address_block_size(family);
  if (proxy && body < block) return invalid(Error::v2_bad_length);
  const std::size_t length = kV2FixedLength + body;
  if (length > kMaxV2Length) return invalid(Error::v2_too_long);
  if (data.size() < length) return incomplete(length);
  // LOCAL: the receiver discards the whole block (the spec), TLVs or not.
  if (!proxy) return complete(Version::v2, length);
  if (!tlvs_fit(data.subspan(kV2FixedLength + block, body - block)))
    return invalid(Error::v2_bad_tlv);
  Result result = complete(Version::v2, length);
  if (family != kTcp4 && family != kTcp6) return result;  // no IP address to use
  const Bytes addresses = data.subspan(kV2FixedLength, block);
  const bool ipv6 = family == kTcp6;
  const std::size_t ip = ipv6 ? 16 : 4;
  result.addresses = {read_ip_port(addresses, ipv6, 0, 2 * ip),
                      read_ip_port(addresses, ipv6, ip, 2 * ip + 2)};
  result.has_addresses = true;
  return result;
}

// `address` as IPv6: itself, or its IPv4-mapped form.
IpPort as_ipv6(const IpPort& address) {
  if (address.ipv6) return address;
  IpPort out{.ipv6 = true, .port = address.port};
  out.ip[10] = out.ip[11] = 0xff;
  std::memcpy(out.ip.data() + 12, address.ip.data(), 4);
  return out;
}

std::string ip_text(const IpPort& address) {
  char buffer[INET6_ADDRSTRLEN];
  inet_ntop(address.ipv6 ? AF_INET6 : AF_INET, address.ip.data(), buffer, sizeof buffer);
  return buffer;
}

std::vector<std::uint8_t> encode_v1(const Addresses& a) {
  const std::string line = std::string(kV1Prefix) + (a.source.ipv6 ? "TCP6 " : "TCP4 ") +
                           ip_text(a.source) + ' ' + ip_text(a.destination) + ' ' +
                           std::to_string(a.source.port) + ' ' +
                           std::to_string(a.destination.port) + "\r\n";
  return {line.begin(), line.end()};
}

std::vector<std::uint8_t> v2_fixed(std::uint8_t command, std::uint8_t family, std::size_t body) {
  std::vector<std::uint8_t> out(kV2Signature.begin(), kV2Signature.end());
  out.push_back(kV2Version | command);
  out.push_back(family);
  out.push_back(static_cast<std::uint8_t>(body >> 8));
  out.push_back(static_cast<std::uint8_t>(body & 0xff));
  return out;
}

std::vector<std::uint8_t> encode_v2(const Addresses& a) {
  const bool ipv6 = a.source.ipv6;
  const std::size_t ip = ipv6 ? 16 : 4;
  std::vector<std::uint8_t> out =
      v2_fixed(kCommandProxy, ipv6 ? kTcp6 : kTcp4, ipv6 ? kV6Block : kV4Block);
  out.insert(out.end(), a.source.ip.begin(), a.source.ip.begin() + ip);
  out.insert(out.end(), a.destination.ip.begin(), a.destination.ip.begin() + ip);
  for (std::uint16_t port : {a.source.port, a.destination.port}) {
    out.push_back(static_cast<std::uint8_t>(port >> 8));
    out.push_back(static_cast<std::uint8_t>(port & 0xff));
  }
  return out;
}

// Appends a TLV to a version 2 header and counts it in the header's length.
void append_tlv(std::vector<std::uint8_t>& out, std::uint8_t type, std::string_view value) {
  out.push_back(type);
  out.push_back(static_cast<std::uint8_t>(value.size() >> 8));
  out.push_back(static_cast<std::uint8_t>(value.size() & 0xff));
  out.insert(out.end(), value.begin(), value.end());
  const std::size_t body = out.size() - kV2FixedLength;
  out[14] = static_cast<std::uint8_t>(body >> 8);
  out[15] = static_cast<std::uint8_t>(body & 0xff);
}

}  // namespace

std::string_view to_string(Error error) {
  switch (error) {
#define SPLICEPROXY_CASE(name, text) \
  case Error::name:                  \
    return text;
    SPLICEPROXY_PROXY_PROTOCOL_ERRORS(SPLICEPROXY_CASE)
#undef SPLICEPROXY_CASE
  }
  return "unknown";
}

Result parse(Bytes data, Accept accept) {
  if (data.empty()) return incomplete(accept == Accept::v2 ? kV2FixedLength : kV1Unknown.size());
  const bool v1 = data[0] == kV1Prefix[0];
  const bool v2 = data[0] == kV2Signature[0];
  if (!v1 && !v2) return invalid(Error::not_proxy_protocol);
  if ((v1 && accept == Accept::v2) || (v2 && accept == Accept::v1))
    return invalid(Error::wrong_version);
  return v1 ? parse_v1(data) : parse_v2(data);
}

std::vector<std::uint8_t> encode(Version version, const Addresses* addresses,
                                 std::string_view authority) {
  if (version == Version::v1 && addresses == nullptr) return {kV1Unknown.begin(), kV1Unknown.end()};
  std::vector<std::uint8_t> out;
  if (addresses == nullptr) {
    out = v2_fixed(kCommandProxy, kUnspec, 0);
  } else {
    Addresses same = *addresses;
    if (same.source.ipv6 != same.destination.ipv6) {
      same.source = as_ipv6(same.source);
      same.destination = as_ipv6(same.destination);
    }
    if (version == Version::v1) return encode_v1(same);
    out = encode_v2(same);
  }
  if (!authority.empty() && authority.size() <= kMaxAuthorityLength)
    append_tlv(out, kTlvAuthority, authority);
  return out;
}

std::vector<std::uint8_t> encode_local(Version version) {
  if (version == Version::v1) return {kV1Unknown.begin(), kV1Unknown.end()};
  return v2_fixed(kCommandLocal, kUnspec, 0);
}

}  // namespace spliceproxy::proxy_protocol
