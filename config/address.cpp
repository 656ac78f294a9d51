// Parsing and printing of Address; see address.hpp.
#include "config/address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <sys/un.h>

#include <string>

#include <fmt/format.h>

namespace spliceproxy::config {
namespace {

constexpr std::string_view kHostPort = "host:port";
constexpr std::string_view kBracketV6 =
    "host:port with IPv6 addresses in brackets, like [::1]:8080";
constexpr std::string_view kBadIpv4 = "host:port with an IPv4 address like 127.0.0.1";
constexpr std::string_view kIpLiteral = "an IPv6 address literal in brackets, like [::1]:8080";
constexpr std::string_view kHostname =
    "host:port with a hostname made of letters, digits, '-' and '.'";
constexpr std::string_view kUnixPath = "unix:/absolute/path of at most 107 bytes";
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

// A DNS name: dot-separated labels of 1-63 letters, digits and '-', not starting or ending
// with '-', at most 253 bytes in all.
bool is_hostname(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  std::size_t label = 0;
  char previous = '.';
  for (char c : host) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (c == '.') {
      if (label == 0 || previous == '-') return false;
      label = 0;
    } else if (alnum || (c == '-' && label != 0)) {
      if (++label > 63) return false;
    } else {
      return false;
    }
    previous = c;
  }
  return label != 0 && previous != '-';
}

// What a host part that is not an IPv4 literal is: "" for a hostname (accepted); digits
// and dots only are a mistyped IPv4 address; anything else is not a host at all.
std::string_view diagnose_host(std::string_view host) {
  const bool numeric =
      !host.empty() && host.find_first_not_of("0123456789.") == std::string_view::npos;
  if (numeric) return kBadIpv4;
  return is_hostname(host) ? std::string_view{} : kHostname;
}

// Splits "host:port" / "[v6]:port" into host (brackets removed) and port text.
// Returns the phrase to report when the shape is wrong, empty on success.
std::string_view split_host_port(std::string_view text, std::string& host, std::string_view& port) {
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
  if (text.starts_with("unix:")) {
    const std::string_view path = text.substr(5);
    if (!path.starts_with('/') || path.size() >= sizeof(sockaddr_un{}.sun_path) ||
        path.find('\0') != std::string_view::npos) {
      return Result::error(kUnixPath);
    }
    return Result::ok(Address{{}, 0, std::string(path)});
  }
  std::string host;
  std::string_view port_text;
  if (const auto problem = split_host_port(text, host, port_text); !problem.empty()) {
    return Result::error(problem);
  }
  const bool zero_ok = port_zero == PortZero::allowed;
  const auto port_range = zero_ok ? kPortAny : kPortAnyNonZero;
  const auto port = parse_unsigned(port_text);
  if (!port || *port > 65535 || (*port == 0 && !zero_ok)) return Result::error(port_range);
  return Result::ok(Address{std::move(host), static_cast<std::uint16_t>(*port), {}});
}

std::string Address::to_string() const {
  if (is_unix()) return "unix:" + path;
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

}  // namespace spliceproxy::config
