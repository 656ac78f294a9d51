// tls_router: the rule a hello matches; see the header for the order and the wildcard.
#include "proxy/frontend/tls_router.hpp"

#include <algorithm>

namespace spliceproxy {
namespace {

bool names_match(const config::TlsRoute& route, const tls::Result& hello) {
  if (route.server_names.empty()) return true;
  if (!hello.has_server_name) return false;
  const std::string_view name = hello.server_name.view();
  return std::any_of(
      route.server_names.begin(), route.server_names.end(),
      [&](const std::string& pattern) { return server_name_matches(pattern, name); });
}

bool alpn_matches(const config::TlsRoute& route, const tls::Result& hello) {
  if (route.alpn.empty()) return true;
  for (std::size_t i = 0; i < hello.alpn_count; ++i) {
    const std::string_view offered = hello.alpn[i].view();
    if (std::find(route.alpn.begin(), route.alpn.end(), offered) != route.alpn.end()) return true;
  }
  return false;
}

}  // namespace

bool server_name_matches(std::string_view pattern, std::string_view server_name) {
  if (pattern.size() < 2 || pattern.substr(0, 2) != "*.") return pattern == server_name;
  const std::string_view suffix = pattern.substr(1);  // ".example.com"
  return server_name.size() > suffix.size() &&
         server_name.substr(server_name.size() - suffix.size()) == suffix;
}

std::optional<std::size_t> match_tls_route(const std::vector<config::TlsRoute>& routes,
                                           const tls::Result& hello) {
  for (std::size_t i = 0; i < routes.size(); ++i) {
    if (names_match(routes[i], hello) && alpn_matches(routes[i], hello)) return i;
  }
  return std::nullopt;
}

}  // namespace spliceproxy
