// Which tls_routes rule a hello matches (proxy/frontend/tls_router.cpp): exact and wildcard
// server names, ALPN, both together, the order of the rules, and hellos without SNI.
#include "proxy/frontend/tls_router.hpp"

#include <gtest/gtest.h>

#include <cstring>

namespace spliceproxy {
namespace {

tls::Name name_of(std::string_view text) {
  tls::Name name;
  std::memcpy(name.bytes.data(), text.data(), text.size());
  name.size = static_cast<std::uint8_t>(text.size());
  return name;
}

tls::Result hello(std::string_view sni, std::vector<std::string_view> alpn = {}) {
  tls::Result r;
  r.status = tls::Result::Status::complete;
  r.has_server_name = !sni.empty();
  r.server_name = name_of(sni);
  for (std::string_view id : alpn)
    r.alpn[r.alpn_count++] = name_of(id);
  return r;
}

const std::vector<config::TlsRoute> kRoutes = {
    {"api", {"api.example.com"}, {"h2"}, "api_h2"},
    {"api_any", {"api.example.com"}, {}, "api"},
    {"wild", {"*.example.com"}, {}, "web"},
    {"mqtt", {}, {"mqtt"}, "broker"},
};

TEST(TlsRouter, ExactNameWithAlpnComesBeforeTheSameNameWithout) {
  EXPECT_EQ(match_tls_route(kRoutes, hello("api.example.com", {"http/1.1", "h2"})), 0u);
  EXPECT_EQ(match_tls_route(kRoutes, hello("api.example.com", {"http/1.1"})), 1u);
  EXPECT_EQ(match_tls_route(kRoutes, hello("api.example.com")), 1u);
}

TEST(TlsRouter, WildcardMatchesAnyDepthButNotItsOwnDomain) {
  EXPECT_EQ(match_tls_route(kRoutes, hello("www.example.com")), 2u);
  EXPECT_EQ(match_tls_route(kRoutes, hello("a.b.example.com")), 2u);
  EXPECT_EQ(match_tls_route(kRoutes, hello("example.com")), std::nullopt);
  EXPECT_EQ(match_tls_route(kRoutes, hello("wwwexample.com")), std::nullopt);
}

TEST(TlsRouter, HelloWithoutSniMatchesOnlyAlpnRules) {
  EXPECT_EQ(match_tls_route(kRoutes, hello("")), std::nullopt);
  EXPECT_EQ(match_tls_route(kRoutes, hello("", {"mqtt"})), 3u);
  EXPECT_EQ(match_tls_route(kRoutes, hello("other.org", {"mqtt"})), 3u);
}

TEST(TlsRouter, PatternsCompareWholeNames) {
  EXPECT_TRUE(server_name_matches("a.example.com", "a.example.com"));
  EXPECT_FALSE(server_name_matches("a.example.com", "b.a.example.com"));
  EXPECT_TRUE(server_name_matches("*.example.com", "x.example.com"));
  EXPECT_FALSE(server_name_matches("*.example.com", ".example.com"));
}

}  // namespace
}  // namespace spliceproxy
