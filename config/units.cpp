// Parsing and formatting of durations and sizes; see units.hpp for the accepted forms.
#include "config/units.hpp"

#include <array>
#include <cstdint>
#include <limits>

#include <fmt/format.h>

namespace spliceproxy::config {
namespace {

constexpr std::string_view kDurationExpected = "a duration like 250ms, 5s, 2m or 1h";
constexpr std::string_view kDurationTooLarge = "a duration of at most 9223372036854775807ms";
constexpr std::string_view kSizeExpected = "a size like 4096, 64KiB, 1MiB or 1GiB";
constexpr std::string_view kSizeTooLarge = "a size of at most 18446744073709551615B";
constexpr std::string_view kEventRateExpected = "a rate like 100/s, 600/m or 10/h";
constexpr std::string_view kByteRateExpected = "a byte rate like 500KiB/s, 10MiB/s or 1GiB/s";

struct Unit {
  std::string_view suffix;
  std::uint64_t factor;
};

// Largest first, so that formatting can stop at the first exact unit.
constexpr std::array<Unit, 4> kDurationUnits{{
    {"h", 3'600'000},
    {"m", 60'000},
    {"s", 1'000},
    {"ms", 1},
}};

constexpr std::array<Unit, 4> kSizeUnits{{
    {"GiB", std::uint64_t{1} << 30},
    {"MiB", std::uint64_t{1} << 20},
    {"KiB", std::uint64_t{1} << 10},
    {"B", 1},
}};

// Splits "250ms" into "250" and "ms". Returns false when there are no leading digits.
bool split_number(std::string_view text, std::string_view& digits, std::string_view& suffix) {
  std::size_t end = 0;
  while (end < text.size() && text[end] >= '0' && text[end] <= '9')
    ++end;
  digits = text.substr(0, end);
  suffix = text.substr(end);
  return !digits.empty();
}

const Unit* find_unit(const std::array<Unit, 4>& units, std::string_view suffix) {
  for (const Unit& unit : units) {
    if (unit.suffix == suffix) return &unit;
  }
  return nullptr;
}

// number * factor when it is at most `max`, nullopt otherwise.
std::optional<std::uint64_t> scale(std::uint64_t number, std::uint64_t factor, std::uint64_t max) {
  if (number > max / factor) return std::nullopt;
  return number * factor;
}

}  // namespace

std::optional<std::uint64_t> parse_unsigned(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

Parsed<Duration> parse_duration(std::string_view text) {
  using Result = Parsed<Duration>;
  std::string_view digits;
  std::string_view suffix;
  if (!split_number(text, digits, suffix)) return Result::error(kDurationExpected);
  const Unit* unit = find_unit(kDurationUnits, suffix);
  if (unit == nullptr) return Result::error(kDurationExpected);
  const auto number = parse_unsigned(digits);
  if (!number) return Result::error(kDurationTooLarge);
  const auto max = static_cast<std::uint64_t>(std::numeric_limits<Duration::rep>::max());
  const auto millis = scale(*number, unit->factor, max);
  if (!millis) return Result::error(kDurationTooLarge);
  return Result::ok(Duration(static_cast<Duration::rep>(*millis)));
}

Parsed<std::size_t> parse_size(std::string_view text) {
  using Result = Parsed<std::size_t>;
  std::string_view digits;
  std::string_view suffix;
  if (!split_number(text, digits, suffix)) return Result::error(kSizeExpected);
  const Unit* unit = suffix.empty() ? &kSizeUnits.back() : find_unit(kSizeUnits, suffix);
  if (unit == nullptr) return Result::error(kSizeExpected);
  const auto number = parse_unsigned(digits);
  if (!number) return Result::error(kSizeTooLarge);
  const auto bytes = scale(*number, unit->factor, std::numeric_limits<std::size_t>::max());
  if (!bytes) return Result::error(kSizeTooLarge);
  return Result::ok(static_cast<std::size_t>(*bytes));
}

Parsed<std::pair<std::uint64_t, Duration>> parse_event_rate(std::string_view text) {
  using Result = Parsed<std::pair<std::uint64_t, Duration>>;
  const std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) return Result::error(kEventRateExpected);
  const auto count = parse_unsigned(text.substr(0, slash));
  const std::string_view unit = text.substr(slash + 1);
  if (!count || *count == 0 || unit.empty() || unit == "ms")
    return Result::error(kEventRateExpected);
  const Unit* found = find_unit(kDurationUnits, unit);
  if (found == nullptr) return Result::error(kEventRateExpected);
  return Result::ok({*count, Duration(static_cast<Duration::rep>(found->factor))});
}

Parsed<std::uint64_t> parse_byte_rate(std::string_view text) {
  using Result = Parsed<std::uint64_t>;
  if (!text.ends_with("/s")) return Result::error(kByteRateExpected);
  const Parsed<std::size_t> size = parse_size(text.substr(0, text.size() - 2));
  if (!size.value) return Result::error(kByteRateExpected);
  return Result::ok(*size.value);
}

std::string format_event_rate(std::uint64_t count, Duration period) {
  for (const Unit& unit : kDurationUnits) {
    if (static_cast<std::uint64_t>(period.count()) == unit.factor)
      return fmt::format("{}/{}", count, unit.suffix);
  }
  return fmt::format("{}/s", count);  // periods come from parse_event_rate: unreachable
}

std::string format_byte_rate(std::uint64_t bytes_per_second) {
  return format_size(static_cast<std::size_t>(bytes_per_second)) + "/s";
}

std::string format_duration(Duration duration) {
  const auto millis = duration.count();
  if (millis == 0) return "0ms";
  for (const Unit& unit : kDurationUnits) {
    const auto factor = static_cast<Duration::rep>(unit.factor);
    if (millis % factor == 0) return fmt::format("{}{}", millis / factor, unit.suffix);
  }
  return fmt::format("{}ms", millis);  // unreachable: the last unit divides everything
}

std::string format_size(std::size_t bytes) {
  if (bytes == 0) return "0B";
  for (const Unit& unit : kSizeUnits) {
    if (bytes % unit.factor == 0) return fmt::format("{}{}", bytes / unit.factor, unit.suffix);
  }
  return fmt::format("{}B", bytes);  // unreachable: the last unit divides everything
}

}  // namespace spliceproxy::config
