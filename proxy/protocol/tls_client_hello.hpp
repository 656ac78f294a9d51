// tls_client_hello: the first message of a TLS client (RFC 8446 §4.1.2, RFC 5246 §7.4.1.2),
// read without terminating TLS, to route by its server name (SNI, RFC 6066 §3) and the
// application protocols it offers (ALPN, RFC 7301). A pure parser: bytes in, values out, no
// I/O, no heap allocation (the hello is reassembled from its records in a bounded buffer on
// the stack), every length checked against what holds it.
//
//   parse(bytes so far) ──▶ need_more (at least `length` bytes in all)
//                      ├──▶ not_tls (the first bytes are no TLS handshake record)
//                      ├──▶ malformed (reason; close the client)
//                      └──▶ complete (the records holding the hello end at `length`;
//                                     server name and ALPN list, if offered)
//
// Depends on the C++ standard library only, so the fuzz target
// (test/fuzz/tls_client_hello_fuzzer.cpp) compiles it on its own.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace spliceproxy::tls {

// Longest ClientHello accepted, its 4-byte handshake header included: post-quantum key shares
// make 1.5-2 KiB common; 16 KiB leaves room for the largest seen in the wild.
inline constexpr std::size_t kMaxHelloLength = 16 * 1024 + 4;
// Most bytes the records holding a hello may take on the wire (their 5-byte headers
// included), however the client fragments it.
inline constexpr std::size_t kMaxRecordBytes = 24 * 1024;
// ALPN protocols kept from a hello; a client offering more has the first ones kept.
inline constexpr std::size_t kMaxAlpn = 8;

// Why a hello was refused. X(name, text)
#define SPLICEPROXY_TLS_HELLO_ERRORS(X)                                             \
  X(none, "no error")                                                               \
  X(bad_record, "record of another type, a bad version or length inside the hello") \
  X(not_client_hello, "the first handshake message is not a ClientHello")           \
  X(too_long, "ClientHello longer than 16 KiB, or spread over more than 24 KiB")    \
  X(bad_length, "a length overruns what holds it")                                  \
  X(bad_extension, "an extension malformed or repeated")                            \
  X(bad_server_name, "server name empty, too long or not a host name")

enum class Error {
#define SPLICEPROXY_ENUM(name, text) name,
  SPLICEPROXY_TLS_HELLO_ERRORS(SPLICEPROXY_ENUM)
#undef SPLICEPROXY_ENUM
};

std::string_view to_string(Error error);

// A name of at most 255 bytes held by value (a host name or an ALPN protocol id).
struct Name {
  std::array<char, 255> bytes{};
  std::uint8_t size = 0;

  std::string_view view() const { return {bytes.data(), size}; }
};

struct Result {
  enum class Status { need_more, not_tls, malformed, complete };
  Status status = Status::need_more;
  Error error = Error::none;  // malformed: why
  // need_more: the least total length the input must reach before the answer can change (more
  // than given); complete: the end of the last record holding the hello (bytes after it, such
  // as early data, are the client's next records).
  std::size_t length = 0;
  bool has_server_name = false;  // complete: an SNI extension with a host_name
  Name server_name = {};         // lower-cased, as DNS compares
  std::size_t alpn_count = 0;    // complete: ALPN protocols kept (at most kMaxAlpn)
  std::array<Name, kMaxAlpn> alpn = {};
};

// Parses the start of a client's byte stream. Contract: `not_tls` only when the first record
// header cannot be TLS (content type not handshake, or major version not 3), decided from the
// first bytes that show it; `need_more` only when every byte given may still be part of a
// valid hello; `malformed` as soon as they cannot. Records: handshake type (22), version 3.x,
// length 1..16384; the hello may be split over any number of them. Extensions: each length
// within the extensions block, none twice; SNI: the first host_name entry (letters, digits,
// '-', '.', '_', 1..255 bytes); ALPN: each id 1..255 bytes.
Result parse(std::span<const std::uint8_t> data);

}  // namespace spliceproxy::tls
