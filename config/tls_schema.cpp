// A listener's `tls_routes` and `not_tls`; see tls_schema.hpp and proxy.yaml.example.
#include "config/tls_schema.hpp"

#include <algorithm>
#include <iterator>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace spliceproxy::config {
namespace {

bool host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

// A server name pattern: a host name, or "*." and a host name (any name ending in ".<that>"),
// compared lower case, as the proxy reads names off a hello.
std::string parse_server_name(const YamlNode& node) {
  std::string text = node.text();
  std::transform(text.begin(), text.end(), text.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  const std::string_view name = text.rfind("*.", 0) == 0 ? std::string_view(text).substr(2) : text;
  const bool valid = !name.empty() && name.size() <= 253 && name.front() != '.' &&
                     name.back() != '.' && std::all_of(name.begin(), name.end(), host_char);
  if (!valid) node.fail_expected("a host name like api.example.com, or *.example.com");
  return text;
}

// Printable ASCII without quotes or backslashes: every id registered with IANA is.
bool printable(const std::string& text, std::string_view also_refused) {
  return std::all_of(text.begin(), text.end(), [&](char c) {
    return c > ' ' && c < 0x7f && also_refused.find(c) == std::string_view::npos;
  });
}

std::string parse_alpn_id(const YamlNode& node) {
  std::string text = node.text();
  if (text.empty() || text.size() > 255 || !printable(text, "\"\\"))
    node.fail_expected("an ALPN protocol id like h2 or http/1.1");
  return text;
}

std::string parse_backend_name(const YamlNode& node, const std::vector<Backend>& backends) {
  std::vector<std::string_view> known;
  for (const Backend& backend : backends) {
    if (node.text() == backend.name) return backend.name;
    known.push_back(backend.name);
  }
  node.fail_expected(fmt::format("the name of a backend (one of: {})", fmt::join(known, ", ")));
}

TlsRoute parse_route(const YamlNode& node, const std::vector<Backend>& backends,
                     std::map<std::string, int>& names) {
  node.expect_map({"name", "server_names", "alpn", "backend"});
  TlsRoute route;
  if (auto list = node.find("server_names")) {
    for (const YamlNode& item : list->items("server name"))
      route.server_names.push_back(parse_server_name(item));
  }
  if (auto list = node.find("alpn")) {
    for (const YamlNode& item : list->items("ALPN protocol id"))
      route.alpn.push_back(parse_alpn_id(item));
  }
  if (route.server_names.empty() && route.alpn.empty())
    node.fail("a rule needs server_names or alpn (the listener's backend takes the rest)");
  route.backend = parse_backend_name(node.at("backend"), backends);
  const auto name = node.find("name");
  route.name = name
                   ? name->text()
                   : (route.server_names.empty() ? route.alpn.front() : route.server_names.front());
  if (name && (route.name.empty() || !printable(route.name, "\"\\{}=,")))
    name->fail_expected("a name of printable characters (no quotes, braces, '=' or ',')");
  const int line = name ? name->line() : node.line();
  const auto [first, inserted] = names.emplace(route.name, line);
  if (!inserted) {
    (name ? *name : node)
        .fail(fmt::format("duplicate rule name {}, first at line {} (give each rule a `name`)",
                          quoted(route.name), first->second));
  }
  return route;
}

}  // namespace

void parse_tls_routing(const YamlNode& node, Listener& listener,
                       const std::vector<Backend>& backends) {
  const auto routes = node.find("tls_routes");
  const auto not_tls = node.find("not_tls");
  if (!routes) {
    if (not_tls) not_tls->fail("not_tls goes with tls_routes");
    return;
  }
  if (listener.listen.is_unix())
    routes->fail("a unix:/path listener cannot route by TLS hello (TCP listeners only)");
  std::map<std::string, int> names;
  for (const YamlNode& item : routes->items("TLS route"))
    listener.tls_routes.push_back(parse_route(item, backends, names));
  if (not_tls && not_tls->text() != "close") {
    std::vector<std::string_view> known = {"close"};
    for (const Backend& backend : backends) {
      if (not_tls->text() == backend.name) listener.not_tls = backend.name;
      known.push_back(backend.name);
    }
    if (listener.not_tls.empty())
      not_tls->fail_expected(
          fmt::format("close or a backend name (one of: {})", fmt::join(known, ", ")));
  }
}

std::string tls_routes_yaml(const Listener& listener) {
  if (listener.tls_routes.empty()) return {};
  std::string out = "    tls_routes:\n";
  auto it = std::back_inserter(out);
  const auto list = [](const std::vector<std::string>& items) {
    std::string text;
    for (const auto& item : items)
      text += fmt::format("{}\"{}\"", text.empty() ? "" : ", ", item);
    return "[" + text + "]";
  };
  for (const TlsRoute& route : listener.tls_routes) {
    fmt::format_to(it, "      - name: \"{}\"\n", route.name);
    if (!route.server_names.empty())
      fmt::format_to(it, "        server_names: {}\n", list(route.server_names));
    if (!route.alpn.empty()) fmt::format_to(it, "        alpn: {}\n", list(route.alpn));
    fmt::format_to(it, "        backend: {}\n", route.backend);
  }
  fmt::format_to(it, "    not_tls: {}\n", listener.not_tls.empty() ? "close" : listener.not_tls);
  return out;
}

}  // namespace spliceproxy::config
