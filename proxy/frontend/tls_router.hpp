// tls_router: which of a listener's tls_routes a ClientHello matches. Rules are tried in the
// order of the config; the first whose server names and ALPN both match wins:
// - server_names: the hello's server name equals one of them, or ends in ".example.com" for
//   "*.example.com" (any depth of labels, not example.com itself); a hello without a server
//   name matches no rule that lists server names;
// - alpn: the hello offers at least one of them.
// A rule without one of the two keys matches on the other alone.
#pragma once

#include <optional>
#include <string_view>

#include "config/config.hpp"
#include "proxy/protocol/tls_client_hello.hpp"

namespace spliceproxy {

// Index in `routes` of the first rule `hello` (complete) matches; nullopt: none (the default).
std::optional<std::size_t> match_tls_route(const std::vector<config::TlsRoute>& routes,
                                           const tls::Result& hello);

// Whether `server_name` (lower case) matches `pattern` ("a.example.com" or "*.example.com").
bool server_name_matches(std::string_view pattern, std::string_view server_name);

}  // namespace spliceproxy
