// The schema of DNS discovery: `resolve` (top level, and per backend over it) and the server
// entries that name a hostname to follow (`resolve: true`) or an SRV name (`srv`).
// Called from schema.cpp and backend_schema.cpp; see proxy.yaml.example.
#include <arpa/inet.h>

#include <algorithm>
#include <string>

#include <fmt/format.h>

#include "config/address.hpp"
#include "config/schema.hpp"
#include "config/units.hpp"

namespace spliceproxy::config {
namespace {

constexpr Duration kMinInterval{100};
constexpr Duration kMaxTimeout = std::chrono::minutes(1);
constexpr std::size_t kMaxNameservers = 8;

bool is_ip_literal(const std::string& host) {
  unsigned char buffer[16];
  return ::inet_pton(AF_INET, host.c_str(), buffer) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

// A name server: an IP literal with a port ("127.0.0.1:53", "[::1]:5353").
Parsed<Address> parse_nameserver(std::string_view text) {
  auto parsed = parse_address(text, PortZero::refused);
  if (parsed.value && (parsed.value->is_unix() || !is_ip_literal(parsed.value->host)))
    return Parsed<Address>::error("an IP address and port of a name server, like 127.0.0.1:53");
  return parsed;
}

// A DNS name of letters, digits, '-', '_' and dots, at most 253 characters.
Parsed<std::string> parse_dns_name(std::string_view text) {
  const bool valid = !text.empty() && text.size() <= 253 && text.front() != '.' &&
                     std::all_of(text.begin(), text.end(), [](char c) {
                       return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                              (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
                     });
  if (!valid) return Parsed<std::string>::error("an SRV name like _http._tcp.app.example");
  return Parsed<std::string>::ok(std::string(text));
}

}  // namespace

Resolve parse_resolve(const YamlNode& node, const Resolve& base) {
  node.expect_map({"nameservers", "min_interval", "max_interval", "hold", "timeout"});
  Resolve resolve = base;
  if (auto v = node.find("min_interval"))
    resolve.min_interval = parse_duration_in(*v, kMinInterval, {});
  if (auto v = node.find("max_interval"))
    resolve.max_interval = parse_duration_in(*v, resolve.min_interval, {});
  if (resolve.max_interval < resolve.min_interval) {
    node.at(node.find("min_interval") ? "min_interval" : "max_interval")
        .fail("min_interval must not be above max_interval");
  }
  if (auto v = node.find("hold")) resolve.hold = parse_duration_in(*v, Duration{0}, {});
  if (auto v = node.find("timeout"))
    resolve.timeout = parse_duration_in(*v, kMinInterval, kMaxTimeout);
  if (auto list = node.find("nameservers")) {
    resolve.nameservers.clear();
    for (const YamlNode& item : list->items("name server")) {
      if (resolve.nameservers.size() == kMaxNameservers)
        item.fail(fmt::format("at most {} name servers", kMaxNameservers));
      resolve.nameservers.push_back(item.parse(parse_nameserver));
    }
  }
  return resolve;
}

// `srv: name` instead of `address`, or `resolve: true` beside a hostname address.
void parse_server_discovery(const YamlNode& node, Server& server) {
  if (auto srv = node.find("srv")) {
    if (node.find("address")) srv->fail("give either address or srv, not both");
    if (node.find("resolve")) node.at("resolve").fail("an srv entry is always resolved");
    server.address = Address{srv->parse(parse_dns_name), 0};
    server.discovery = ServerDiscovery::srv;
    return;
  }
  const auto resolve = node.find("resolve");
  if (!resolve) return;
  if (resolve->text() != "true" && resolve->text() != "false")
    resolve->fail_expected("true or false");
  if (resolve->text() == "false") return;
  if (server.address.is_unix() || is_ip_literal(server.address.host))
    resolve->fail("resolve: true needs a hostname address, not an IP literal or a Unix path");
  server.discovery = ServerDiscovery::dns;
}

bool Backend::discovers() const {
  return std::any_of(servers.begin(), servers.end(),
                     [](const Server& s) { return s.discovery != ServerDiscovery::none; });
}

std::string_view to_string(ServerDiscovery discovery) {
  switch (discovery) {
    case ServerDiscovery::none:
      return "none";
    case ServerDiscovery::dns:
      return "dns";
    case ServerDiscovery::srv:
      return "srv";
  }
  return "unknown";
}

}  // namespace spliceproxy::config
