// Stats: the counters of one worker. All counters of the proxy are listed once, in the
// X-macro below; a worker increments its own Stats without locks and they are summed when
// reported.
//
// Threads: each Stats has one writer (its worker's thread, or the control thread for the
// control's own Stats) and any number of readers. A counter is a relaxed atomic the writer
// bumps with a load and a store, not a read-modify-write: on x86 that is a plain add, and a
// reader on another thread sees each value whole (TSan-clean), perhaps a little late.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace spliceproxy {

// X(name, help)
#define SPLICEPROXY_COUNTERS(X)                                                                \
  X(sessions_accepted_total, "Client connections accepted")                                    \
  X(connect_attempts_total, "Connections attempted to backend servers")                        \
  X(connect_failures_total, "Backend connections refused, failed or timed out")                \
  X(bytes_client_to_backend_total, "Payload bytes forwarded from clients to backends")         \
  X(bytes_backend_to_client_total, "Payload bytes forwarded from backends to clients")         \
  X(bytes_spliced_total, "Payload bytes moved through pipes with splice(2)")                   \
  X(bytes_copied_total, "Payload bytes moved through a user-space buffer")                     \
  X(splice_fallbacks_total, "Channels that fell back from splice to copying")                  \
  X(pipes_created_total, "Pipes created for the pipe pool")                                    \
  X(accept_errors_total, "Failed accept(2) calls")                                             \
  /* backend pools and listener limits */                                                      \
  X(connect_retries_total, "Connect attempts retried on another server")                       \
  X(servers_ejected_total, "Servers ejected after connect failures in a row")                  \
  X(health_check_transitions_total, "Servers marked up or down by health checks")              \
  X(no_server_total, "Sessions closed because no server could be connected")                   \
  X(acl_denied_total, "Clients closed by a listener's allow/deny lists")                       \
  X(source_limit_rejects_total, "Clients closed at max_connections_per_source")                \
  X(listener_pauses_total, "Times a listener stopped accepting at max_connections")            \
  /* rate and bandwidth limits */                                                              \
  X(connection_rate_rejects_total, "Clients closed over a max_connection_rate")                \
  X(connection_rate_waits_total,                                                               \
    "Times a listener left clients in the backlog for a "                                      \
    "max_connection_rate token")                                                               \
  X(bandwidth_waits_total, "Times a capped channel waited for bandwidth tokens")               \
  X(bandwidth_wait_microseconds_total, "Time capped channels spent waiting for tokens")        \
  /* DNS discovery, runtime changes, the queue (counted by the discovery thread or workers) */ \
  X(dns_lookups_ok_total, "DNS lookups of discovered servers that gave servers")               \
  X(dns_lookups_failed_total, "DNS lookups that failed (timeout, SERVFAIL, refused)")          \
  X(dns_lookups_no_record_total, "DNS lookups answered NXDOMAIN or with no record")            \
  X(dns_lookups_bad_answer_total, "DNS lookups answered with a malformed or huge reply")       \
  X(servers_added_total, "Servers that joined a pool after a DNS answer")                      \
  X(servers_removed_total, "Servers that left a pool after a DNS answer or a hold")            \
  X(backend_empty_rejects_total, "Clients refused because their backend had no server")        \
  X(queue_entered_total, "Clients that waited in a backend's queue for a free server")         \
  X(queue_full_rejects_total, "Clients refused because the backend's queue was full")          \
  X(queue_wait_milliseconds_total, "Time clients spent waiting in backend queues")             \
  /* traffic mirroring */                                                                      \
  X(mirror_bytes_total, "Payload bytes handed to mirror sinks (tee or write)")                 \
  X(mirror_dropped_bytes_total, "Mirror payload bytes dropped (a sink fell behind)")           \
  X(mirror_gaps_total, "Runs of dropped mirror bytes, each a gap in a capture")                \
  /* operations (counted on the control thread) */                                             \
  X(config_reloads_total, "SIGHUP reloads that switched to the new config")                    \
  X(config_reloads_failed_total, "SIGHUP reloads refused; the old config kept serving")        \
  /* PROXY protocol */                                                                         \
  X(proxy_protocol_headers_total, "PROXY protocol headers read from clients")                  \
  X(proxy_protocol_errors_total, "Clients closed for a bad or missing PROXY header")           \
  X(proxy_protocol_timeouts_total, "Of those, clients whose header came too late")             \
  X(proxy_protocol_sent_total, "PROXY protocol headers written to backend servers")            \
  /* TLS routing */                                                                            \
  X(tls_client_hellos_total, "TLS ClientHellos read from clients")                             \
  X(tls_client_hello_errors_total, "Clients closed for a bad or missing hello")                \
  X(tls_client_hello_timeouts_total, "Of those, clients whose hello came too late")            \
  X(tls_not_tls_total, "Clients of a TLS-routing listener that sent no TLS")

// Why a session ended. X(name)
#define SPLICEPROXY_CLOSE_REASONS(X) \
  X(completed)                       \
  X(connect_failed)                  \
  X(connect_timeout)                 \
  X(idle_timeout)                    \
  X(client_error)                    \
  X(backend_error)                   \
  X(shutdown)                        \
  X(denied)                          \
  X(proxy_protocol_error)            \
  X(half_closed_timeout)             \
  X(client_hello_timeout)            \
  X(client_hello_error)              \
  X(not_tls)                         \
  X(rate_limited)                    \
  X(no_server)                       \
  X(queue_timeout)                   \
  X(max_lifetime)

enum class Counter {
#define SPLICEPROXY_ENUM(name, help) name,
  SPLICEPROXY_COUNTERS(SPLICEPROXY_ENUM)
#undef SPLICEPROXY_ENUM
      count
};

enum class CloseReason {
#define SPLICEPROXY_ENUM(name) name,
  SPLICEPROXY_CLOSE_REASONS(SPLICEPROXY_ENUM)
#undef SPLICEPROXY_ENUM
      count
};

std::string_view to_string(Counter counter);
std::string_view to_string(CloseReason reason);

// A counter with one writer thread: add() is not atomic against another writer.
class SingleWriterCounter {
 public:
  SingleWriterCounter() = default;
  SingleWriterCounter(const SingleWriterCounter& other) : value_(other.load()) {}
  SingleWriterCounter& operator=(const SingleWriterCounter& other) {
    value_.store(other.load(), std::memory_order_relaxed);
    return *this;
  }

  void add(std::uint64_t n) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::uint64_t load() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// Written by one thread (see above); copied or summed from any thread.
struct Stats {
  std::array<SingleWriterCounter, static_cast<std::size_t>(Counter::count)> counters{};
  std::array<SingleWriterCounter, static_cast<std::size_t>(CloseReason::count)> sessions_closed{};

  void add(Counter counter, std::uint64_t n = 1) {
    counters[static_cast<std::size_t>(counter)].add(n);
  }
  std::uint64_t get(Counter counter) const {
    return counters[static_cast<std::size_t>(counter)].load();
  }
  void count_close(CloseReason reason) { sessions_closed[static_cast<std::size_t>(reason)].add(1); }
  std::uint64_t closed(CloseReason reason) const {
    return sessions_closed[static_cast<std::size_t>(reason)].load();
  }

  // Adds `other` (read from any thread) into this one: the caller must be this one's writer,
  // or own it (a sum being built).
  Stats& operator+=(const Stats& other);

  // One line of `name=value` pairs, closes as `sessions_closed_total{reason="..."}=N`.
  std::string summary() const;
};

}  // namespace spliceproxy
