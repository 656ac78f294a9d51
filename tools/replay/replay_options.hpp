// ReplayOptions: the command line of spliceproxy-replay, parsed and checked.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace spliceproxy::replay {

// A command line that cannot be used; what() says which argument and why.
struct UsageError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// A bound of the time window: seconds since the epoch, or (relative) since the capture's first
// packet.
struct TimeBound {
  std::int64_t us = 0;
  bool relative = false;
};

struct ReplayOptions {
  std::vector<std::string> captures;
  std::string target_text;  // as given
  sockaddr_storage target{};
  socklen_t target_size = 0;
  double speed = 1.0;  // 0: as fast as possible
  unsigned concurrency = 16;
  bool allow_gaps = false;
  std::vector<std::string> backends;  // keep flows to these backend endpoints (empty: all)
  std::vector<std::string> clients;   // keep flows from these client endpoints or hosts
  std::optional<TimeBound> from;      // keep flows that started at or after this
  std::optional<TimeBound> until;     // and before this
  std::string report_path;            // JSON lines, one per selected flow
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds idle_timeout{2000};  // target silent this long after our last byte
  bool copy = false;                             // send with pread+send instead of sendfile
  std::string spool_dir;
};

// The usage text printed for --help and after a UsageError.
extern const char* const kUsage;

// Parses argv (without the program name). Returns nullopt for --help. Throws UsageError.
std::optional<ReplayOptions> parse_options(const std::vector<std::string>& args);

// "127.0.0.1:80", "[::1]:80" or "host:80" (resolved now) into `out`; throws UsageError.
void resolve_target(const std::string& text, ReplayOptions& out);

// An endpoint as the capture prints it ("127.0.0.1:80", "[::1]:80"), or a bare host that
// matches every port; throws UsageError for anything else.
std::string canonical_endpoint(const std::string& text);

}  // namespace spliceproxy::replay
