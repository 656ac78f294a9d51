// Text form of an Address: "127.0.0.1:8080" or "[::1]:8080".
//
// Only IP literals are accepted for now; a hostname, a Unix socket path or an
// unbracketed IPv6 address gets its own "expected ..." phrase so the user knows
// what to write instead.
#pragma once

#include <string_view>

#include "config/config.hpp"
#include "config/units.hpp"

namespace spliceproxy::config {

// Whether port 0 ("any port", useful for listeners in tests) is accepted.
enum class PortZero { allowed, refused };

// Parses "IPv4:port" or "[IPv6]:port". On success `host` has no brackets.
Parsed<Address> parse_address(std::string_view text, PortZero port_zero);

}  // namespace spliceproxy::config
