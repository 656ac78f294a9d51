// Text forms of durations ("250ms", "5s", "2m", "1h") and sizes ("4096", "64KiB", "1MiB").
//
// Parsing is strict: digits immediately followed by a unit, no sign, no spaces, no
// fractions. A parse never throws; it returns the value or a phrase saying what was
// expected, which the config loader turns into "expected <phrase>, got <text>".
// Formatting picks the largest unit that represents the value exactly, so that
// format → parse gives back the same value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "config/config.hpp"

namespace spliceproxy::config {

// A parsed value, or what should have been written instead.
template <typename T>
struct Parsed {
  std::optional<T> value;
  std::string_view expected;  // set exactly when !value, e.g. "a duration like 250ms, 5s, 2m or 1h"

  static Parsed ok(T v) { return Parsed{std::move(v), {}}; }
  static Parsed error(std::string_view what) { return Parsed{std::nullopt, what}; }
};

// Parses an integer followed by one of the units ms, s, m, h. A bare number, an
// unknown unit or a sign is malformed; a value beyond Duration's range (2^63-1 ms)
// is reported as such.
Parsed<Duration> parse_duration(std::string_view text);

// Parses an integer followed by an optional unit B, KiB, MiB or GiB (no unit = bytes).
// A value beyond std::size_t is reported as such.
Parsed<std::size_t> parse_size(std::string_view text);

// Parses a rate of events: an integer, "/" and a unit s, m or h ("100/s", "600/m"); the
// integer is at least 1. Returns the count and the period of the rate's unit.
Parsed<std::pair<std::uint64_t, Duration>> parse_event_rate(std::string_view text);

// Parses a byte rate: a size (as parse_size) followed by "/s" ("500KiB/s", "10MiB/s").
// Returns bytes per second.
Parsed<std::uint64_t> parse_byte_rate(std::string_view text);

// Parses an unsigned decimal integer (digits only) that fits in std::uint64_t.
std::optional<std::uint64_t> parse_unsigned(std::string_view text);

// "5m" for 300000ms, "1500ms" for 1500ms, "0ms" for zero. Negative values keep
// their sign ("-5s"); they never come out of parse_duration.
std::string format_duration(Duration duration);

// "100/s" for (100, 1s), "10/m" for (10, 1min).
std::string format_event_rate(std::uint64_t count, Duration period);

// format_size of the bytes, then "/s": "10MiB/s".
std::string format_byte_rate(std::uint64_t bytes_per_second);

// "1MiB" for 1048576, "1536KiB" for 1572864, "4095B" for 4095, "0B" for zero.
std::string format_size(std::size_t bytes);

}  // namespace spliceproxy::config
