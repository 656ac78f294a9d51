// net: conversions between config addresses, Asio endpoints and text.
#pragma once

#include <boost/asio/generic/stream_protocol.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "config/config.hpp"

namespace spliceproxy::net {

using Endpoint = boost::asio::generic::stream_protocol::endpoint;

// The endpoint of an address: an IP literal, a Unix socket path, or a hostname, which is
// resolved here (blocking; called once at start, before serving) to its first address, and
// the resolution logged. Throws std::runtime_error when a name does not resolve.
Endpoint to_endpoint(const config::Address& address);

// The address a socket is bound to (getsockname); an empty endpoint when that fails.
Endpoint local_endpoint(int fd);

// "127.0.0.1:8080", "[::1]:8080", "unix:/path"; "?" for an address family it does not know.
std::string to_string(const Endpoint& endpoint);

// A hash of the endpoint's IP address (not the port): the key of source_hash balancing and
// per-source limits. 0 for a Unix socket peer, which has no address.
std::uint64_t source_key(const Endpoint& endpoint);

// The endpoint's IP address as 4 or 16 bytes in network order, in `out`; returns the size
// (0 for a non-IP endpoint). An IPv4-mapped IPv6 address gives its 4 IPv4 bytes.
std::size_t ip_bytes(const Endpoint& endpoint, std::uint8_t (&out)[16]);

// 64-bit mix of arbitrary bytes (FNV-1a then a SplitMix64 finaliser): stable across runs.
std::uint64_t hash_bytes(const void* data, std::size_t size);

// Who a client is: its address and the address it connected to, as its socket says or as its
// PROXY protocol header says (proxy_header_reader.hpp). `local` is left empty when nothing
// needed it at accept: the client socket's own local address then applies.
struct ClientAddresses {
  Endpoint peer;
  std::optional<Endpoint> local;
};

}  // namespace spliceproxy::net
