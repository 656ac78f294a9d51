// Parsing and printing of Address; see address.hpp.
#include "config/address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string>

#include <fmt/format.h>

namespace spliceproxy::config {
namespace {

constexpr std::string_view kHostPort = "host:port";
constexpr std::string_view kBracketV6 =
    "host:port with IPv6 addresses in brackets, like [::1]:8080";
constexpr std::string_view kBadIpv4 = "host:port with an IPv4 address like 127.0.0.1";
constexpr std::string_view kIpLiteral = "an IP address literal (hostnames are not supported yet)";
constexpr std::string_view kNoUnix = "host:port (Unix sockets are not supported yet)";
constexpr std::string_view kPortAny = "a port from 0 to 65535";
constexpr std::string_view kPortAnyNonZero = "a port from 1 to 65535";

bool is_ipv4(const std::string& host) {
  in_addr out{};
  return inet_pton(AF_INET, host.c_str(), &out) == 1;
}

bool is_ipv6(const std::string& host) {
  in6_addr out{};
  return inet_pton(AF_INET6, host.c_str(), &out) == 1;
}

// What to say about a host part that is not an IPv4 literal: digits and dots are
// a mistyped IPv4 address; letters, digits, dots and dashes are a hostname.
std::string_view diagnose_host(std::string_view host) {
  bool letter = false;
  bool digit = false;
  for (char c : host) {
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool numeric = c >= '0' && c <= '9';
    if (!alpha && !numeric && c != '.' && c != '-') return kHostPort;
    letter = letter || alpha;
    digit = digit || numeric;
  }
  if (letter) return kIpLiteral;
  return digit ? kBadIpv4 : kHostPort;
}

// Splits "host:port" / "[v6]:port" into host (brackets removed) and port text.
// Returns the phrase to report when the shape is wrong, empty on success.
std::string_view split_host_port(std::string_view text, std::string& host, std::string_view& port) {
  if (text.starts_with("unix:")) return kNoUnix;
  if (text.starts_with("[")) {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return kHostPort;
    }
    host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
    return is_ipv6(host) ? std::string_view{} : kIpLiteral;
  }
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return kHostPort;
  if (text.find(':') != colon) return kBracketV6;  // more than one ':'
  host = std::string(text.substr(0, colon));
  port = text.substr(colon + 1);
  return is_ipv4(host) ? std::string_view{} : diagnose_host(host);
}

}  // namespace

Parsed<Address> parse_address(std::string_view text, PortZero port_zero) {
  using Result = Parsed<Address>;
  std::string host;
  std::string_view port_text;
  if (const auto problem = split_host_port(text, host, port_text); !problem.empty()) {
    return Result::error(problem);
  }
  const bool zero_ok = port_zero == PortZero::allowed;
  const auto port_range = zero_ok ? kPortAny : kPortAnyNonZero;
  const auto port = parse_unsigned(port_text);
  if (!port || *port > 65535 || (*port == 0 && !zero_ok)) return Result::error(port_range);
  return Result::ok(Address{std::move(host), static_cast<std::uint16_t>(*port)});
}

std::string Address::to_string() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

}  // namespace spliceproxy::config
