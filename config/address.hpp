// Text forms of an Address ("127.0.0.1:8080", "[::1]:8080", "app.internal:80",
// "unix:/run/app.sock") and of a Cidr ("10.0.0.0/8", "::1/128").
//
// A mistyped IPv4 address, an unbracketed IPv6 address or a relative socket path each get
// their own "expected ..." phrase so the user knows what to write instead.
#pragma once

#include <string_view>

#include "config/config.hpp"
#include "config/units.hpp"

namespace spliceproxy::config {

// Whether port 0 ("any port", useful for listeners in tests) is accepted.
enum class PortZero { allowed, refused };

// Parses "IPv4:port", "[IPv6]:port", "hostname:port" or "unix:/path". On success `host` has
// no brackets; a Unix address has only `path` set.
Parsed<Address> parse_address(std::string_view text, PortZero port_zero);

// Parses "IPv4/prefix", "IPv6/prefix" or a bare address (a /32 or /128 block). Host bits
// below the prefix must be zero ("10.0.0.1/8" is refused as probably a typo).
Parsed<Cidr> parse_cidr(std::string_view text);

}  // namespace spliceproxy::config
