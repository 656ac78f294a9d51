// libFuzzer target of the PROXY protocol parser (proxy/protocol/proxy_protocol.cpp), built and run
// by tools/fuzz.sh with clang (-fsanitize=fuzzer,address,undefined); not part of the CMake build.
// Besides memory errors it checks the parser's contract on every input:
// - a complete header is no longer than the input and parses the same when cut to its length;
// - every shorter prefix of a complete header is incomplete;
// - incomplete asks for more than it was given, and no more than a header can be;
// - a header with addresses, encoded again, parses back to the same addresses;
// - each version accepted alone gives the same answer as `any`, or wrong_version.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "proxy/protocol/proxy_protocol.hpp"

namespace pp = spliceproxy::proxy_protocol;

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

void check_complete(std::span<const std::uint8_t> data, const pp::Result& r) {
  check(r.length <= data.size() && r.length > 0);
  const pp::Result again = pp::parse(data.first(r.length), pp::Accept::any);
  check(again.status == pp::Result::Status::complete && again.length == r.length);
  for (std::size_t size = 0; size < r.length; ++size)
    check(pp::parse(data.first(size), pp::Accept::any).status == pp::Result::Status::incomplete);
  if (!r.has_addresses) return;
  for (pp::Version version : {pp::Version::v1, pp::Version::v2}) {
    const auto header = pp::encode(version, &r.addresses);
    const pp::Result round = pp::parse(header, pp::Accept::any);
    check(round.status == pp::Result::Status::complete && round.length == header.size());
    check(round.has_addresses && round.addresses == r.addresses);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const std::span<const std::uint8_t> data(bytes, size);
  const pp::Result r = pp::parse(data, pp::Accept::any);
  if (r.status == pp::Result::Status::incomplete) {
    check(r.length > size && r.length <= pp::kMaxV2Length);
    if (size > 0 && bytes[0] == 'P') check(r.length <= pp::kMaxV1Length);
  }
  if (r.status == pp::Result::Status::complete) check_complete(data, r);
  for (pp::Accept only : {pp::Accept::v1, pp::Accept::v2}) {
    const pp::Result one = pp::parse(data, only);
    check(one.status == r.status || one.error == pp::Error::wrong_version);
  }
  return 0;
}
