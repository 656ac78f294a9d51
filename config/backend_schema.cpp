// The schema of backend pools and listener limits: server weights and limits, balance
// policy, connect attempts, passive ejection, active health checks, socket file mode,
// connection limits, allow/deny lists and the PROXY protocol of listeners and backends.
// Called from schema.cpp; see proxy.yaml.example.
#include <string>

#include <fmt/format.h>

#include "config/address.hpp"
#include "config/limits_schema.hpp"
#include "config/schema.hpp"
#include "config/units.hpp"

namespace spliceproxy::config {
namespace {

constexpr Duration kMinDuration{1};
constexpr unsigned kMaxWeight = 256;
constexpr unsigned kMaxAttempts = 16;
constexpr std::size_t kMaxConnections = 1'000'000;

// An integer within [min, max].
std::uint64_t parse_count(const YamlNode& node, std::uint64_t min, std::uint64_t max) {
  const auto value = parse_unsigned(node.text());
  if (!value || *value < min || *value > max) {
    node.fail_expected(fmt::format("an integer from {} to {}", min, max));
  }
  return *value;
}

// A file mode in octal, like "0660" (quoted, so YAML keeps it a string).
unsigned parse_mode(const YamlNode& node) {
  const std::string text = node.text();
  const bool octal =
      !text.empty() && text.size() <= 4 && text.find_first_not_of("01234567") == std::string::npos;
  if (!octal) node.fail_expected("an octal file mode like \"0660\"");
  return static_cast<unsigned>(std::stoul(text, nullptr, 8));
}

std::vector<Cidr> parse_cidrs(const YamlNode& node) {
  std::vector<Cidr> blocks;
  for (const YamlNode& item : node.items("address block"))
    blocks.push_back(item.parse(parse_cidr));
  return blocks;
}

Ejection parse_ejection(const YamlNode& node) {
  node.expect_map({"consecutive_failures", "base", "max"});
  Ejection ejection;
  if (auto failures = node.find("consecutive_failures")) {
    ejection.consecutive_failures = static_cast<unsigned>(parse_count(*failures, 0, 1000));
  }
  if (auto base = node.find("base")) ejection.base = parse_duration_in(*base, kMinDuration, {});
  if (auto max = node.find("max")) ejection.max = parse_duration_in(*max, ejection.base, {});
  return ejection;
}

HealthCheck parse_health_check(const YamlNode& node) {
  node.expect_map({"interval", "timeout", "jitter", "rise", "fall", "send", "expect"});
  HealthCheck check;
  check.enabled = true;
  if (auto v = node.find("interval")) check.interval = parse_duration_in(*v, kMinDuration, {});
  if (auto v = node.find("timeout")) check.timeout = parse_duration_in(*v, kMinDuration, {});
  if (auto v = node.find("jitter")) check.jitter = parse_duration_in(*v, Duration{0}, {});
  if (auto v = node.find("rise")) check.rise = static_cast<unsigned>(parse_count(*v, 1, 100));
  if (auto v = node.find("fall")) check.fall = static_cast<unsigned>(parse_count(*v, 1, 100));
  if (auto v = node.find("send")) check.send = v->text();
  if (auto v = node.find("expect")) check.expect = v->text();
  return check;
}

}  // namespace

Server parse_server(const YamlNode& node) {
  node.expect_map({"address", "srv", "resolve", "weight", "max_connections"});
  Server server;
  const auto parse = [](std::string_view text) { return parse_address(text, PortZero::refused); };
  if (!node.find("srv")) server.address = node.at("address").parse(parse);
  parse_server_discovery(node, server);
  if (auto weight = node.find("weight")) {
    server.weight = static_cast<unsigned>(parse_count(*weight, 1, kMaxWeight));
  }
  if (auto max = node.find("max_connections")) {
    server.max_connections = parse_count(*max, 0, kMaxConnections);
  }
  return server;
}

void parse_backend_pool_keys(const YamlNode& node, Backend& backend) {
  if (auto balance = node.find("balance")) {
    static constexpr BalancePolicy kPolicies[] = {
        BalancePolicy::round_robin, BalancePolicy::least_connections, BalancePolicy::random,
        BalancePolicy::source_hash};
    backend.balance = parse_enum(*balance, kPolicies);
  }
  if (auto attempts = node.find("max_connect_attempts")) {
    backend.max_connect_attempts = static_cast<unsigned>(parse_count(*attempts, 1, kMaxAttempts));
  }
  if (auto ejection = node.find("ejection")) backend.ejection = parse_ejection(*ejection);
  if (auto check = node.find("health_check")) backend.health_check = parse_health_check(*check);
  if (auto max = node.find("max_queued"))
    backend.max_queued = parse_count(*max, 0, kMaxConnections);
  if (auto mode = node.find("proxy_protocol")) {
    static constexpr ProxyProtocol kSent[] = {ProxyProtocol::off, ProxyProtocol::v1,
                                              ProxyProtocol::v2};
    backend.proxy_protocol = parse_enum(*mode, kSent);
  }
}

void parse_listener_pool_keys(const YamlNode& node, Listener& listener) {
  if (auto mode = node.find("mode")) {
    if (!listener.listen.is_unix()) mode->fail("only a unix:/path listener has a file mode");
    listener.socket_mode = parse_mode(*mode);
  }
  if (auto max = node.find("max_connections")) {
    listener.max_connections = parse_count(*max, 0, kMaxConnections);
  }
  if (auto max = node.find("max_connections_per_source")) {
    listener.max_connections_per_source = parse_count(*max, 0, kMaxConnections);
  }
  if (auto rate = node.find("max_connection_rate"))
    listener.max_connection_rate = parse_connection_rate(*rate);
  if (auto bandwidth = node.find("bandwidth")) listener.bandwidth = parse_bandwidth(*bandwidth);
  if (auto allow = node.find("allow")) listener.allow = parse_cidrs(*allow);
  if (auto deny = node.find("deny")) listener.deny = parse_cidrs(*deny);
  if (auto mode = node.find("proxy_protocol")) {
    static constexpr ProxyProtocol kAccepted[] = {ProxyProtocol::off, ProxyProtocol::v1,
                                                  ProxyProtocol::v2, ProxyProtocol::any};
    listener.proxy_protocol = parse_enum(*mode, kAccepted);
  }
}

}  // namespace spliceproxy::config
