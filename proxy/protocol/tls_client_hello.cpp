// tls_client_hello: record reassembly, then the ClientHello body; see the header for the
// contract. Every read goes through Reader, which checks the length before it moves.
#include "proxy/protocol/tls_client_hello.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

namespace spliceproxy::tls {
namespace {

constexpr std::uint8_t kHandshakeRecord = 22;
constexpr std::uint8_t kClientHello = 1;
constexpr std::size_t kRecordHeader = 5;
constexpr std::size_t kMaxRecordPayload = 16384;  // TLSPlaintext.length, RFC 8446 §5.1
constexpr std::uint16_t kServerNameExtension = 0;
constexpr std::uint16_t kAlpnExtension = 16;

// Reads big-endian fields off a span; each call checks the bytes are there before it moves.
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> data) : data_(data) {}

  std::size_t left() const { return data_.size(); }
  bool number(std::size_t width, std::size_t& value) {
    if (data_.size() < width) return false;
    value = 0;
    for (std::size_t i = 0; i < width; ++i)
      value = value << 8 | data_[i];
    data_ = data_.subspan(width);
    return true;
  }
  bool bytes(std::size_t count, std::span<const std::uint8_t>& out) {
    if (data_.size() < count) return false;
    out = data_.first(count);
    data_ = data_.subspan(count);
    return true;
  }
  // A block of `width`-byte length followed by that many bytes.
  bool block(std::size_t width, std::span<const std::uint8_t>& out) {
    std::size_t size = 0;
    return number(width, size) && bytes(size, out);
  }

 private:
  std::span<const std::uint8_t> data_;
};

Result need(std::size_t length) {
  Result r;
  r.length = length;
  return r;
}

Result malformed(Error error) {
  Result r;
  r.status = Result::Status::malformed;
  r.error = error;
  return r;
}

Result not_tls() {
  Result r;
  r.status = Result::Status::not_tls;
  return r;
}

// The handshake bytes the records hold, copied into `message`; `status` need_more/not_tls/
// malformed when they do not yet (or never will) make a whole ClientHello.
struct Assembly {
  Result early;
  bool done = false;
  std::size_t size = 0;  // bytes of `message` used: the whole hello once done
  std::size_t end = 0;   // end of the last record read
};

// Checks the record header at `pos` (all 5 bytes present); sets `length` to its payload's.
bool record_header(std::span<const std::uint8_t> data, std::size_t pos, std::size_t& length,
                   Result& failed) {
  if (data[pos] != kHandshakeRecord || data[pos + 1] != 3) {
    failed = pos == 0 ? not_tls() : malformed(Error::bad_record);
    return false;
  }
  length = std::size_t{data[pos + 3]} << 8 | data[pos + 4];
  if (length == 0 || length > kMaxRecordPayload) {
    failed = malformed(Error::bad_record);
    return false;
  }
  return true;
}

Assembly assemble(std::span<const std::uint8_t> data, std::span<std::uint8_t> message) {
  Assembly a;
  std::size_t want = 0;  // the hello's whole length, once its handshake header is in
  for (std::size_t pos = 0;;) {
    // Not TLS shows in the first two bytes: decide as soon as they are there.
    if (pos == 0 && !data.empty() && data[0] != kHandshakeRecord) return {not_tls()};
    if (pos == 0 && data.size() >= 2 && data[1] != 3) return {not_tls()};
    if (pos + kRecordHeader > kMaxRecordBytes) return {malformed(Error::too_long)};
    if (data.size() < pos + kRecordHeader) {
      return {need(pos == 0 && data.size() < 2 ? data.size() + 1 : pos + kRecordHeader)};
    }
    std::size_t length = 0;
    Result failed;
    if (!record_header(data, pos, length, failed)) return {failed};
    const std::size_t record_end = pos + kRecordHeader + length;
    if (record_end > kMaxRecordBytes) return {malformed(Error::too_long)};
    const std::size_t available = std::min(record_end, data.size());
    // Copy no more than the hello needs (or, before its length is known, its header).
    const std::size_t room = (want ? want : 4) - a.size;
    const std::size_t take = std::min(available - (pos + kRecordHeader), room);
    std::memcpy(message.data() + a.size, data.data() + pos + kRecordHeader, take);
    a.size += take;
    if (want == 0 && a.size == 4) {
      if (message[0] != kClientHello) return {malformed(Error::not_client_hello)};
      want = 4 + (std::size_t{message[1]} << 16 | std::size_t{message[2]} << 8 | message[3]);
      if (want > message.size()) return {malformed(Error::too_long)};
      // The rest of this record may hold more of the hello.
      const std::size_t more = std::min(available - (pos + kRecordHeader) - take, want - 4);
      std::memcpy(message.data() + 4, data.data() + pos + kRecordHeader + take, more);
      a.size += more;
    }
    if (available < record_end) return {need(record_end)};
    pos = record_end;
    if (want != 0 && a.size == want) {
      a.done = true;
      a.end = pos;
      return a;
    }
  }
}

bool host_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

// server_name extension: a list of (type, name); the first host_name (type 0) is taken.
Error read_server_name(std::span<const std::uint8_t> body, Result& r) {
  Reader in(body);
  std::span<const std::uint8_t> list;
  if (!in.block(2, list) || in.left() != 0 || list.empty()) return Error::bad_extension;
  Reader names(list);
  while (names.left() > 0) {
    std::size_t type = 0;
    std::span<const std::uint8_t> name;
    if (!names.number(1, type) || !names.block(2, name)) return Error::bad_extension;
    if (type != 0 || r.has_server_name) continue;
    if (name.empty() || name.size() > r.server_name.bytes.size()) return Error::bad_server_name;
    for (std::size_t i = 0; i < name.size(); ++i) {
      char c = static_cast<char>(name[i]);
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (!host_name_char(c)) return Error::bad_server_name;
      r.server_name.bytes[i] = c;
    }
    r.server_name.size = static_cast<std::uint8_t>(name.size());
    r.has_server_name = true;
  }
  return Error::none;
}

// ALPN extension: a non-empty list of non-empty protocol ids; the first kMaxAlpn are kept.
Error read_alpn(std::span<const std::uint8_t> body, Result& r) {
  Reader in(body);
  std::span<const std::uint8_t> list;
  if (!in.block(2, list) || in.left() != 0 || list.empty()) return Error::bad_extension;
  Reader ids(list);
  while (ids.left() > 0) {
    std::span<const std::uint8_t> id;
    if (!ids.block(1, id) || id.empty()) return Error::bad_extension;
    if (r.alpn_count == kMaxAlpn) continue;
    Name& name = r.alpn[r.alpn_count++];
    std::memcpy(name.bytes.data(), id.data(), id.size());
    name.size = static_cast<std::uint8_t>(id.size());
  }
  return Error::none;
}

Error read_extensions(Reader& in, Result& r) {
  std::span<const std::uint8_t> block;
  if (!in.block(2, block) || in.left() != 0) return Error::bad_length;
  Reader extensions(block);
  bool seen_sni = false, seen_alpn = false;
  while (extensions.left() > 0) {
    std::size_t type = 0;
    std::span<const std::uint8_t> body;
    if (!extensions.number(2, type) || !extensions.block(2, body)) return Error::bad_length;
    Error error = Error::none;
    if (type == kServerNameExtension) {
      if (std::exchange(seen_sni, true)) return Error::bad_extension;
      error = read_server_name(body, r);
    } else if (type == kAlpnExtension) {
      if (std::exchange(seen_alpn, true)) return Error::bad_extension;
      error = read_alpn(body, r);
    }
    if (error != Error::none) return error;
  }
  return Error::none;
}

// The ClientHello body after its 4-byte header: version, random, session id, cipher suites,
// compression methods, then extensions (absent in a bare TLS 1.0-1.2 hello).
Error read_hello(std::span<const std::uint8_t> body, Result& r) {
  Reader in(body);
  std::span<const std::uint8_t> skipped;
  if (!in.bytes(2 + 32, skipped)) return Error::bad_length;
  if (!in.block(1, skipped) || skipped.size() > 32) return Error::bad_length;
  if (!in.block(2, skipped) || skipped.empty() || skipped.size() % 2 != 0) return Error::bad_length;
  if (!in.block(1, skipped) || skipped.empty()) return Error::bad_length;
  if (in.left() == 0) return Error::none;
  return read_extensions(in, r);
}

}  // namespace

std::string_view to_string(Error error) {
  switch (error) {
#define SPLICEPROXY_CASE(name, text) \
  case Error::name:                  \
    return text;
    SPLICEPROXY_TLS_HELLO_ERRORS(SPLICEPROXY_CASE)
#undef SPLICEPROXY_CASE
  }
  return "unknown";
}

Result parse(std::span<const std::uint8_t> data) {
  std::array<std::uint8_t, kMaxHelloLength> message;  // on the stack: no heap while parsing
  const Assembly a = assemble(data, message);
  if (!a.done) return a.early;
  Result r;
  const Error error = read_hello(std::span(message).subspan(4, a.size - 4), r);
  if (error != Error::none) return malformed(error);
  r.status = Result::Status::complete;
  r.length = a.end;
  return r;
}

}  // namespace spliceproxy::tls
