// ReplayOptions: argument parsing, duration and time values, target and endpoint forms.
#include "tools/replay/replay_options.hpp"

#include <arpa/inet.h>
#include <netdb.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <map>

namespace spliceproxy::replay {

const char* const kUsage =
    "usage: spliceproxy-replay CAPTURE... --target HOST:PORT [options]\n"
    "  Sends each captured flow's client-to-backend bytes to HOST:PORT on its own connection\n"
    "  and compares the replies with the captured backend-to-client bytes.\n"
    "  --speed X             captured pace times X (default 1; 0: as fast as possible)\n"
    "  --concurrency N       flows replayed at once (default 16)\n"
    "  --allow-gaps          send flows with bytes missing from the capture up to the first gap\n"
    "  --backend ADDR        only flows to this backend (HOST:PORT or HOST); repeatable\n"
    "  --client ADDR         only flows from this client (HOST:PORT or HOST); repeatable\n"
    "  --from T, --until T   only flows that started in [T, T'): seconds since the epoch,\n"
    "                        or +SECONDS since the capture's first packet\n"
    "  --report FILE         one JSON line per flow\n"
    "  --connect-timeout D   per connection (default 5s); D is 2s, 500ms or seconds\n"
    "  --idle-timeout D      how long a silent target is waited for after the last byte\n"
    "                        sent (default 2s)\n"
    "  --copy                send with pread+send instead of sendfile from the spool\n"
    "  --spool-dir DIR       where the extracted streams are kept (default $TMPDIR or /tmp)\n";

namespace {

double number(const std::string& option, const std::string& text) {
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || !std::isfinite(value) || value < 0)
    throw UsageError(option + ": expected a number >= 0, got \"" + text + "\"");
  return value;
}

std::chrono::milliseconds duration(const std::string& option, const std::string& text) {
  double scale = 1000;
  std::string digits = text;
  if (text.ends_with("ms")) {
    scale = 1;
    digits = text.substr(0, text.size() - 2);
  } else if (text.ends_with("s")) {
    digits = text.substr(0, text.size() - 1);
  }
  const double ms = number(option, digits) * scale;
  if (ms < 1) throw UsageError(option + ": expected at least 1ms, got \"" + text + "\"");
  return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

TimeBound time_bound(const std::string& option, const std::string& text) {
  const bool relative = text.starts_with("+");
  const double seconds = number(option, relative ? text.substr(1) : text);
  return {static_cast<std::int64_t>(seconds * 1e6), relative};
}

// "[v6]:port", "[v6]", "host:port", "host" or a bare IPv6 address into host and port text;
// returns whether there was a port.
bool split_host_port(const std::string& text, std::string& host, std::string& port) {
  port.clear();
  if (text.starts_with("[")) {
    const std::size_t close = text.find(']');
    host = text.substr(1, close == std::string::npos ? std::string::npos : close - 1);
    if (close == std::string::npos || close + 1 == text.size()) return false;
    if (text[close + 1] != ':') throw UsageError("\"" + text + "\": expected [IPV6]:PORT");
    port = text.substr(close + 2);
    return true;
  }
  const std::size_t colon = text.find(':');
  if (colon == std::string::npos || text.find(':', colon + 1) != std::string::npos) {
    host = text;  // no port, or a bare IPv6 address
    return false;
  }
  host = text.substr(0, colon);
  port = text.substr(colon + 1);
  return true;
}

}  // namespace

std::string canonical_endpoint(const std::string& text) {
  std::string host, port;
  const bool has_port = split_host_port(text, host, port);
  unsigned char ip[16];
  char out[INET6_ADDRSTRLEN];
  const bool v6 = ::inet_pton(AF_INET6, host.c_str(), ip) == 1;
  if (!v6 && ::inet_pton(AF_INET, host.c_str(), ip) != 1)
    throw UsageError("\"" + text + "\": expected an IP address, optionally with :PORT");
  ::inet_ntop(v6 ? AF_INET6 : AF_INET, ip, out, sizeof out);
  std::string canonical;  // appended: GCC 12 warns (-Wrestrict) about "[" + std::string
  if (v6) canonical += '[';
  canonical += out;
  if (v6) canonical += ']';
  if (!has_port) return canonical;
  const double p = number(text, port);
  if (p < 1 || p > 65535 || p != std::floor(p)) throw UsageError("\"" + text + "\": bad port");
  return canonical + ":" + std::to_string(static_cast<int>(p));
}

void resolve_target(const std::string& text, ReplayOptions& out) {
  std::string host, port;
  if (!split_host_port(text, host, port) || host.empty() || port.empty())
    throw UsageError("--target: expected HOST:PORT or [IPV6]:PORT, got \"" + text + "\"");
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const int error = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
  if (error != 0)
    throw UsageError("--target " + text + ": cannot resolve: " + ::gai_strerror(error));
  std::memcpy(&out.target, found->ai_addr, found->ai_addrlen);
  out.target_size = found->ai_addrlen;
  out.target_text = text;
  ::freeaddrinfo(found);
}

std::optional<ReplayOptions> parse_options(const std::vector<std::string>& args) {
  ReplayOptions o;
  using Setter = std::function<void(const std::string&)>;
  const std::map<std::string, Setter> with_value = {
      {"--target", [&](const std::string& v) { resolve_target(v, o); }},
      {"--speed", [&](const std::string& v) { o.speed = number("--speed", v); }},
      {"--concurrency",
       [&](const std::string& v) {
         const double n = number("--concurrency", v);
         if (n < 1 || n > 10000 || n != std::floor(n))
           throw UsageError("--concurrency: expected 1 to 10000, got \"" + v + "\"");
         o.concurrency = static_cast<unsigned>(n);
       }},
      {"--backend", [&](const std::string& v) { o.backends.push_back(canonical_endpoint(v)); }},
      {"--client", [&](const std::string& v) { o.clients.push_back(canonical_endpoint(v)); }},
      {"--from", [&](const std::string& v) { o.from = time_bound("--from", v); }},
      {"--until", [&](const std::string& v) { o.until = time_bound("--until", v); }},
      {"--report", [&](const std::string& v) { o.report_path = v; }},
      {"--connect-timeout",
       [&](const std::string& v) { o.connect_timeout = duration("--connect-timeout", v); }},
      {"--idle-timeout",
       [&](const std::string& v) { o.idle_timeout = duration("--idle-timeout", v); }},
      {"--spool-dir", [&](const std::string& v) { o.spool_dir = v; }},
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") return std::nullopt;
    if (arg == "--allow-gaps") {
      o.allow_gaps = true;
    } else if (arg == "--copy") {
      o.copy = true;
    } else if (const auto it = with_value.find(arg); it != with_value.end()) {
      if (i + 1 == args.size()) throw UsageError(arg + ": missing value");
      it->second(args[++i]);
    } else if (arg.starts_with("-") && arg != "-") {
      throw UsageError("unknown option \"" + arg + "\"");
    } else {
      o.captures.push_back(arg);
    }
  }
  if (o.captures.empty()) throw UsageError("no capture file given");
  if (o.target_size == 0) throw UsageError("--target HOST:PORT is required");
  return o;
}

}  // namespace spliceproxy::replay
