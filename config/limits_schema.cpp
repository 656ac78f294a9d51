// The schema of a listener's rate and bandwidth limits; see limits_schema.hpp and
// proxy.yaml.example.
#include "config/limits_schema.hpp"

#include <iterator>

#include <fmt/format.h>

#include "config/schema.hpp"
#include "config/units.hpp"

namespace spliceproxy::config {
namespace {

constexpr std::uint64_t kMaxBurst = 1'000'000;
constexpr std::uint64_t kMinByteRate = 1024;  // 1 KiB/s: below, a cap is a mistake

// `{rate: N/unit, burst: M}`; burst defaults to the rate's count (one period's worth).
Rate parse_rate(const YamlNode& node, std::initializer_list<std::string_view> keys) {
  node.expect_map(keys);
  Rate rate;
  const YamlNode value = node.at("rate");
  std::tie(rate.count, rate.period) = value.parse(parse_event_rate);
  rate.burst = rate.count;
  if (auto burst = node.find("burst")) {
    const auto n = parse_unsigned(burst->text());
    if (!n || *n < 1 || *n > kMaxBurst)
      burst->fail_expected(fmt::format("an integer from 1 to {}", kMaxBurst));
    rate.burst = *n;
  }
  return rate;
}

std::uint64_t parse_cap(const YamlNode& node) {
  const std::uint64_t bytes = node.parse(parse_byte_rate);
  if (bytes < kMinByteRate) node.fail_expected("a byte rate of at least 1KiB/s");
  return bytes;
}

BandwidthCaps parse_caps(const YamlNode& node, bool with_listener) {
  if (with_listener) {
    node.expect_map({"client_to_backend", "backend_to_client", "listener"});
  } else {
    node.expect_map({"client_to_backend", "backend_to_client"});
  }
  BandwidthCaps caps;
  if (auto v = node.find("client_to_backend")) caps.client_to_backend = parse_cap(*v);
  if (auto v = node.find("backend_to_client")) caps.backend_to_client = parse_cap(*v);
  return caps;
}

void append_rate(std::string& out, const Rate& rate, std::string_view indent) {
  fmt::format_to(std::back_inserter(out), "{}rate: {}\n{}burst: {}\n", indent,
                 format_event_rate(rate.count, rate.period), indent, rate.burst);
}

void append_caps(std::string& out, const BandwidthCaps& caps, std::string_view indent) {
  auto it = std::back_inserter(out);
  if (caps.client_to_backend != 0)
    fmt::format_to(it, "{}client_to_backend: {}\n", indent,
                   format_byte_rate(caps.client_to_backend));
  if (caps.backend_to_client != 0)
    fmt::format_to(it, "{}backend_to_client: {}\n", indent,
                   format_byte_rate(caps.backend_to_client));
}

}  // namespace

ConnectionRateLimit parse_connection_rate(const YamlNode& node) {
  node.expect_map({"rate", "burst", "over_limit", "per_source"});
  ConnectionRateLimit limit;
  if (node.find("rate") || node.find("burst")) {
    limit.listener = parse_rate(node, {"rate", "burst", "over_limit", "per_source"});
  }
  if (auto over = node.find("over_limit")) {
    static constexpr OverLimit kValues[] = {OverLimit::close, OverLimit::wait};
    limit.over_limit = parse_enum(*over, kValues);
  }
  if (auto per_source = node.find("per_source"))
    limit.per_source = parse_rate(*per_source, {"rate", "burst"});
  if (!limit.limited()) node.fail("expected rate, per_source or both");
  return limit;
}

Bandwidth parse_bandwidth(const YamlNode& node) {
  Bandwidth bandwidth;
  bandwidth.session = parse_caps(node, true);
  if (auto listener = node.find("listener")) {
    bandwidth.listener = parse_caps(*listener, false);
    if (!bandwidth.listener.capped())
      listener->fail("expected client_to_backend, backend_to_client or both");
  }
  if (!bandwidth.session.capped() && !bandwidth.listener.capped())
    node.fail("expected client_to_backend, backend_to_client or listener");
  return bandwidth;
}

std::string listener_rate_limits_yaml(const Listener& listener) {
  std::string out;
  const ConnectionRateLimit& rate = listener.max_connection_rate;
  if (rate.limited()) {
    out += "    max_connection_rate:\n";
    if (rate.listener.limited()) append_rate(out, rate.listener, "      ");
    out += fmt::format("      over_limit: {}\n", to_string(rate.over_limit));
    if (rate.per_source.limited()) {
      out += "      per_source:\n";
      append_rate(out, rate.per_source, "        ");
    }
  }
  const Bandwidth& bandwidth = listener.bandwidth;
  if (bandwidth.session.capped() || bandwidth.listener.capped()) {
    out += "    bandwidth:\n";
    append_caps(out, bandwidth.session, "      ");
    if (bandwidth.listener.capped()) {
      out += "      listener:\n";
      append_caps(out, bandwidth.listener, "        ");
    }
  }
  return out;
}

}  // namespace spliceproxy::config
