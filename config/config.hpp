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
enum class SpliceMode { splice, copy };

// An IP literal and a port. `host` holds the address without brackets
// ("127.0.0.1", "::1"); `to_string()` puts IPv6 in brackets.
struct Address {
  std::string host;
  std::uint16_t port = 0;

  std::string to_string() const;

  friend bool operator==(const Address&, const Address&) = default;
};

struct Timeouts {
  Duration connect = std::chrono::seconds(5);
  Duration idle = std::chrono::minutes(5);

  friend bool operator==(const Timeouts&, const Timeouts&) = default;
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

struct Listener {
  std::string name;
  Address listen;
  std::string backend;  // name of an entry of Config::backends (checked at load)
  Timeouts timeouts;
  std::vector<MirrorRef> mirrors;

  friend bool operator==(const Listener&, const Listener&) = default;
};

struct Server {
  Address address;

  friend bool operator==(const Server&, const Server&) = default;
};

struct Backend {
  std::string name;
  std::vector<Server> servers;  // never empty

  friend bool operator==(const Backend&, const Backend&) = default;
};

struct SpliceSettings {
  SpliceMode mode = SpliceMode::splice;
  std::size_t pipe_size = 1024 * 1024;  // bytes asked of F_SETPIPE_SZ

  friend bool operator==(const SpliceSettings&, const SpliceSettings&) = default;
};

struct LogSettings {
  LogLevel level = LogLevel::info;

  friend bool operator==(const LogSettings&, const LogSettings&) = default;
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
  LogSettings log;
  SpliceSettings splice;
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

std::string_view to_string(LogLevel level);
std::string_view to_string(SpliceMode mode);
std::string_view to_string(MirrorType type);
std::string_view to_string(MirrorDirection direction);

}  // namespace spliceproxy::config
