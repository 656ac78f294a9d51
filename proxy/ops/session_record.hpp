// SessionRecord: what is known about a session when it ends — the input of the access log and
// of the per-listener and per-server byte totals. SessionReporter receives each record; the
// Worker holds one (set by the Server) and Session::stop() hands it the record.
//
// Called on worker threads, concurrently when there are several: implementations are
// thread-safe. Session end is not the data path: a short lock there is fine.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "proxy/base/stats.hpp"

namespace spliceproxy {

// Which side ended the session first: the client (EOF or error on its side), the backend, or
// the proxy itself (timeouts, connect failures, shutdown).
enum class ClosedBy { client, backend, proxy };

struct SessionRecord {
  std::uint64_t id = 0;
  std::chrono::system_clock::time_point start{};
  std::chrono::milliseconds duration{0};
  std::string client;                 // "127.0.0.1:50000", "[::1]:50000", "unix:"
  std::optional<std::string> server;  // backend server address; nullopt if never connected
  std::string server_name;            // the server as the config names it (metrics label)
  std::string listener;
  std::string backend;
  std::uint64_t bytes_client_to_backend = 0;
  std::uint64_t bytes_backend_to_client = 0;
  ClosedBy closed_by = ClosedBy::proxy;
  CloseReason reason = CloseReason::completed;
  unsigned connect_attempts = 0;
  std::optional<std::uint64_t> mirror_dropped_bytes;  // nullopt when not mirrored
  // On a listener with tls_routes: the hello's server name (nullopt: none, or no hello), and
  // the rule that routed the session ("default", "not_tls"; empty: not routed).
  std::optional<std::string> sni;
  std::string tls_route;
};

std::string_view to_string(ClosedBy closed_by);

// HAProxy-style two-letter termination state (its %ts): who or what ended the session (C client,
// S server, c client-side timeout, s server-side timeout, K killed by shutdown, - normal), then
// in which phase (C connecting to a server, D data, - normal end).
std::string_view termination_code(const SessionRecord& record);

class SessionReporter {
 public:
  virtual ~SessionReporter() = default;
  // One session ended. Thread-safe; must not block on output.
  virtual void session_ended(const SessionRecord& record) = 0;
};

}  // namespace spliceproxy
