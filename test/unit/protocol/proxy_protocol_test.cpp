// The PROXY protocol parser and encoder (proxy/protocol/proxy_protocol.cpp): every field of both
// versions, the spec's examples, every truncation of a valid header (incomplete, never
// invalid), malformed headers with their reasons, and encode -> parse round trips.
#include "proxy/protocol/proxy_protocol.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace spliceproxy::proxy_protocol {
namespace {

using Bytes = std::vector<std::uint8_t>;
using Status = Result::Status;

Bytes bytes(std::string_view text) {
  return {text.begin(), text.end()};
}

Result parse_text(std::string_view text, Accept accept = Accept::any) {
  const Bytes data = bytes(text);
  return parse(data, accept);
}

IpPort v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d, std::uint16_t port) {
  IpPort out{.ipv6 = false, .port = port};
  out.ip[0] = a, out.ip[1] = b, out.ip[2] = c, out.ip[3] = d;
  return out;
}

IpPort v6_loopback(std::uint16_t port) {
  IpPort out{.ipv6 = true, .port = port};
  out.ip[15] = 1;
  return out;
}

const Bytes kSignature = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

// A v2 header: signature, then `rest` (version/command, family, length, body).
Bytes v2(const Bytes& rest) {
  Bytes out = kSignature;
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

// The spec's v2 TCP4 example shape: 192.168.0.1:56324 -> 192.168.0.11:443.
const Bytes kV2Tcp4 =
    v2({0x21, 0x11, 0x00, 0x0C, 192, 168, 0, 1, 192, 168, 0, 11, 0xDC, 0x04, 0x01, 0xBB});

// `r` is a complete header of `version` and `length` for 192.168.0.1:56324 -> 192.168.0.11:443.
void expect_spec_tcp4(const Result& r, Version version, std::size_t length) {
  ASSERT_EQ(r.status, Status::complete) << to_string(r.error);
  EXPECT_EQ(r.version, version);
  EXPECT_EQ(r.length, length);
  ASSERT_TRUE(r.has_addresses);
  EXPECT_EQ(r.addresses.source, v4(192, 168, 0, 1, 56324));
  EXPECT_EQ(r.addresses.destination, v4(192, 168, 0, 11, 443));
}

TEST(ProxyProtocol, V1Tcp4FromTheSpecIsRead) {
  expect_spec_tcp4(parse_text("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET /"),
                   Version::v1, 47);
}

TEST(ProxyProtocol, V1Tcp6IsRead) {
  const Result r = parse_text("PROXY TCP6 ::1 2001:db8::7 0 65535\r\n");
  ASSERT_EQ(r.status, Status::complete) << to_string(r.error);
  EXPECT_EQ(r.addresses.source, v6_loopback(0));
  EXPECT_TRUE(r.addresses.destination.ipv6);
  EXPECT_EQ(r.addresses.destination.ip[0], 0x20);
  EXPECT_EQ(r.addresses.destination.ip[15], 7);
  EXPECT_EQ(r.addresses.destination.port, 65535);
}

TEST(ProxyProtocol, V1UnknownCarriesNoAddressAndIgnoresTheRest) {
  for (const char* line : {"PROXY UNKNOWN\r\n", "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"}) {
    const Result r = parse_text(line);
    ASSERT_EQ(r.status, Status::complete) << line;
    EXPECT_FALSE(r.has_addresses);
    EXPECT_EQ(r.length, std::string_view(line).size());
  }
}

// The spec's worst case: UNKNOWN followed by the longest addresses and ports.
TEST(ProxyProtocol, V1WorstCaseOf107BytesIsAccepted) {
  const std::string addresses =
      " ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
      "65535 65535\r\n";
  const std::string line = "PROXY UNKNOWN" + addresses;
  ASSERT_EQ(line.size(), kMaxV1Length);
  EXPECT_EQ(parse_text(line).status, Status::complete);
  EXPECT_TRUE(parse_text("PROXY TCP6" + addresses).has_addresses);
}

TEST(ProxyProtocol, V1LongerThan107BytesIsInvalid) {
  const std::string line = "PROXY UNKNOWN " + std::string(92, 'x') + "\r\n";
  ASSERT_EQ(line.size(), kMaxV1Length + 1);
  const Result r = parse_text(line);
  EXPECT_EQ(r.status, Status::invalid);
  EXPECT_EQ(r.error, Error::v1_too_long);
  EXPECT_EQ(parse_text(std::string(200, 'P')).status, Status::invalid);
  // 106 bytes without an end: "\r\n" would make 108, so it is already too long.
  const std::string unended = "PROXY UNKNOWN " + std::string(92, 'x');
  EXPECT_EQ(parse_text(unended).error, Error::v1_too_long);
  EXPECT_EQ(parse_text(unended.substr(0, 105)).status, Status::incomplete);
  EXPECT_EQ(parse_text(unended.substr(0, 105) + "\r").status, Status::incomplete);
}

TEST(ProxyProtocol, MalformedV1LinesAreRefusedWithTheirReason) {
  const std::pair<const char*, Error> cases[] = {
      {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", Error::v1_bad_line},        // no \r
      {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rx", Error::v1_bad_line},       // \r not before \n
      {"PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n", Error::v1_bad_line},     // two spaces
      {"PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", Error::v1_bad_line},     // two spaces
      {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", Error::v1_bad_line},     // trailing space
      {"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", Error::v1_bad_line},        // a field missing
      {"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", Error::v1_bad_line},      // protocol
      {"PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", Error::v1_bad_line},      // case
      {"PROXY UNKNOWNX\r\n", Error::v1_bad_line},                      // not UNKNOWN
      {"PROXY \r\n", Error::v1_bad_line},                              // nothing
      {"PROXY TCP4 ::1 5.6.7.8 1 2\r\n", Error::v1_bad_address},       // family
      {"PROXY TCP6 1.2.3.4 ::1 1 2\r\n", Error::v1_bad_address},       // family
      {"PROXY TCP4 1.2.3.04 5.6.7.8 1 2\r\n", Error::v1_bad_address},  // leading zero
      {"PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", Error::v1_bad_address},     // three parts
      {"PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", Error::v1_bad_address},
      {"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", Error::v1_bad_port},
      {"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", Error::v1_bad_port},  // leading zero
      {"PROXY TCP4 1.2.3.4 5.6.7.8 1 -2\r\n", Error::v1_bad_port},
      {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2x\r\n", Error::v1_bad_port},
      {"PROXY TCP4 1.2.3.4 5.6.7.8 1 999999\r\n", Error::v1_bad_port},
      {"PROXX TCP4", Error::not_proxy_protocol},
      {"GET / HTTP/1.1\r\n", Error::not_proxy_protocol},
  };
  for (const auto& [line, error] : cases) {
    const Result r = parse_text(line);
    EXPECT_EQ(r.status, Status::invalid) << line;
    EXPECT_EQ(r.error, error) << line << ": " << to_string(r.error);
  }
}

TEST(ProxyProtocol, V2Tcp4IsRead) {
  Bytes data = kV2Tcp4;
  data.push_back('G');  // payload after the header is not part of it
  expect_spec_tcp4(parse(data, Accept::any), Version::v2, 28);
}

TEST(ProxyProtocol, V2Tcp6WithTlvsIsRead) {
  Bytes body(36, 0);
  body[15] = 1;                                                            // source ::1
  body[16] = 0x20;                                                         // destination 2001::
  body[32] = 0x30, body[33] = 0x39;                                        // source port 12345
  body[34] = 0x00, body[35] = 0x50;                                        // destination port 80
  const Bytes tlvs = {0x04, 0x00, 0x00, 0x01, 0x00, 0x03, 'a', 'b', 'c'};  // NOOP, ALPN
  body.insert(body.end(), tlvs.begin(), tlvs.end());
  const Bytes data = v2({0x21, 0x21, 0x00, static_cast<std::uint8_t>(body.size())});
  Bytes all = data;
  all.insert(all.end(), body.begin(), body.end());
  const Result r = parse(all, Accept::v2);
  ASSERT_EQ(r.status, Status::complete) << to_string(r.error);
  EXPECT_EQ(r.length, 16 + body.size());
  EXPECT_EQ(r.addresses.source, v6_loopback(12345));
  EXPECT_EQ(r.addresses.destination.ip[0], 0x20);
  EXPECT_EQ(r.addresses.destination.port, 80);
}

TEST(ProxyProtocol, V2LocalAndUnspecCarryNoAddress) {
  const Bytes local_with_block =
      v2({0x20, 0x11, 0x00, 0x0C, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2});  // LOCAL: ignored
  const Bytes local_short = v2({0x20, 0x11, 0x00, 0x02, 0xAA, 0xBB});    // LOCAL skips the block
  // LOCAL: the block is discarded, so bytes that are no TLV are not an error either.
  const Bytes local_padding =
      v2({0x20, 0x11, 0x00, 0x0E, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2, 0x04, 0x00});
  const Bytes proxy_unspec = v2({0x21, 0x00, 0x00, 0x00});
  const Bytes proxy_unix = [] {
    Bytes d = v2({0x21, 0x31, 0x00, 0xD8});
    d.resize(16 + 216, 0);
    return d;
  }();
  for (const Bytes& data :
       {local_with_block, local_short, local_padding, proxy_unspec, proxy_unix}) {
    const Result r = parse(data, Accept::any);
    ASSERT_EQ(r.status, Status::complete) << to_string(r.error);
    EXPECT_FALSE(r.has_addresses);
    EXPECT_EQ(r.length, data.size());
  }
}

TEST(ProxyProtocol, MalformedV2HeadersAreRefusedWithTheirReason) {
  Bytes bad_signature = kV2Tcp4;
  bad_signature[7] = 'q';
  Bytes tlv_overrun = v2({0x21, 0x11, 0x00, 0x10, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2});
  tlv_overrun.insert(tlv_overrun.end(), {0x04, 0x00, 0x02, 0xAA});  // says 2, has 1
  Bytes tlv_stub = v2({0x21, 0x11, 0x00, 0x0E, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2});
  tlv_stub.insert(tlv_stub.end(), {0x04, 0x00});  // 2 bytes: less than a TLV's 3
  const std::pair<Bytes, Error> cases[] = {
      {bad_signature, Error::not_proxy_protocol},
      {v2({0x11, 0x11, 0x00, 0x00}), Error::v2_bad_version},
      {v2({0x31, 0x11, 0x00, 0x00}), Error::v2_bad_version},
      {v2({0x22, 0x11, 0x00, 0x00}), Error::v2_bad_command},
      {v2({0x21, 0x41, 0x00, 0x00}), Error::v2_bad_family},
      {v2({0x21, 0x13, 0x00, 0x00}), Error::v2_bad_family},
      {v2({0x21, 0x10, 0x00, 0x00}), Error::v2_bad_family},
      {v2({0x21, 0x12, 0x00, 0x0C}), Error::v2_bad_family},  // UDP: we proxy TCP
      {v2({0x21, 0x11, 0x00, 0x0B}), Error::v2_bad_length},
      {v2({0x21, 0x21, 0x00, 0x0C}), Error::v2_bad_length},
      {tlv_overrun, Error::v2_bad_tlv},
      {tlv_stub, Error::v2_bad_tlv},
      // 16 + 4081 bytes announced: refused from the fixed part alone, before any buffering.
      {v2({0x21, 0x11, 0x0F, 0xF1}), Error::v2_too_long},
  };
  for (const auto& [data, error] : cases) {
    const Result r = parse(data, Accept::any);
    EXPECT_EQ(r.status, Status::invalid) << to_string(error);
    EXPECT_EQ(r.error, error) << to_string(r.error);
  }
}

TEST(ProxyProtocol, AVersionTheListenerDoesNotAcceptIsRefused) {
  EXPECT_EQ(parse(kV2Tcp4, Accept::v1).error, Error::wrong_version);
  EXPECT_EQ(parse_text("PROXY UNKNOWN\r\n", Accept::v2).error, Error::wrong_version);
  EXPECT_EQ(parse(kV2Tcp4, Accept::v2).status, Status::complete);
  EXPECT_EQ(parse_text("PROXY UNKNOWN\r\n", Accept::v1).status, Status::complete);
}

// Every prefix of a valid header, the empty one included, is incomplete, with a least length
// above its size and never above the header's.
TEST(ProxyProtocol, EveryTruncationOfAValidHeaderIsIncomplete) {
  const Addresses addresses{v4(10, 0, 0, 1, 1234), v4(10, 0, 0, 2, 80)};
  const Addresses six{v6_loopback(1), v6_loopback(2)};
  std::vector<Bytes> headers = {encode(Version::v1, &addresses),    encode(Version::v2, &addresses),
                                encode(Version::v1, &six),          encode(Version::v2, &six),
                                encode(Version::v1, nullptr),       encode_local(Version::v2),
                                bytes("PROXY UNKNOWN whatever\r\n")};
  for (const Bytes& header : headers) {
    for (std::size_t size = 0; size < header.size(); ++size) {
      const Result r = parse({header.data(), size}, Accept::any);
      ASSERT_EQ(r.status, Status::incomplete) << "size " << size << ": " << to_string(r.error);
      EXPECT_GT(r.length, size);
      EXPECT_LE(r.length, header.size()) << "size " << size;
    }
    EXPECT_EQ(parse(header, Accept::any).status, Status::complete);
  }
}

TEST(ProxyProtocol, EncodedHeadersParseBackToTheSameAddresses) {
  const Addresses cases[] = {
      {v4(127, 0, 0, 1, 40000), v4(127, 0, 0, 2, 8080)},
      {v4(0, 0, 0, 0, 0), v4(255, 255, 255, 255, 65535)},
      {v6_loopback(1), v6_loopback(65535)},
  };
  for (const Addresses& a : cases) {
    for (Version version : {Version::v1, Version::v2}) {
      const Bytes header = encode(version, &a);
      const Result r = parse(header, Accept::any);
      ASSERT_EQ(r.status, Status::complete) << to_string(r.error);
      EXPECT_EQ(r.version, version);
      EXPECT_EQ(r.length, header.size());
      EXPECT_TRUE(r.has_addresses);
      EXPECT_EQ(r.addresses, a);
    }
  }
}

TEST(ProxyProtocol, EncoderWritesTheSpecsBytes) {
  const Addresses a{v4(192, 168, 0, 1, 56324), v4(192, 168, 0, 11, 443)};
  const Bytes v1 = encode(Version::v1, &a);
  EXPECT_EQ(std::string(v1.begin(), v1.end()), "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n");
  EXPECT_EQ(encode(Version::v2, &a), kV2Tcp4);
  const Bytes unknown = encode(Version::v1, nullptr);
  EXPECT_EQ(std::string(unknown.begin(), unknown.end()), "PROXY UNKNOWN\r\n");
  EXPECT_EQ(encode(Version::v2, nullptr), v2({0x21, 0x00, 0x00, 0x00}));
  EXPECT_EQ(encode_local(Version::v2), v2({0x20, 0x00, 0x00, 0x00}));
}

TEST(ProxyProtocol, MixedFamiliesAreSentAsIpv6) {
  const Addresses mixed{v4(10, 1, 2, 3, 5), v6_loopback(6)};
  const Bytes v1 = encode(Version::v1, &mixed);
  EXPECT_EQ(std::string(v1.begin(), v1.end()), "PROXY TCP6 ::ffff:10.1.2.3 ::1 5 6\r\n");
  const Result r = parse(encode(Version::v2, &mixed), Accept::v2);
  ASSERT_EQ(r.status, Status::complete);
  EXPECT_TRUE(r.addresses.source.ipv6);
  EXPECT_EQ(r.addresses.source.ip[10], 0xff);
  EXPECT_EQ(r.addresses.source.ip[15], 3);
}

TEST(ProxyProtocol, V2CarriesTheAuthorityTlvAndParsesBack) {
  const Addresses addresses{v4(10, 0, 0, 1, 5000), v4(10, 0, 0, 2, 443)};
  const Bytes header = encode(Version::v2, &addresses, "www.example.com");
  const Bytes plain = encode(Version::v2, &addresses);
  ASSERT_EQ(header.size(), plain.size() + 3 + 15);
  EXPECT_EQ(header[14] << 8 | header[15], static_cast<int>(header.size() - kV2FixedLength));
  EXPECT_EQ(header[plain.size()], kTlvAuthority);
  EXPECT_EQ(std::string(header.end() - 15, header.end()), "www.example.com");
  const Result r = parse(header, Accept::v2);
  ASSERT_EQ(r.status, Result::Status::complete);
  EXPECT_EQ(r.length, header.size());
  EXPECT_EQ(r.addresses, addresses);
  // Version 1 has no TLVs: the authority is left out.
  EXPECT_EQ(encode(Version::v1, &addresses, "www.example.com"), encode(Version::v1, &addresses));
}

}  // namespace
}  // namespace spliceproxy::proxy_protocol
