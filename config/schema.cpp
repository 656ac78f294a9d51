// Section by section reading of proxy.yaml; see schema.hpp and proxy.yaml.example.
#include "config/schema.hpp"

#include <sched.h>

#include <algorithm>
#include <map>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "config/address.hpp"
#include "config/mirror_schema.hpp"
#include "config/tls_schema.hpp"
#include "config/units.hpp"

namespace spliceproxy::config {
namespace {

constexpr Duration kMinDuration{1};
constexpr Duration kMaxConnectTimeout = std::chrono::hours(1);
constexpr std::size_t kMinPipeSize = std::size_t{4} << 10;
constexpr std::size_t kMaxPipeSize = std::size_t{1} << 30;

// Name and line of the first definition of each name, to report duplicates.
using FirstSeen = std::map<std::string, int>;

// A listener or backend name: one or more of [A-Za-z0-9_.-].
Parsed<std::string> parse_name(std::string_view text) {
  const bool valid = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
  if (!valid) return Parsed<std::string>::error("a name made of letters, digits, '_', '.' and '-'");
  return Parsed<std::string>::ok(std::string(text));
}

// Reads `node` as a name that `seen` does not hold yet, and records it.
std::string parse_unique_name(const YamlNode& node, std::string_view kind, FirstSeen& seen) {
  std::string name = node.parse(parse_name);
  const auto [first, inserted] = seen.emplace(name, node.line());
  if (!inserted) {
    node.fail(fmt::format("duplicate {} name {}, first defined at line {}", kind, quoted(name),
                          first->second));
  }
  return name;
}

// `workers: auto`: one per CPU this process may run on (its affinity mask, as HAProxy counts
// them: a container's cpuset narrows it, a CPU quota does not), within [1, kMaxWorkers].
unsigned auto_workers() {
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  const int count = ::sched_getaffinity(0, sizeof cpus, &cpus) == 0
                        ? CPU_COUNT(&cpus)
                        : static_cast<int>(std::thread::hardware_concurrency());
  return std::clamp(static_cast<unsigned>(std::max(count, 1)), 1u, kMaxWorkers);
}

// `workers`: an integer from 1 to kMaxWorkers, or "auto".
unsigned parse_workers(const YamlNode& node) {
  if (node.text() == "auto") return auto_workers();
  const auto count = parse_unsigned(node.text());
  if (!count || *count < 1 || *count > kMaxWorkers) {
    node.fail_expected(fmt::format("an integer from 1 to {} or \"auto\"", kMaxWorkers));
  }
  return static_cast<unsigned>(*count);
}

// `busy_poll`: "50us", or any duration ("1ms"), from 0 (off) to 10ms: longer would only burn
// the core it holds.
std::chrono::microseconds parse_busy_poll(const YamlNode& node) {
  constexpr std::chrono::microseconds kMax = std::chrono::milliseconds(10);
  const std::string text = node.text();
  std::optional<std::chrono::microseconds> value;
  if (text.ends_with("us")) {
    if (const auto count = parse_unsigned(text.substr(0, text.size() - 2));
        count && *count <= static_cast<std::uint64_t>(kMax.count()))
      value = std::chrono::microseconds(*count);
  } else if (const auto parsed = parse_duration(text); parsed.value && *parsed.value <= kMax) {
    value = *parsed.value;
  }
  if (!value) node.fail_expected("a duration from 0us to 10ms (\"50us\", \"1ms\")");
  return *value;
}

// The parse_<section> functions below: absent keys keep the section's defaults.
SpliceSettings parse_splice(const YamlNode& node) {
  node.expect_map({"mode", "pipe_size"});
  SpliceSettings splice;
  if (auto mode = node.find("mode")) {
    static constexpr SpliceMode kModes[] = {SpliceMode::splice, SpliceMode::copy,
                                            SpliceMode::automatic};
    splice.mode = parse_enum(*mode, kModes);
  }
  if (auto pipe_size = node.find("pipe_size")) {
    splice.pipe_size = pipe_size->parse(parse_size);
    if (splice.pipe_size < kMinPipeSize || splice.pipe_size > kMaxPipeSize) {
      pipe_size->fail_expected(fmt::format("a size from {} to {}", format_size(kMinPipeSize),
                                           format_size(kMaxPipeSize)));
    }
  }
  return splice;
}

Timeouts parse_timeouts(const YamlNode& node) {
  node.expect_map({"connect", "idle", "half_closed", "proxy_header", "client_hello", "queue",
                   "max_lifetime", "max_lifetime_jitter"});
  Timeouts timeouts;
  if (auto connect = node.find("connect")) {
    timeouts.connect = parse_duration_in(*connect, kMinDuration, kMaxConnectTimeout);
  }
  if (auto idle = node.find("idle")) timeouts.idle = parse_duration_in(*idle, kMinDuration, {});
  if (auto half = node.find("half_closed")) {
    timeouts.half_closed = parse_duration_in(*half, kMinDuration, {});
  }
  if (auto header = node.find("proxy_header")) {
    timeouts.proxy_header = parse_duration_in(*header, kMinDuration, kMaxConnectTimeout);
  }
  if (auto hello = node.find("client_hello")) {
    timeouts.client_hello = parse_duration_in(*hello, kMinDuration, kMaxConnectTimeout);
  }
  if (auto queue = node.find("queue")) timeouts.queue = parse_duration_in(*queue, kMinDuration, {});
  if (auto max = node.find("max_lifetime"))
    timeouts.max_lifetime = parse_duration_in(*max, Duration{0}, {});
  if (auto jitter = node.find("max_lifetime_jitter"))
    timeouts.max_lifetime_jitter = parse_duration_in(*jitter, Duration{0}, {});
  return timeouts;
}

// One item of `backends`; its name must not be in `names` yet and is added to it.
Backend parse_backend(const YamlNode& node, FirstSeen& names, const Resolve& resolve) {
  node.expect_map({"name", "servers", "balance", "max_connect_attempts", "ejection", "health_check",
                   "proxy_protocol", "resolve", "max_queued"});
  Backend backend;
  backend.name = parse_unique_name(node.at("name"), "backend", names);
  backend.resolve = resolve;
  if (auto own = node.find("resolve")) backend.resolve = parse_resolve(*own, resolve);
  // A server is known by its address (metrics labels, logs): one entry per address, with a
  // weight for a bigger share.
  FirstSeen addresses;
  for (const YamlNode& item : node.at("servers").items("server")) {
    backend.servers.push_back(parse_server(item));
    const YamlNode address = item.find("srv") ? item.at("srv") : item.at("address");
    const auto [first, inserted] =
        addresses.emplace(backend.servers.back().origin(), address.line());
    if (!inserted) {
      address.fail(
          fmt::format("duplicate server address {} in this backend, first at line {} "
                      "(give that server a higher weight instead)",
                      quoted(first->first), first->second));
    }
  }
  parse_backend_pool_keys(node, backend);
  return backend;
}

// The backend name `node` holds, which must be one of `backends`.
std::string parse_backend_ref(const YamlNode& node, const std::vector<Backend>& backends) {
  std::vector<std::string_view> known;
  for (const Backend& backend : backends) {
    if (node.text() == backend.name) return backend.name;
    known.push_back(backend.name);
  }
  node.fail_expected(fmt::format("the name of a backend (one of: {})", fmt::join(known, ", ")));
}

// Listen addresses already taken, with the listener that took them, to refuse a
// second bind to the same address (port 0 binds anywhere, so it never clashes).
using TakenAddresses = std::map<std::string, std::pair<std::string, int>>;

// One item of `listeners`: its name must be new to `names`, its listen address (unless port
// 0) new to `taken`; records both. `backend` is left empty: its node is appended to
// `backend_refs`, to be resolved once the backends are known.
Listener parse_listener(const YamlNode& node, FirstSeen& names, TakenAddresses& taken,
                        std::vector<YamlNode>& backend_refs) {
  node.expect_map({"name", "listen", "backend", "timeouts", "mode", "max_connections",
                   "max_connections_per_source", "max_connection_rate", "bandwidth", "allow",
                   "deny", "mirrors", "proxy_protocol", "tls_routes", "not_tls"});
  Listener listener;
  listener.name = parse_unique_name(node.at("name"), "listener", names);
  const YamlNode listen = node.at("listen");
  const auto parse = [](std::string_view text) { return parse_address(text, PortZero::allowed); };
  listener.listen = listen.parse(parse);
  if (listener.listen.port != 0 || listener.listen.is_unix()) {
    const auto [first, inserted] =
        taken.emplace(listener.listen.to_string(), std::pair{listener.name, listen.line()});
    if (!inserted) {
      listen.fail(fmt::format("address {} is already used by listener {} at line {}", first->first,
                              quoted(first->second.first), first->second.second));
    }
  }
  backend_refs.push_back(node.at("backend"));
  if (auto timeouts = node.find("timeouts")) listener.timeouts = parse_timeouts(*timeouts);
  parse_listener_pool_keys(node, listener);
  return listener;
}

// The `listeners` list, with backends unresolved (see parse_listener).
std::vector<Listener> parse_listeners(const YamlNode& node, std::vector<YamlNode>& backend_refs) {
  std::vector<Listener> listeners;
  FirstSeen names;
  TakenAddresses taken;
  for (const YamlNode& item : node.items("listener")) {
    listeners.push_back(parse_listener(item, names, taken, backend_refs));
  }
  return listeners;
}

// The `backends` list.
std::vector<Backend> parse_backends(const YamlNode& node, const Resolve& resolve) {
  std::vector<Backend> backends;
  FirstSeen names;
  for (const YamlNode& item : node.items("backend"))
    backends.push_back(parse_backend(item, names, resolve));
  return backends;
}

}  // namespace

Duration parse_duration_in(const YamlNode& node, Duration min, Duration max) {
  const Duration value = node.parse(parse_duration);
  if (value < min || (max.count() != 0 && value > max)) {
    node.fail_expected(
        max.count() == 0
            ? fmt::format("a duration of at least {}", format_duration(min))
            : fmt::format("a duration from {} to {}", format_duration(min), format_duration(max)));
  }
  return value;
}

Config parse_config(const YamlNode& root) {
  root.expect_map({"workers", "busy_poll", "drain_timeout", "log", "admin", "splice", "resolve",
                   "listeners", "backends", "mirrors"});
  Config config;
  if (auto workers = root.find("workers")) config.workers = parse_workers(*workers);
  if (auto busy_poll = root.find("busy_poll")) config.busy_poll = parse_busy_poll(*busy_poll);
  if (auto drain = root.find("drain_timeout"))
    config.drain_timeout = parse_duration_in(*drain, Duration{0}, {});
  if (auto log = root.find("log")) config.log = parse_log(*log);
  if (auto admin = root.find("admin")) config.admin = parse_admin(*admin);
  if (auto splice = root.find("splice")) config.splice = parse_splice(*splice);
  if (auto resolve = root.find("resolve")) config.resolve = parse_resolve(*resolve, Resolve{});
  std::vector<YamlNode> backend_refs;  // listeners[i].backend
  if (auto listeners = root.find("listeners")) {
    config.listeners = parse_listeners(*listeners, backend_refs);
  }
  if (auto backends = root.find("backends"))
    config.backends = parse_backends(*backends, config.resolve);
  if (auto mirrors = root.find("mirrors")) config.mirrors = parse_mirrors(*mirrors);
  // Missing sections after the present ones' contents: a typo inside a listener is a
  // better first message than "missing backends" when both are wrong.
  root.at("listeners");
  root.at("backends");
  for (std::size_t i = 0; i < config.listeners.size(); ++i) {
    config.listeners[i].backend = parse_backend_ref(backend_refs[i], config.backends);
  }
  const std::vector<YamlNode> listener_nodes = root.at("listeners").items("listener");
  for (std::size_t i = 0; i < config.listeners.size(); ++i) {
    if (auto refs = listener_nodes[i].find("mirrors"))
      config.listeners[i].mirrors = parse_mirror_refs(*refs, config.mirrors);
    parse_tls_routing(listener_nodes[i], config.listeners[i], config.backends);
  }
  return config;
}

}  // namespace spliceproxy::config
