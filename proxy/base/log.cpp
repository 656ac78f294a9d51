// Log: level filter and line formatting.
#include "proxy/base/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace spliceproxy::log {
namespace {

std::atomic<Level> current_level{Level::info};

}  // namespace

void set_level(Level level) {
  current_level.store(level, std::memory_order_relaxed);
}

bool enabled(Level level) {
  return static_cast<int>(level) >= static_cast<int>(current_level.load(std::memory_order_relaxed));
}

void write(Level level, std::string_view message) {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const std::time_t seconds = system_clock::to_time_t(now);
  const auto millis = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
  // One fwrite per line keeps lines whole when several threads log.
  const std::string line =
      fmt::format("{}.{:03}Z {} {}\n", stamp, millis, config::to_string(level), message);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace spliceproxy::log
