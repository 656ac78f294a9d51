// libFuzzer target of the TLS ClientHello parser (proxy/protocol/tls_client_hello.cpp), built and
// run by tools/fuzz.sh with clang (-fsanitize=fuzzer,address,undefined); not part of the CMake
// build. Besides memory errors it checks the parser's contract on every input:
// - need_more asks for more than it was given, and never past kMaxRecordBytes;
// - a complete hello is no longer than the input and parses the same when cut to its length;
// - shorter prefixes of a complete hello need more;
// - not_tls is decided by the first two bytes only.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "proxy/protocol/tls_client_hello.hpp"

namespace tls = spliceproxy::tls;

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

void check_complete(std::span<const std::uint8_t> data, const tls::Result& r) {
  check(r.length <= data.size() && r.length > 0);
  const tls::Result again = tls::parse(data.first(r.length));
  check(again.status == tls::Result::Status::complete && again.length == r.length);
  check(again.has_server_name == r.has_server_name);
  check(again.server_name.view() == r.server_name.view() && again.alpn_count == r.alpn_count);
  // Every prefix for small hellos, a few for large ones (keeps the rate up).
  const std::size_t stride = r.length <= 512 ? 1 : r.length / 64;
  for (std::size_t size = 0; size < r.length; size += stride) {
    const tls::Result part = tls::parse(data.first(size));
    check(part.status == tls::Result::Status::need_more && part.length > size);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const std::span<const std::uint8_t> data(bytes, size);
  const tls::Result r = tls::parse(data);
  switch (r.status) {
    case tls::Result::Status::need_more:
      check(r.length > size && r.length <= tls::kMaxRecordBytes);
      break;
    case tls::Result::Status::not_tls:
      check(size >= 1 && (bytes[0] != 22 || (size >= 2 && bytes[1] != 3)));
      check(tls::parse(data.first(size >= 2 && bytes[0] == 22 ? 2 : 1)).status == r.status);
      break;
    case tls::Result::Status::malformed:
      check(r.error != tls::Error::none);
      break;
    case tls::Result::Status::complete:
      check_complete(data, r);
      break;
  }
  return 0;
}
