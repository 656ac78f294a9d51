// net: conversions between config addresses, Asio endpoints and text.
#pragma once

#include <boost/asio/generic/stream_protocol.hpp>
#include <string>

#include "config/config.hpp"

namespace spliceproxy::net {

using Endpoint = boost::asio::generic::stream_protocol::endpoint;

// The endpoint of an IP literal address. Throws std::runtime_error for a host that is not one.
Endpoint to_endpoint(const config::Address& address);

// "127.0.0.1:8080", "[::1]:8080"; "?" for an address family it does not know.
std::string to_string(const Endpoint& endpoint);

}  // namespace spliceproxy::net
