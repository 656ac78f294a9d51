// proxy_protocol: the PROXY protocol header (HAProxy's doc/proxy-protocol.txt), versions 1 (one
// text line) and 2 (binary), as a pure parser and encoder: bytes in, values out, no I/O, no
// allocation while parsing. proxy_header_reader.hpp reads it from accepted clients;
// session_proxy_protocol.cpp writes it to backends.
//
//   parse(bytes so far) ──▶ incomplete (need more; every byte seen is header)
//                      ├──▶ invalid (reason; close the client)
//                      └──▶ complete (length, source and destination, or "unknown")
//
// Depends on the C++ standard library and <arpa/inet.h> only, so the fuzz target
// (test/fuzz/proxy_protocol_fuzzer.cpp) compiles it on its own.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace spliceproxy::proxy_protocol {

enum class Version { v1, v2 };

// Which versions a listener accepts.
enum class Accept { v1, v2, any };

// Longest version 1 header, "\r\n" included (the spec's worst case, TCP6 with full addresses).
inline constexpr std::size_t kMaxV1Length = 107;
// Fixed part of a version 2 header: signature, version/command, family/protocol, length.
inline constexpr std::size_t kV2FixedLength = 16;
// The longest version 2 header accepted, TLVs included: the format allows 16 + 65535 bytes,
// but addresses and the TLVs load balancers send fit in a few hundred, and each client whose
// header is being read holds a buffer of the announced size.
inline constexpr std::size_t kMaxV2Length = 4096;

// An IP address and port; `ip` holds 4 (ipv6 false) or 16 bytes in network order.
struct IpPort {
  bool ipv6 = false;
  std::array<std::uint8_t, 16> ip{};
  std::uint16_t port = 0;

  friend bool operator==(const IpPort&, const IpPort&) = default;
};

// The connection a header describes: the client (source) and the address it connected to
// (destination).
struct Addresses {
  IpPort source = {};
  IpPort destination = {};

  friend bool operator==(const Addresses&, const Addresses&) = default;
};

// Why a header was refused. X(name, text)
#define SPLICEPROXY_PROXY_PROTOCOL_ERRORS(X)                                   \
  X(none, "no error")                                                          \
  X(not_proxy_protocol, "no PROXY protocol signature")                         \
  X(wrong_version, "a PROXY protocol version this listener does not accept")   \
  X(v1_too_long, "version 1 line longer than 107 bytes")                       \
  X(v1_bad_line, "version 1 line malformed (spaces, protocol or line ending)") \
  X(v1_bad_address, "version 1 address malformed or of the wrong family")      \
  X(v1_bad_port, "version 1 port malformed or out of range")                   \
  X(v2_bad_version, "version 2 version nibble is not 2")                       \
  X(v2_bad_command, "version 2 command is neither LOCAL nor PROXY")            \
  X(v2_bad_family, "version 2 address family or protocol unknown or not TCP")  \
  X(v2_bad_length, "version 2 length shorter than its addresses")              \
  X(v2_too_long, "version 2 header longer than 4096 bytes")                    \
  X(v2_bad_tlv, "version 2 TLV overruns the header")

enum class Error {
#define SPLICEPROXY_ENUM(name, text) name,
  SPLICEPROXY_PROXY_PROTOCOL_ERRORS(SPLICEPROXY_ENUM)
#undef SPLICEPROXY_ENUM
};

std::string_view to_string(Error error);

struct Result {
  enum class Status { incomplete, invalid, complete };
  Status status = Status::incomplete;
  Error error = Error::none;  // invalid: why
  // incomplete: the least total length the header can have given the bytes seen (> their
  // count); complete: the header's exact length. The bytes after it are payload.
  std::size_t length = 0;
  Version version = Version::v1;  // complete
  // complete: false for v1 UNKNOWN, v2 LOCAL, and v2 PROXY of family UNSPEC or UNIX, which
  // carry no IP address: the receiver then uses the connection's own addresses.
  bool has_addresses = false;
  Addresses addresses = {};
};

// Parses the start of a client's byte stream. Contract: `incomplete` is returned only when
// every byte of `data` belongs to the header (a caller may consume them all), `invalid` as
// soon as the bytes cannot start a valid header of an accepted version.
// Version 1 is strict: single spaces, "\r\n", TCP4 with dotted-quad IPv4, TCP6 with IPv6 text
// (both as inet_pton reads them: no leading zeros in IPv4 parts), ports 0-65535 in decimal
// without leading zeros; UNKNOWN may be followed by anything up to "\r\n" (ignored).
// Version 2: version 2, command LOCAL or PROXY, family/protocol one of the seven the spec
// lists, DGRAM refused (we proxy TCP); the address block must fit the length; TLVs after
// it are skipped, each one's length checked against the header's end.
Result parse(std::span<const std::uint8_t> data, Accept accept);

// PP2_TYPE_AUTHORITY: the host name the client asked for (its TLS server name), as HAProxy
// sends it; at most kMaxAuthorityLength bytes.
inline constexpr std::uint8_t kTlvAuthority = 0x02;
inline constexpr std::size_t kMaxAuthorityLength = 255;

// The header for a connection from `addresses` (nullptr: a client without an IP address,
// e.g. on a Unix socket): v1 "PROXY TCP4|TCP6 ..." or "PROXY UNKNOWN\r\n"; v2 PROXY command,
// family INET or INET6 over STREAM, or family UNSPEC with no address block. When the two
// families differ, both are sent as IPv6 (IPv4-mapped), as the spec's v1 section suggests.
// A non-empty `authority` goes, in v2 only, as a PP2_TYPE_AUTHORITY TLV after the addresses.
std::vector<std::uint8_t> encode(Version version, const Addresses* addresses,
                                 std::string_view authority = {});

// The header of a connection the proxy makes on its own (a health check): v1
// "PROXY UNKNOWN\r\n", v2 LOCAL command with family UNSPEC.
std::vector<std::uint8_t> encode_local(Version version);

}  // namespace spliceproxy::proxy_protocol
