// Metrics: the Prometheus text rendering and the per-session byte totals.
#include "proxy/ops/metrics.hpp"

#include <iterator>

#include <fmt/format.h>

namespace spliceproxy {
namespace {

// A label value as the exposition format wants it: backslash, quote and newline escaped.
std::string escape_label(std::string_view value) {
  std::string out;
  for (const char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

class Writer {
 public:
  // Starts a family: its # HELP and # TYPE lines.
  void family(std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(out_), "# HELP spliceproxy_{} {}\n# TYPE spliceproxy_{} {}\n",
                   name, help, name, type);
  }
  // One sample; `labels` is already `a="x",b="y"` or empty.
  void sample(std::string_view name, const std::string& labels, std::uint64_t value) {
    if (labels.empty()) {
      fmt::format_to(std::back_inserter(out_), "spliceproxy_{} {}\n", name, value);
    } else {
      fmt::format_to(std::back_inserter(out_), "spliceproxy_{}{{{}}} {}\n", name, labels, value);
    }
  }
  // A sample whose value is already text (a fraction).
  void sample_text(std::string_view name, const std::string& value) {
    fmt::format_to(std::back_inserter(out_), "spliceproxy_{} {}\n", name, value);
  }
  void single(std::string_view name, std::string_view type, std::string_view help,
              std::uint64_t value) {
    family(name, type, help);
    sample(name, "", value);
  }
  void single_double(std::string_view name, std::string_view type, std::string_view help,
                     double value) {
    family(name, type, help);
    fmt::format_to(std::back_inserter(out_), "spliceproxy_{} {}\n", name, value);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string label(std::string_view key, std::string_view value) {
  return fmt::format("{}=\"{}\"", key, escape_label(value));
}

std::string server_labels(const ServerFigures& s) {
  return label("backend", s.backend) + "," + label("server", s.server);
}

void write_bytes(Writer& w, std::string_view name, const std::string& labels, ByteCounts bytes) {
  w.sample(name, labels + "," + label("direction", "client_to_backend"), bytes.client_to_backend);
  w.sample(name, labels + "," + label("direction", "backend_to_client"), bytes.backend_to_client);
}

void write_sessions(Writer& w, const MetricsSnapshot& s) {
  // Every counter but the two that count time in other units than seconds (below).
#define SPLICEPROXY_COUNTER(name, help)                              \
  if (Counter::name != Counter::bandwidth_wait_microseconds_total && \
      Counter::name != Counter::queue_wait_milliseconds_total)       \
    w.single(#name, "counter", help, s.stats.get(Counter::name));
  SPLICEPROXY_COUNTERS(SPLICEPROXY_COUNTER)
#undef SPLICEPROXY_COUNTER
  // Counted in whole microseconds and milliseconds; Prometheus names time in seconds.
  w.single_double(
      "bandwidth_wait_seconds_total", "counter",
      "Time capped channels spent waiting for bandwidth tokens",
      static_cast<double>(s.stats.get(Counter::bandwidth_wait_microseconds_total)) / 1e6);
  w.single_double("queue_wait_seconds_total", "counter",
                  "Time clients spent waiting in backend queues",
                  static_cast<double>(s.stats.get(Counter::queue_wait_milliseconds_total)) / 1e3);
  w.family("sessions_closed_total", "counter", "Sessions ended, by close reason");
  for (std::size_t i = 0; i < static_cast<std::size_t>(CloseReason::count); ++i) {
    const auto reason = static_cast<CloseReason>(i);
    w.sample("sessions_closed_total", label("reason", to_string(reason)), s.stats.closed(reason));
  }
  w.single("sessions_active", "gauge", "Sessions open now", s.sessions_active);
}

void write_listeners_and_servers(Writer& w, const MetricsSnapshot& s) {
  w.family("listener_bytes_total", "counter",
           "Payload bytes of ended sessions, by listener and direction");
  for (const auto& l : s.listeners)
    write_bytes(w, "listener_bytes_total", label("listener", l.listener), l.bytes);
  w.family("listener_connection_rate_rejects_total", "counter",
           "Clients closed over max_connection_rate, by listener");
  for (const auto& l : s.listeners)
    w.sample("listener_connection_rate_rejects_total", label("listener", l.listener),
             l.rate_limited);
  w.family("server_bytes_total", "counter",
           "Payload bytes of ended sessions, by backend server and direction");
  for (const auto& server : s.servers)
    write_bytes(w, "server_bytes_total", server_labels(server), server.bytes);
  const auto each_server = [&](std::string_view name, std::string_view type, std::string_view help,
                               auto value) {
    w.family(name, type, help);
    for (const auto& server : s.servers)
      w.sample(name, server_labels(server), value(server));
  };
  each_server("server_connect_attempts_total", "counter", "Connections attempted to the server",
              [](const ServerFigures& f) { return f.connect_attempts; });
  each_server("server_connect_failures_total", "counter",
              "Connections to the server refused, failed or timed out",
              [](const ServerFigures& f) { return f.connect_failures; });
  each_server("server_healthy", "gauge", "1 when the server may be picked (not ejected, not down)",
              [](const ServerFigures& f) { return std::uint64_t{f.healthy ? 1u : 0u}; });
  each_server("server_active_connections", "gauge", "Sessions using the server now",
              [](const ServerFigures& f) { return f.active; });
  each_server("server_weight", "gauge", "Weight in force (the admin API's when set)",
              [](const ServerFigures& f) { return f.weight; });
  w.family("server_state", "gauge", "1 for the server's admin state: enabled, drain or disabled");
  for (const auto& server : s.servers) {
    for (const char* state : {"enabled", "drain", "disabled"})
      w.sample("server_state", server_labels(server) + "," + label("state", state),
               std::uint64_t{server.state == state ? 1u : 0u});
  }
}

void write_backends(Writer& w, const MetricsSnapshot& s) {
  const auto each_backend = [&](std::string_view name, std::string_view help, auto value) {
    w.family(name, "gauge", help);
    for (const auto& b : s.backends)
      w.sample(name, label("backend", b.backend), value(b));
  };
  each_backend("backend_servers", "Servers in the backend's pool now",
               [](const BackendFigures& b) { return b.servers; });
  each_backend("backend_queue_length", "Clients waiting for a free server now",
               [](const BackendFigures& b) { return b.queued; });
  const auto each_name = [&](std::string_view name, std::string_view help, auto value) {
    w.family(name, "gauge", help);
    for (const auto& d : s.discovery)
      w.sample(name, label("backend", d.backend) + "," + label("name", d.name), value(d));
  };
  each_name("dns_name_stale", "1 while a name's servers are held over after bad answers",
            [](const DiscoveryFigures& d) { return std::uint64_t{d.stale ? 1u : 0u}; });
  each_name("dns_name_servers", "Servers a DNS name expands to now",
            [](const DiscoveryFigures& d) { return d.servers; });
}

void write_mirrors(Writer& w, const MetricsSnapshot& s) {
  const auto each_mirror = [&](std::string_view name, std::string_view help, auto value) {
    w.family(name, "counter", help);
    for (const auto& m : s.mirrors)
      w.sample(name, label("mirror", m.mirror), value(m));
  };
  each_mirror("mirror_sink_bytes_total", "Payload bytes a mirror sink delivered",
              [](const MirrorFigures& m) { return m.bytes; });
  each_mirror("mirror_sink_dropped_bytes_total", "Payload bytes a mirror sink lost",
              [](const MirrorFigures& m) { return m.dropped_bytes; });
  each_mirror("mirror_sink_gaps_total", "Runs of payload bytes a mirror sink lost",
              [](const MirrorFigures& m) { return m.gaps; });
}

void write_tls_routes(Writer& w, const MetricsSnapshot& s) {
  w.family("tls_route_sessions_total", "counter",
           "Ended sessions by the TLS routing rule that chose their backend");
  for (const auto& r : s.tls_routes) {
    w.sample("tls_route_sessions_total",
             label("listener", r.listener) + "," + label("route", r.route), r.sessions);
  }
}

void write_process(Writer& w, const MetricsSnapshot& s) {
  w.single("pipes_in_use", "gauge", "Pipes held by channels now", s.pipes_in_use);
  w.single("pipes_pooled", "gauge", "Empty pipes kept for reuse", s.pipes_pooled);
  w.single("pipe_size_bytes", "gauge", "Capacity the kernel granted each pipe", s.pipe_size_bytes);
  w.single("access_log_lines_total", "counter", "Access log lines queued for writing",
           s.access_log_lines);
  w.single("access_log_dropped_total", "counter",
           "Access log lines dropped: the output fell behind or failed", s.access_log_dropped);
  // Reload successes and failures are counters of Stats (config_reloads_total,
  // config_reloads_failed_total).
  w.single("config_generation", "gauge", "Configurations loaded so far (1 at start)",
           s.config_generation);
}

}  // namespace

std::string render_metrics(const MetricsSnapshot& snapshot) {
  Writer w;
  write_sessions(w, snapshot);
  write_listeners_and_servers(w, snapshot);
  write_backends(w, snapshot);
  write_mirrors(w, snapshot);
  write_tls_routes(w, snapshot);
  write_process(w, snapshot);
  return w.take();
}

void SessionTotals::add(const SessionRecord& record) {
  const std::lock_guard lock(mutex_);
  if (record.reason == CloseReason::rate_limited) ++rate_limited_[record.listener];
  ByteCounts& l = listeners_[record.listener];
  l.client_to_backend += record.bytes_client_to_backend;
  l.backend_to_client += record.bytes_backend_to_client;
  if (!record.tls_route.empty()) ++tls_routes_[{record.listener, record.tls_route}];
  if (!record.server) return;
  ByteCounts& s = servers_[{record.backend, record.server_name}];
  s.client_to_backend += record.bytes_client_to_backend;
  s.backend_to_client += record.bytes_backend_to_client;
}

ByteCounts SessionTotals::listener(const std::string& name) const {
  const std::lock_guard lock(mutex_);
  const auto it = listeners_.find(name);
  return it == listeners_.end() ? ByteCounts{} : it->second;
}

std::uint64_t SessionTotals::rate_limited(const std::string& listener) const {
  const std::lock_guard lock(mutex_);
  const auto it = rate_limited_.find(listener);
  return it == rate_limited_.end() ? 0 : it->second;
}

ByteCounts SessionTotals::server(const std::string& backend, const std::string& server) const {
  const std::lock_guard lock(mutex_);
  const auto it = servers_.find({backend, server});
  return it == servers_.end() ? ByteCounts{} : it->second;
}

std::vector<TlsRouteFigures> SessionTotals::tls_routes() const {
  const std::lock_guard lock(mutex_);
  std::vector<TlsRouteFigures> out;
  for (const auto& [key, sessions] : tls_routes_)
    out.push_back({key.first, key.second, sessions});
  return out;
}

}  // namespace spliceproxy
