// to_yaml: the effective configuration printed back as YAML, in the layout of
// proxy.yaml.example, with durations and sizes in their largest exact unit.
#include "config/config.hpp"

#include <iterator>
#include <string>

#include <fmt/format.h>

#include "config/limits_schema.hpp"
#include "config/mirror_schema.hpp"
#include "config/tls_schema.hpp"
#include "config/units.hpp"

namespace spliceproxy::config {
namespace {

bool is_plain_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == ':' || c == '-';
}

// `text` as a YAML scalar that reads back as the same string: plain when that is
// unambiguous (names, IPv4 addresses), double-quoted otherwise ("[::1]:80", "null").
std::string scalar(std::string_view text) {
  const bool plain = !text.empty() && is_plain_char(text.front()) && text.front() != '-' &&
                     text.front() != '.' && text.front() != ':' && text.back() != ':' &&
                     text != "null" && text != "Null" && text != "NULL" &&
                     text.find_first_not_of(
                         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "0123456789_.:-") == std::string_view::npos;
  if (plain) return std::string(text);
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  return out + '"';
}

std::string cidr_list(const std::vector<Cidr>& blocks) {
  std::string list = "[";
  for (const Cidr& block : blocks)
    list += (list.size() > 1 ? ", " : "") + scalar(block.to_string());
  return list + "]";
}

void append_listener_limits(std::string& out, const Listener& listener) {
  auto it = std::back_inserter(out);
  if (listener.listen.is_unix()) fmt::format_to(it, "    mode: \"{:04o}\"\n", listener.socket_mode);
  fmt::format_to(it, "    max_connections: {}\n", listener.max_connections);
  fmt::format_to(it, "    max_connections_per_source: {}\n", listener.max_connections_per_source);
  out += listener_rate_limits_yaml(listener);
  // An empty list is the default and is left out (a list in the schema has items).
  if (!listener.allow.empty()) fmt::format_to(it, "    allow: {}\n", cidr_list(listener.allow));
  if (!listener.deny.empty()) fmt::format_to(it, "    deny: {}\n", cidr_list(listener.deny));
  fmt::format_to(it, "    proxy_protocol: {}\n", to_string(listener.proxy_protocol));
}

void append_backend_pool(std::string& out, const Backend& backend) {
  auto it = std::back_inserter(out);
  fmt::format_to(it, "    balance: {}\n", to_string(backend.balance));
  fmt::format_to(it, "    max_connect_attempts: {}\n", backend.max_connect_attempts);
  fmt::format_to(it, "    max_queued: {}\n", backend.max_queued);
  fmt::format_to(it, "    proxy_protocol: {}\n", to_string(backend.proxy_protocol));
  const Ejection& e = backend.ejection;
  fmt::format_to(it,
                 "    ejection:\n      consecutive_failures: {}\n      base: {}\n      max: {}\n",
                 e.consecutive_failures, format_duration(e.base), format_duration(e.max));
  const HealthCheck& h = backend.health_check;
  if (!h.enabled) return;
  fmt::format_to(it, "    health_check:\n      interval: {}\n      timeout: {}\n      jitter: {}\n",
                 format_duration(h.interval), format_duration(h.timeout),
                 format_duration(h.jitter));
  fmt::format_to(it, "      rise: {}\n      fall: {}\n      send: {}\n      expect: {}\n", h.rise,
                 h.fall, scalar(h.send), scalar(h.expect));
}

void append_listener(std::string& out, const Listener& listener) {
  auto it = std::back_inserter(out);
  fmt::format_to(it, "  - name: {}\n", scalar(listener.name));
  fmt::format_to(it, "    listen: {}\n", scalar(listener.listen.to_string()));
  fmt::format_to(it, "    backend: {}\n", scalar(listener.backend));
  fmt::format_to(it, "    timeouts:\n");
  fmt::format_to(it, "      connect: {}\n", format_duration(listener.timeouts.connect));
  fmt::format_to(it, "      idle: {}\n", format_duration(listener.timeouts.idle));
  fmt::format_to(it, "      half_closed: {}\n", format_duration(listener.timeouts.half_closed));
  fmt::format_to(it, "      proxy_header: {}\n", format_duration(listener.timeouts.proxy_header));
  fmt::format_to(it, "      client_hello: {}\n", format_duration(listener.timeouts.client_hello));
  fmt::format_to(it, "      queue: {}\n", format_duration(listener.timeouts.queue));
  fmt::format_to(it, "      max_lifetime: {}\n", format_duration(listener.timeouts.max_lifetime));
  fmt::format_to(it, "      max_lifetime_jitter: {}\n",
                 format_duration(listener.timeouts.max_lifetime_jitter));
  append_listener_limits(out, listener);
  out += tls_routes_yaml(listener);
  out += mirror_refs_yaml(listener.mirrors);
}

void append_resolve(std::string& out, const Resolve& r, std::string_view indent);

void append_backend(std::string& out, const Backend& backend, const Resolve& global) {
  auto it = std::back_inserter(out);
  fmt::format_to(it, "  - name: {}\n", scalar(backend.name));
  fmt::format_to(it, "    servers:\n");
  for (const Server& server : backend.servers) {
    if (server.discovery == ServerDiscovery::srv) {
      fmt::format_to(it, "      - srv: {}\n", scalar(server.address.host));
    } else {
      fmt::format_to(it, "      - address: {}\n", scalar(server.address.to_string()));
      if (server.discovery == ServerDiscovery::dns) fmt::format_to(it, "        resolve: true\n");
    }
    fmt::format_to(it, "        weight: {}\n", server.weight);
    fmt::format_to(it, "        max_connections: {}\n", server.max_connections);
  }
  append_backend_pool(out, backend);
  if (!(backend.resolve == global)) append_resolve(out, backend.resolve, "    ");
}

// A `resolve` map at `indent`.
void append_resolve(std::string& out, const Resolve& r, std::string_view indent) {
  auto it = std::back_inserter(out);
  fmt::format_to(it, "{}resolve:\n", indent);
  fmt::format_to(it, "{}  min_interval: {}\n{}  max_interval: {}\n", indent,
                 format_duration(r.min_interval), indent, format_duration(r.max_interval));
  fmt::format_to(it, "{}  hold: {}\n{}  timeout: {}\n", indent, format_duration(r.hold), indent,
                 format_duration(r.timeout));
  if (r.nameservers.empty()) return;  // /etc/resolv.conf's
  fmt::format_to(it, "{}  nameservers:\n", indent);
  for (const Address& server : r.nameservers)
    fmt::format_to(it, "{}    - {}\n", indent, scalar(server.to_string()));
}

}  // namespace

std::string to_yaml(const Config& config) {
  std::string out = "# Effective configuration: every default filled in.\n";
  auto it = std::back_inserter(out);
  fmt::format_to(it, "workers: {}\n", config.workers);
  fmt::format_to(it, "busy_poll: {}us\n", config.busy_poll.count());
  fmt::format_to(it, "drain_timeout: {}\n", format_duration(config.drain_timeout));
  fmt::format_to(it, "log:\n  level: {}\n  access: {}\n", to_string(config.log.level),
                 scalar(config.log.access));
  if (config.admin.enabled) {
    fmt::format_to(it, "admin:\n  listen: {}\n", scalar(config.admin.listen.to_string()));
    if (!config.admin.token_file.empty())
      fmt::format_to(it, "  token_file: {}\n", scalar(config.admin.token_file));
  }
  fmt::format_to(it, "splice:\n  mode: {}\n  pipe_size: {}\n", to_string(config.splice.mode),
                 format_size(config.splice.pipe_size));
  append_resolve(out, config.resolve, "");
  out += "listeners:\n";
  for (const Listener& listener : config.listeners)
    append_listener(out, listener);
  out += "backends:\n";
  for (const Backend& backend : config.backends)
    append_backend(out, backend, config.resolve);
  return out + mirrors_yaml(config.mirrors);
}

}  // namespace spliceproxy::config
