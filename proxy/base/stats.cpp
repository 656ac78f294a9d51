// Stats: names and the one-line summary.
#include "proxy/base/stats.hpp"

#include <fmt/format.h>

namespace spliceproxy {

std::string_view to_string(Counter counter) {
  switch (counter) {
#define SPLICEPROXY_CASE(name, help) \
  case Counter::name:                \
    return #name;
    SPLICEPROXY_COUNTERS(SPLICEPROXY_CASE)
#undef SPLICEPROXY_CASE
    case Counter::count:
      break;
  }
  return "unknown";
}

std::string_view to_string(CloseReason reason) {
  switch (reason) {
#define SPLICEPROXY_CASE(name) \
  case CloseReason::name:      \
    return #name;
    SPLICEPROXY_CLOSE_REASONS(SPLICEPROXY_CASE)
#undef SPLICEPROXY_CASE
    case CloseReason::count:
      break;
  }
  return "unknown";
}

Stats& Stats::operator+=(const Stats& other) {
  for (std::size_t i = 0; i < counters.size(); ++i)
    counters[i].add(other.counters[i].load());
  for (std::size_t i = 0; i < sessions_closed.size(); ++i)
    sessions_closed[i].add(other.sessions_closed[i].load());
  return *this;
}

std::string Stats::summary() const {
  std::string out;
  for (std::size_t i = 0; i < counters.size(); ++i)
    out += fmt::format("{}{}={}", out.empty() ? "" : " ", to_string(static_cast<Counter>(i)),
                       counters[i].load());
  for (std::size_t i = 0; i < sessions_closed.size(); ++i)
    out += fmt::format(" sessions_closed_total{{reason=\"{}\"}}={}",
                       to_string(static_cast<CloseReason>(i)), sessions_closed[i].load());
  return out;
}

}  // namespace spliceproxy
