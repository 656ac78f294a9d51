// Metrics: a plain snapshot of everything /metrics reports, its rendering in the Prometheus text
// exposition format 0.0.4, and SessionTotals, the per-listener and per-server byte totals that
// sessions add to when they end.
//
// The snapshot is filled by the Server (server_status.cpp) and rendered here by a pure function,
// so the format is tested without a running proxy.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "proxy/base/stats.hpp"
#include "proxy/ops/session_record.hpp"

namespace spliceproxy {

// Payload bytes in each direction.
struct ByteCounts {
  std::uint64_t client_to_backend = 0;
  std::uint64_t backend_to_client = 0;
};

struct ListenerFigures {
  std::string listener;
  ByteCounts bytes;                // of sessions that ended
  std::uint64_t rate_limited = 0;  // clients closed over max_connection_rate
};

struct ServerFigures {
  std::string backend;
  std::string server;   // as the config names it
  bool healthy = true;  // not ejected and not marked down by health checks
  std::uint64_t active = 0;
  std::uint64_t connect_attempts = 0;
  std::uint64_t connect_failures = 0;
  ByteCounts bytes;               // of sessions that ended
  std::uint64_t weight = 1;       // in force (the admin API's, if set)
  std::string state = "enabled";  // enabled, drain or disabled (admin API)
};

// A backend's queue and the DNS names it follows.
struct BackendFigures {
  std::string backend;
  std::uint64_t servers = 0;  // in the pool now
  std::uint64_t queued = 0;   // clients waiting for a free server now
};

struct DiscoveryFigures {
  std::string backend;
  std::string name;    // the config entry (hostname:port or SRV name)
  bool stale = false;  // holding its servers over after bad answers
  std::uint64_t servers = 0;
};

// Sessions a listener's tls_routes rule (or "default", "not_tls") routed, counted at their end.
struct TlsRouteFigures {
  std::string listener;
  std::string route;
  std::uint64_t sessions = 0;
};

struct MirrorFigures {
  std::string mirror;
  std::uint64_t bytes = 0;
  std::uint64_t dropped_bytes = 0;
  std::uint64_t gaps = 0;
};

struct MetricsSnapshot {
  Stats stats;  // summed over workers
  std::uint64_t sessions_active = 0;
  std::vector<ListenerFigures> listeners;
  std::vector<ServerFigures> servers;
  std::vector<MirrorFigures> mirrors;
  std::vector<TlsRouteFigures> tls_routes;
  std::vector<BackendFigures> backends;
  std::vector<DiscoveryFigures> discovery;
  std::uint64_t pipes_in_use = 0;
  std::uint64_t pipes_pooled = 0;
  std::uint64_t pipe_size_bytes = 0;  // what F_SETPIPE_SZ granted at start
  std::uint64_t access_log_lines = 0;
  std::uint64_t access_log_dropped = 0;
  std::uint64_t config_generation = 1;  // 1 for the config loaded at start
};

// The snapshot as Prometheus text (format 0.0.4): every family with # HELP and # TYPE, names
// prefixed `spliceproxy_`, label values escaped.
std::string render_metrics(const MetricsSnapshot& snapshot);

// Bytes of ended sessions per listener and per (backend, server). Thread-safe: add() takes a
// mutex, once per session end, never per chunk.
class SessionTotals {
 public:
  void add(const SessionRecord& record);
  ByteCounts listener(const std::string& name) const;
  ByteCounts server(const std::string& backend, const std::string& server) const;
  std::vector<TlsRouteFigures> tls_routes() const;
  // Clients of the listener closed over max_connection_rate (records with that reason).
  std::uint64_t rate_limited(const std::string& listener) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, ByteCounts, std::less<>> listeners_;
  std::map<std::pair<std::string, std::string>, ByteCounts> servers_;
  std::map<std::pair<std::string, std::string>, std::uint64_t> tls_routes_;
  std::map<std::string, std::uint64_t, std::less<>> rate_limited_;
};

}  // namespace spliceproxy
