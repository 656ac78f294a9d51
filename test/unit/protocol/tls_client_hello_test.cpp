// The TLS ClientHello parser (proxy/protocol/tls_client_hello.cpp): real hellos from OpenSSL and
// curl (TLS 1.2 and 1.3, with and without SNI and ALPN), each cut at every offset, fragmented
// into records down to one byte each, followed by other bytes; hellos built here up to the
// size bound and past it; lengths that lie; traffic that is not TLS.
#include "proxy/protocol/tls_client_hello.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test/unit/protocol/tls_hellos.hpp"

namespace spliceproxy::tls {
namespace {

using Bytes = std::vector<std::uint8_t>;
using Status = Result::Status;

template <std::size_t N>
Bytes bytes(const std::uint8_t (&array)[N]) {
  return Bytes(array, array + N);
}

void put16(Bytes& out, std::size_t value) {
  out.push_back(static_cast<std::uint8_t>(value >> 8));
  out.push_back(static_cast<std::uint8_t>(value));
}

void put_extension(Bytes& out, std::uint16_t type, const Bytes& body) {
  put16(out, type);
  put16(out, body.size());
  out.insert(out.end(), body.begin(), body.end());
}

Bytes sni_extension(const std::string& name) {
  Bytes body;
  put16(body, name.size() + 3);
  body.push_back(0);
  put16(body, name.size());
  body.insert(body.end(), name.begin(), name.end());
  return body;
}

Bytes alpn_extension(const std::vector<std::string>& ids) {
  Bytes list;
  for (const auto& id : ids) {
    list.push_back(static_cast<std::uint8_t>(id.size()));
    list.insert(list.end(), id.begin(), id.end());
  }
  Bytes body;
  put16(body, list.size());
  body.insert(body.end(), list.begin(), list.end());
  return body;
}

// A ClientHello handshake message (no record header) with these extensions and `padding`
// bytes of a padding extension (RFC 7685).
Bytes hello_message(const Bytes& extensions, std::size_t padding = 0) {
  Bytes body = {3, 3};
  body.resize(2 + 32);
  body.insert(body.end(), {0, 0, 2, 0x13, 0x01, 1, 0});  // no session id, one suite, null
  Bytes all = extensions;
  if (padding) put_extension(all, 21, Bytes(padding, 0));
  put16(body, all.size());
  body.insert(body.end(), all.begin(), all.end());
  Bytes message = {1, static_cast<std::uint8_t>(body.size() >> 16),
                   static_cast<std::uint8_t>(body.size() >> 8),
                   static_cast<std::uint8_t>(body.size())};
  message.insert(message.end(), body.begin(), body.end());
  return message;
}

// `message` in handshake records of at most `size` payload bytes each.
Bytes in_records(const Bytes& message, std::size_t size) {
  Bytes out;
  for (std::size_t pos = 0; pos < message.size(); pos += size) {
    const std::size_t n = std::min(size, message.size() - pos);
    out.insert(out.end(), {22, 3, 1});
    put16(out, n);
    out.insert(out.end(), message.begin() + pos, message.begin() + pos + n);
  }
  return out;
}

// A real hello's handshake message: its one record without the header.
Bytes message_of(const Bytes& record) {
  return Bytes(record.begin() + 5, record.end());
}

Bytes with_sni(const std::string& name) {
  Bytes extensions;
  put_extension(extensions, 0, sni_extension(name));
  return in_records(hello_message(extensions), 16384);
}

TEST(TlsClientHello, RealHellosGiveTheirServerNameAndAlpn) {
  struct Case {
    Bytes hello;
    std::string sni;
    std::vector<std::string> alpn;
  };
  const Case cases[] = {{bytes(test::kOpenSslTls13), "api.example.com", {"h2", "http/1.1"}},
                        {bytes(test::kOpenSslTls12), "db.example.com", {}},
                        {bytes(test::kOpenSslNoSni), "", {}},
                        {bytes(test::kCurlTls13), "www.example.com", {"h2", "http/1.1"}},
                        {bytes(test::kCurlTls12), "shop.example.org", {"h2", "http/1.1"}}};
  for (const Case& c : cases) {
    const Result r = parse(c.hello);
    ASSERT_EQ(r.status, Status::complete) << c.sni;
    EXPECT_EQ(r.length, c.hello.size());
    EXPECT_EQ(r.has_server_name, !c.sni.empty());
    EXPECT_EQ(r.server_name.view(), c.sni);
    ASSERT_EQ(r.alpn_count, c.alpn.size());
    for (std::size_t i = 0; i < c.alpn.size(); ++i)
      EXPECT_EQ(r.alpn[i].view(), c.alpn[i]);
  }
}

TEST(TlsClientHello, EveryPrefixOfARealHelloNeedsMore) {
  for (const Bytes& hello : {bytes(test::kOpenSslTls13), bytes(test::kCurlTls12)}) {
    for (std::size_t size = 0; size < hello.size(); ++size) {
      const Result r = parse(std::span(hello).first(size));
      ASSERT_EQ(r.status, Status::need_more) << size;
      EXPECT_GT(r.length, size);
      EXPECT_LE(r.length, hello.size());
    }
  }
}

TEST(TlsClientHello, HelloInRecordsOfAnySizeParsesTheSame) {
  const Bytes message = message_of(bytes(test::kCurlTls13));
  for (std::size_t size : {1u, 2u, 3u, 4u, 5u, 7u, 100u, 511u}) {
    const Bytes records = in_records(message, size);
    const Result r = parse(records);
    ASSERT_EQ(r.status, Status::complete) << size;
    EXPECT_EQ(r.length, records.size());
    EXPECT_EQ(r.server_name.view(), "www.example.com");
    EXPECT_EQ(r.alpn_count, 2u);
    // Cut anywhere, it still needs more.
    for (std::size_t cut = 0; cut < records.size(); cut += 13)
      ASSERT_EQ(parse(std::span(records).first(cut)).status, Status::need_more) << cut;
  }
}

TEST(TlsClientHello, BytesAfterTheHelloAreNotPartOfIt) {
  Bytes data = bytes(test::kOpenSslTls13);
  const std::size_t hello = data.size();
  data.insert(data.end(), {23, 3, 3, 0, 2, 'h', 'i'});  // early data, say
  const Result r = parse(data);
  ASSERT_EQ(r.status, Status::complete);
  EXPECT_EQ(r.length, hello);
}

TEST(TlsClientHello, LargestHelloOverSeveralRecordsParses) {
  Bytes extensions;
  put_extension(extensions, 0, sni_extension("big.example.com"));
  const Bytes base = hello_message(extensions, 1);
  const Bytes message = hello_message(extensions, 1 + kMaxHelloLength - base.size());
  ASSERT_EQ(message.size(), kMaxHelloLength);
  const Result r = parse(in_records(message, 16384));
  ASSERT_EQ(r.status, Status::complete);
  EXPECT_EQ(r.server_name.view(), "big.example.com");
  const Bytes over = hello_message(extensions, 2 + kMaxHelloLength - base.size());
  EXPECT_EQ(parse(in_records(over, 16384)).error, Error::too_long);
  // Fragmented too finely, the records' headers pass the wire bound.
  EXPECT_EQ(parse(in_records(message, 10)).error, Error::too_long);
}

TEST(TlsClientHello, ServerNameIsLowerCased) {
  const Result r = parse(with_sni("WWW.Example.COM"));
  ASSERT_EQ(r.status, Status::complete);
  EXPECT_EQ(r.server_name.view(), "www.example.com");
}

TEST(TlsClientHello, NotTlsIsDecidedFromTheFirstBytes) {
  const Bytes http = {'G', 'E', 'T', ' ', '/'};
  EXPECT_EQ(parse(http).status, Status::not_tls);
  EXPECT_EQ(parse(std::span(http).first(1)).status, Status::not_tls);
  EXPECT_EQ(parse(Bytes{22, 1}).status, Status::not_tls);
  EXPECT_EQ(parse(Bytes{0x80, 0x2e, 0x01, 0x03, 0x01}).status, Status::not_tls);  // SSL 2 hello
  const Result empty = parse(Bytes{});
  EXPECT_EQ(empty.status, Status::need_more);
  EXPECT_EQ(empty.length, 1u);
  EXPECT_EQ(parse(Bytes{22}).length, 2u);
  EXPECT_EQ(parse(Bytes{22, 3}).length, 5u);
}

TEST(TlsClientHello, LyingRecordsAreMalformed) {
  EXPECT_EQ(parse(Bytes{22, 3, 1, 0, 0}).error, Error::bad_record);     // empty record
  EXPECT_EQ(parse(Bytes{22, 3, 1, 0x40, 1}).error, Error::bad_record);  // 16385 bytes
  EXPECT_EQ(parse(Bytes{22, 3, 1, 0, 4, 2, 0, 0, 0}).error, Error::not_client_hello);
  EXPECT_EQ(parse(Bytes{22, 3, 1, 0, 4, 1, 1, 0, 0}).error, Error::too_long);  // 64 KiB hello
  // The hello goes on past its record, but an application data record follows.
  Bytes split = in_records(message_of(bytes(test::kOpenSslTls12)), 100);
  split[105] = 23;
  EXPECT_EQ(parse(split).error, Error::bad_record);
}

// Replaces the byte at `offset` of the hello's message and parses it again as one record.
Result with_byte(Bytes message, std::size_t offset, std::uint8_t value) {
  message[offset] = value;
  return parse(in_records(message, 16384));
}

TEST(TlsClientHello, LyingLengthsInsideTheHelloAreMalformed) {
  const Bytes message = message_of(with_sni("a.example.com"));
  // Offsets in the message: 4 version, 6 random, 38 session id length, 39 suites length, 43
  // compression methods length, 45 extensions length, 47 SNI type, 49 its length, 51 name list
  // length, 53 name type, 54 name length, 56 name.
  EXPECT_EQ(with_byte(message, 38, 33).error, Error::bad_length);       // session id > 32
  EXPECT_EQ(with_byte(message, 40, 3).error, Error::bad_length);        // odd suites length
  EXPECT_EQ(with_byte(message, 43, 0).error, Error::bad_length);        // no compression method
  EXPECT_EQ(with_byte(message, 45, 0xff).error, Error::bad_length);     // extensions overrun
  EXPECT_EQ(with_byte(message, 49, 0xff).error, Error::bad_length);     // SNI extension overruns
  EXPECT_EQ(with_byte(message, 51, 0xff).error, Error::bad_extension);  // name list overruns
  EXPECT_EQ(with_byte(message, 54, 0xff).error, Error::bad_extension);  // name overruns
  EXPECT_EQ(with_byte(message, 56, '/').error, Error::bad_server_name);
}

TEST(TlsClientHello, RepeatedOrEmptyExtensionsAreMalformed) {
  Bytes twice;
  put_extension(twice, 0, sni_extension("a.example.com"));
  put_extension(twice, 0, sni_extension("b.example.com"));
  EXPECT_EQ(parse(in_records(hello_message(twice), 16384)).error, Error::bad_extension);
  Bytes empty_alpn;
  put_extension(empty_alpn, 16, alpn_extension({"h2", ""}));
  EXPECT_EQ(parse(in_records(hello_message(empty_alpn), 16384)).error, Error::bad_extension);
  Bytes empty_name;
  put_extension(empty_name, 0, sni_extension(""));
  EXPECT_EQ(parse(in_records(hello_message(empty_name), 16384)).error, Error::bad_server_name);
}

TEST(TlsClientHello, MoreAlpnIdsThanKeptAreCutNotRefused) {
  Bytes extensions;
  std::vector<std::string> ids;
  for (char i = 'a'; i < 'a' + 12; ++i)
    ids.push_back(std::string("p") + i);
  put_extension(extensions, 16, alpn_extension(ids));
  const Result r = parse(in_records(hello_message(extensions), 16384));
  ASSERT_EQ(r.status, Status::complete);
  EXPECT_EQ(r.alpn_count, kMaxAlpn);
  EXPECT_EQ(r.alpn[7].view(), "ph");
}

// Every byte of a real hello set to 0x00 and 0xff in turn: never a crash (the ASan build
// checks reads), and a complete answer never reaches past the input.
TEST(TlsClientHello, EverySingleByteCorruptionIsHandled) {
  const Bytes hello = bytes(test::kCurlTls13);
  for (std::size_t i = 0; i < hello.size(); ++i) {
    for (std::uint8_t value : {std::uint8_t{0}, std::uint8_t{0xff}}) {
      Bytes corrupt = hello;
      corrupt[i] = value;
      const Result r = parse(corrupt);
      if (r.status == Status::complete) {
        EXPECT_LE(r.length, corrupt.size());
      } else if (r.status == Status::need_more) {
        EXPECT_GT(r.length, corrupt.size());
      }
    }
  }
}

}  // namespace
}  // namespace spliceproxy::tls
