// Parsing, printing and matching of Cidr (address blocks of allow/deny lists); see address.hpp.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <string>

#include <fmt/format.h>

#include "config/address.hpp"

namespace spliceproxy::config {
namespace {

constexpr std::string_view kCidr = "an address block like 10.0.0.0/8, 127.0.0.1 or ::1/128";
constexpr std::string_view kHostBits = "an address block with zero host bits, like 10.0.0.0/8";

// Whether every bit of `address` past the first `prefix` bits is zero.
bool host_bits_zero(const std::vector<std::uint8_t>& address, unsigned prefix) {
  for (std::size_t bit = prefix; bit < address.size() * 8; ++bit) {
    if ((address[bit / 8] >> (7 - bit % 8)) & 1) return false;
  }
  return true;
}

}  // namespace

Parsed<Cidr> parse_cidr(std::string_view text) {
  using Result = Parsed<Cidr>;
  const auto slash = text.find('/');
  const std::string host(text.substr(0, slash));
  Cidr cidr;
  in6_addr v6{};
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(&v4);
    cidr.address.assign(bytes, bytes + 4);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    cidr.address.assign(v6.s6_addr, v6.s6_addr + 16);
  } else {
    return Result::error(kCidr);
  }
  const unsigned bits = static_cast<unsigned>(cidr.address.size() * 8);
  cidr.prefix = bits;
  if (slash != std::string_view::npos) {
    const auto prefix = parse_unsigned(text.substr(slash + 1));
    if (!prefix || *prefix > bits) return Result::error(kCidr);
    cidr.prefix = static_cast<unsigned>(*prefix);
  }
  if (!host_bits_zero(cidr.address, cidr.prefix)) return Result::error(kHostBits);
  return Result::ok(std::move(cidr));
}

std::string Cidr::to_string() const {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(address.size() == 4 ? AF_INET : AF_INET6, address.data(), text, sizeof text);
  return fmt::format("{}/{}", text, prefix);
}

bool Cidr::contains(const std::uint8_t* ip, std::size_t size) const {
  if (size != address.size()) return false;
  const unsigned whole = prefix / 8;
  for (unsigned i = 0; i < whole; ++i) {
    if (ip[i] != address[i]) return false;
  }
  const unsigned rest = prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (ip[whole] & mask) == address[whole];
}

}  // namespace spliceproxy::config
