// The proxy's configuration as plain, immutable values.
//
// `load_config_file` parses a YAML file, validates every key and returns a
// `Config` with every default filled in; nothing outside config/ sees yaml-cpp.
// A bad file raises `ConfigError`, whose what() reads
//   proxy.yaml:12:5: backends[1].servers[0].address: expected host:port, got "x"
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace spliceproxy::config {

using Duration = std::chrono::milliseconds;

enum class LogLevel { debug, info, warn, error };
// `automatic` is spelled `auto` in the file.
enum class SpliceMode { splice, copy, automatic };
// PROXY protocol on a listener (accepted: off, v1, v2 or any) or a backend (sent: off, v1, v2).
enum class ProxyProtocol { off, v1, v2, any };

// Where to listen or connect: an IP literal or a hostname and a port, or a Unix socket path.
// `host` holds an IP address without brackets ("127.0.0.1", "::1") or a hostname (resolved
// when the proxy starts); `path` is set instead for "unix:/path". `to_string()` gives the
// config's text form back ("[::1]:80", "unix:/run/app.sock").
struct Address {
  std::string host;
  std::uint16_t port = 0;
  std::string path = {};  // non-empty: a Unix stream socket; host and port are then unused

  bool is_unix() const { return !path.empty(); }
  std::string to_string() const;

  friend bool operator==(const Address&, const Address&) = default;
};

struct Timeouts {
  Duration connect = std::chrono::seconds(5);
  Duration idle = std::chrono::minutes(5);
  // One side sent EOF and nothing moved either way for this long: the session is closed.
  Duration half_closed = std::chrono::minutes(1);
  // With proxy_protocol accepted: the whole header must arrive within this, from the accept.
  Duration proxy_header = std::chrono::seconds(5);
  // With tls_routes: the whole ClientHello must arrive within this, once the client is admitted.
  Duration client_hello = std::chrono::seconds(5);
  // Every server at its max_connections: how long a client may wait in the backend's queue
  // (backends[].max_queued) for a slot before it is closed (close reason queue_timeout).
  Duration queue = std::chrono::seconds(5);
  // A session open this long (plus a random share of max_lifetime_jitter) is closed, so that
  // long-lived clients reconnect and spread over a changed pool; 0 = no cap.
  Duration max_lifetime = Duration{0};
  Duration max_lifetime_jitter = Duration{0};

  friend bool operator==(const Timeouts&, const Timeouts&) = default;
};

// An address block, "10.0.0.0/8" or "::1/128"; `address` is 4 or 16 bytes in network order.
struct Cidr {
  std::vector<std::uint8_t> address;
  unsigned prefix = 0;

  std::string to_string() const;
  // Whether `ip` (4 or 16 bytes, network order) is inside the block; families never mix.
  bool contains(const std::uint8_t* ip, std::size_t size) const;

  friend bool operator==(const Cidr&, const Cidr&) = default;
};

// A mirror a listener feeds (see mirror.hpp): which one, which directions, which share of
// sessions (decided at accept).
enum class MirrorDirection { client_to_backend, backend_to_client, both };

struct MirrorRef {
  std::string mirror;  // name of an entry of Config::mirrors (checked at load)
  MirrorDirection direction = MirrorDirection::both;
  double sample = 1.0;  // 0.0 to 1.0

  friend bool operator==(const MirrorRef&, const MirrorRef&) = default;
};

// A rule of a listener's `tls_routes` (tls_schema.cpp): the hellos it takes, and their backend.
struct TlsRoute {
  std::string name;  // metrics label; default: its first server name or ALPN id
  std::vector<std::string> server_names;  // "api.example.com" or "*.example.com", lower case
  std::vector<std::string> alpn;          // the hello must offer one of these; empty: any
  std::string backend;                    // name of an entry of Config::backends

  friend bool operator==(const TlsRoute&, const TlsRoute&) = default;
};

// A rate: `count` events (connections) per `period`, up to `burst` at once. count 0: no limit.
struct Rate {
  std::uint64_t count = 0;
  Duration period = std::chrono::seconds(1);
  std::uint64_t burst = 0;  // defaults to count

  bool limited() const { return count != 0; }
  friend bool operator==(const Rate&, const Rate&) = default;
};

// What happens to a client over a listener's connection rate: closed at once (RST), or left in
// the backlog until a token frees. A client over its source's rate is always closed.
enum class OverLimit { close, wait };

struct ConnectionRateLimit {
  Rate listener;    // every client of the listener, over all workers
  Rate per_source;  // each client IP
  OverLimit over_limit = OverLimit::close;

  bool limited() const { return listener.limited() || per_source.limited(); }
  friend bool operator==(const ConnectionRateLimit&, const ConnectionRateLimit&) = default;
};

// Bytes per second in each direction; 0: no cap.
struct BandwidthCaps {
  std::uint64_t client_to_backend = 0;
  std::uint64_t backend_to_client = 0;

  bool capped() const { return client_to_backend != 0 || backend_to_client != 0; }
  friend bool operator==(const BandwidthCaps&, const BandwidthCaps&) = default;
};

// `session`: each session's own cap; `listener`: one cap shared by all the listener's sessions.
struct Bandwidth {
  BandwidthCaps session;
  BandwidthCaps listener;

  friend bool operator==(const Bandwidth&, const Bandwidth&) = default;
};

struct Listener {
  std::string name;
  Address listen;
  std::string backend;  // name of an entry of Config::backends (checked at load)
  Timeouts timeouts;
  // Pools and limits (backend_schema.cpp).
  unsigned socket_mode = 0660;                 // permissions of a Unix listening socket file
  std::size_t max_connections = 0;             // live sessions; 0 = unlimited
  std::size_t max_connections_per_source = 0;  // live sessions per client IP; 0 = unlimited
  std::vector<Cidr> allow = {};                // empty = every source allowed
  std::vector<Cidr> deny = {};
  ConnectionRateLimit max_connection_rate = {};  // limits_schema.cpp
  Bandwidth bandwidth = {};
  std::vector<MirrorRef> mirrors = {};  // the mirrors this listener feeds
  // Header each client must send first (proxy_header_reader.hpp); off: none is read.
  ProxyProtocol proxy_protocol = ProxyProtocol::off;
  // Non-empty: each client is routed by its TLS ClientHello, first matching rule first;
  // `backend` takes hellos no rule matches. `not_tls`: backend for clients that do not speak
  // TLS; empty: they are closed.
  std::vector<TlsRoute> tls_routes = {};
  std::string not_tls = {};

  friend bool operator==(const Listener&, const Listener&) = default;
};

// How a server entry becomes servers (proxy/upstream/discovery.hpp): `none`, one server at its
// address (a hostname resolved once, at start); `dns` (`resolve: true`), one server per A and
// AAAA address of the hostname, followed as it changes; `srv` (`srv: _svc._tcp.name`), one
// server per SRV record of the lowest priority, with its target, port and weight.
enum class ServerDiscovery { none, dns, srv };

struct Server {
  Address address;                  // srv: `host` holds the SRV name and `port` is 0
  unsigned weight = 1;              // 1..256, share of round_robin picks
  std::size_t max_connections = 0;  // live sessions on this server; 0 = unlimited
  ServerDiscovery discovery = ServerDiscovery::none;

  // The entry as the config names it: "app:80", or the SRV name.
  std::string origin() const {
    return discovery == ServerDiscovery::srv ? address.host : address.to_string();
  }

  friend bool operator==(const Server&, const Server&) = default;
};

// DNS discovery of a backend's `resolve: true` and `srv` entries: re-resolved after the
// answer's TTL, kept within [min_interval, max_interval]; a failed lookup (timeout, SERVFAIL,
// refused) keeps the last good set for `hold`, and so does NXDOMAIN or an empty answer before
// it empties the set. `nameservers` empty: those of /etc/resolv.conf.
struct Resolve {
  Duration min_interval = std::chrono::seconds(1);
  Duration max_interval = std::chrono::seconds(30);
  Duration hold = std::chrono::seconds(30);
  Duration timeout = std::chrono::seconds(2);  // one lookup, retries included
  std::vector<Address> nameservers = {};       // IP literals with ports

  friend bool operator==(const Resolve&, const Resolve&) = default;
};

enum class BalancePolicy { round_robin, least_connections, random, source_hash };

// Passive health: connect failures in a row that eject a server, and for how long.
struct Ejection {
  unsigned consecutive_failures = 3;        // 0 = never eject
  Duration base = std::chrono::seconds(1);  // first ejection; doubles while it keeps failing
  Duration max = std::chrono::seconds(30);  // cap of the doubling

  friend bool operator==(const Ejection&, const Ejection&) = default;
};

// Active health: a connect (optionally a request and a reply prefix) every `interval`.
struct HealthCheck {
  bool enabled = false;
  Duration interval = std::chrono::seconds(2);
  Duration timeout = std::chrono::seconds(1);
  Duration jitter = std::chrono::milliseconds(0);  // up to this much added to each interval
  unsigned rise = 2;                               // passes in a row that mark a server up
  unsigned fall = 3;                               // failures in a row that mark it down
  std::string send;                                // bytes sent after connecting, may be empty
  std::string expect;                              // reply prefix required, may be empty

  friend bool operator==(const HealthCheck&, const HealthCheck&) = default;
};

struct Backend {
  std::string name;
  std::vector<Server> servers;  // never empty
  BalancePolicy balance = BalancePolicy::round_robin;
  unsigned max_connect_attempts = 3;  // per session, each on a different server when possible
  Ejection ejection = {};
  HealthCheck health_check = {};
  // Header written to each server before the client's bytes (never any).
  ProxyProtocol proxy_protocol = ProxyProtocol::off;
  Resolve resolve = {};  // the top-level `resolve`, overridden key by key
  // Clients that may wait for a slot when every server is at its max_connections; 0 = none
  // wait (closed at once, as no_server).
  std::size_t max_queued = 0;

  // Whether some server entry is discovered by DNS.
  bool discovers() const;

  friend bool operator==(const Backend&, const Backend&) = default;
};

struct SpliceSettings {
  SpliceMode mode = SpliceMode::automatic;
  std::size_t pipe_size = 1024 * 1024;  // bytes asked of F_SETPIPE_SZ

  friend bool operator==(const SpliceSettings&, const SpliceSettings&) = default;
};

// `access`: where the access log (one JSON line per session) goes: "stdout", "off" or the path of
// a file opened for appending.
struct LogSettings {
  LogLevel level = LogLevel::info;
  std::string access = "stdout";

  friend bool operator==(const LogSettings&, const LogSettings&) = default;
};

// The admin HTTP endpoint (/metrics, /healthz, /readyz, /config): off unless the config has an
// `admin` section; `listen` is a TCP address, loopback unless the user says otherwise.
// `token_file`: a file holding the bearer token the runtime API (POST /servers/...) requires;
// without one, that API answers only on a loopback address.
struct AdminSettings {
  bool enabled = false;
  Address listen{"127.0.0.1", 9901};
  std::string token_file = {};

  friend bool operator==(const AdminSettings&, const AdminSettings&) = default;
};

enum class MirrorType { pcapng_file, pcapng_tcp, shadow };

// A named mirror sink: a pcapng capture file (rotated by size), a live pcapng stream to a
// TCP address, or a shadow server that gets a raw copy of the client's bytes.
struct Mirror {
  std::string name;
  MirrorType type = MirrorType::pcapng_file;
  std::string path;          // pcapng_file
  std::size_t max_size = 0;  // pcapng_file: rotate past this size; 0 = never
  unsigned keep = 5;         // pcapng_file: rotated files kept besides the current one
  Address address;           // pcapng_tcp, shadow

  friend bool operator==(const Mirror&, const Mirror&) = default;
};

struct Config {
  std::string source;  // file the config came from, for messages
  unsigned workers = 1;
  // After a round that handled events, how long a worker polls again without sleeping before
  // it blocks (lower latency at low load, for a core that spins meanwhile); 0 = off.
  std::chrono::microseconds busy_poll{0};
  // On SIGTERM/SIGINT, how long live sessions may go on before they are closed; 0 = at once.
  // 25s: ends before the 30s a container runtime (Kubernetes' default grace period) waits
  // before SIGKILL, so the proxy closes the rest itself and logs what it cut.
  Duration drain_timeout = std::chrono::seconds(25);
  LogSettings log;
  AdminSettings admin;
  SpliceSettings splice;
  Resolve resolve;                  // defaults of backends[].resolve
  std::vector<Listener> listeners;  // never empty
  std::vector<Backend> backends;
  std::vector<Mirror> mirrors;

  // The backend a listener refers to; load guarantees it exists.
  const Backend& backend_of(const Listener& listener) const;

  // Member-wise, `source` included (a reload can compare snapshots).
  friend bool operator==(const Config&, const Config&) = default;
};

using ConfigPtr = std::shared_ptr<const Config>;

// A config that cannot be used. what() is the full one-line message.
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string file, int line, int column, std::string path, std::string message);

  const std::string& file() const { return file_; }
  int line() const { return line_; }                 // 1-based; 0 when the error has no position
  int column() const { return column_; }             // 1-based; 0 when the error has no position
  const std::string& path() const { return path_; }  // "listeners[0].timeouts.idle"

 private:
  std::string file_;
  int line_;
  int column_;
  std::string path_;
};

// Reads, parses and validates `path`. Throws ConfigError (also for an unreadable file).
Config load_config_file(const std::string& path);

// Same as load_config_file for text already in memory; `source_name` stands for the file name.
Config load_config_string(std::string_view yaml, const std::string& source_name);

// The effective configuration, every default filled in, as YAML that loads back to the same Config.
std::string to_yaml(const Config& config);

// The same effective configuration as one JSON object (to_yaml's document, converted): quoted
// scalars are strings, plain integers and booleans keep their type. No key holds a secret.
std::string to_json(const Config& config);

std::string_view to_string(LogLevel level);
std::string_view to_string(SpliceMode mode);
std::string_view to_string(BalancePolicy policy);
std::string_view to_string(MirrorType type);
std::string_view to_string(MirrorDirection direction);
std::string_view to_string(ProxyProtocol mode);
std::string_view to_string(OverLimit over_limit);
std::string_view to_string(ServerDiscovery discovery);

}  // namespace spliceproxy::config
