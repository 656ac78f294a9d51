// Unit tests of config/units: duration and size parsing and formatting.
#include "config/units.hpp"

#include <chrono>
#include <limits>

#include <gtest/gtest.h>

namespace spliceproxy::config {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

TEST(Units, DurationAcceptsEachUnit) {
  EXPECT_EQ(parse_duration("250ms").value, milliseconds(250));
  EXPECT_EQ(parse_duration("5s").value, seconds(5));
  EXPECT_EQ(parse_duration("2m").value, minutes(2));
  EXPECT_EQ(parse_duration("1h").value, hours(1));
  EXPECT_EQ(parse_duration("0s").value, milliseconds(0));
}

TEST(Units, DurationSucceedsWithoutExpectedPhrase) {
  const auto parsed = parse_duration("5s");
  ASSERT_TRUE(parsed.value);
  EXPECT_TRUE(parsed.expected.empty());
}

TEST(Units, DurationRejectsBareNumber) {
  const auto parsed = parse_duration("5");
  EXPECT_FALSE(parsed.value);
  EXPECT_EQ(parsed.expected, "a duration like 250ms, 5s, 2m or 1h");
}

TEST(Units, DurationRejectsMalformedText) {
  for (const char* text :
       {"", "s", "5 s", "5sec", "5S", "-5s", "+5s", "1.5s", "5s ", " 5s", "5d"}) {
    const auto parsed = parse_duration(text);
    EXPECT_FALSE(parsed.value) << text;
    EXPECT_EQ(parsed.expected, "a duration like 250ms, 5s, 2m or 1h") << text;
  }
}

TEST(Units, DurationAcceptsLargestMilliseconds) {
  const auto max = std::numeric_limits<milliseconds::rep>::max();
  EXPECT_EQ(parse_duration("9223372036854775807ms").value, milliseconds(max));
}

TEST(Units, DurationOverflowIsAnError) {
  for (const char* text : {"9223372036854775808ms", "2562047788016h", "99999999999999999999s"}) {
    const auto parsed = parse_duration(text);
    EXPECT_FALSE(parsed.value) << text;
    EXPECT_NE(parsed.expected.find("at most"), std::string_view::npos) << text;
  }
}

TEST(Units, DurationFormatsInLargestExactUnit) {
  EXPECT_EQ(format_duration(minutes(5)), "5m");
  EXPECT_EQ(format_duration(seconds(90)), "90s");
  EXPECT_EQ(format_duration(milliseconds(1500)), "1500ms");
  EXPECT_EQ(format_duration(hours(2)), "2h");
  EXPECT_EQ(format_duration(minutes(120)), "2h");
  EXPECT_EQ(format_duration(milliseconds(0)), "0ms");
}

TEST(Units, DurationFormatParsesBack) {
  for (const milliseconds value : {milliseconds(1), milliseconds(61'001), milliseconds(3'600'000),
                                   milliseconds(std::numeric_limits<milliseconds::rep>::max())}) {
    EXPECT_EQ(parse_duration(format_duration(value)).value, value);
  }
}

TEST(Units, SizeAcceptsEachUnit) {
  EXPECT_EQ(parse_size("4096").value, 4096u);
  EXPECT_EQ(parse_size("17B").value, 17u);
  EXPECT_EQ(parse_size("64KiB").value, 64u * 1024);
  EXPECT_EQ(parse_size("1MiB").value, 1024u * 1024);
  EXPECT_EQ(parse_size("2GiB").value, std::size_t{2} << 30);
  EXPECT_EQ(parse_size("0").value, 0u);
}

TEST(Units, SizeRejectsMalformedText) {
  for (const char* text : {"", "MiB", "1MB", "1mib", "1 MiB", "-1", "1.5MiB", "1K", "0x10"}) {
    const auto parsed = parse_size(text);
    EXPECT_FALSE(parsed.value) << text;
    EXPECT_EQ(parsed.expected, "a size like 4096, 64KiB, 1MiB or 1GiB") << text;
  }
}

TEST(Units, SizeOverflowIsAnError) {
  for (const char* text : {"18446744073709551616", "17179869184GiB", "99999999999999999999999B"}) {
    const auto parsed = parse_size(text);
    EXPECT_FALSE(parsed.value) << text;
    EXPECT_NE(parsed.expected.find("at most"), std::string_view::npos) << text;
  }
}

TEST(Units, SizeAcceptsLargestValue) {
  EXPECT_EQ(parse_size("18446744073709551615").value, std::numeric_limits<std::size_t>::max());
  EXPECT_EQ(parse_size("17179869183GiB").value, std::size_t{17179869183} << 30);
}

TEST(Units, SizeFormatsInLargestExactUnit) {
  EXPECT_EQ(format_size(1024 * 1024), "1MiB");
  EXPECT_EQ(format_size(1536 * 1024), "1536KiB");
  EXPECT_EQ(format_size(std::size_t{1} << 30), "1GiB");
  EXPECT_EQ(format_size(4095), "4095B");
  EXPECT_EQ(format_size(0), "0B");
}

TEST(Units, SizeFormatParsesBack) {
  for (const std::size_t value : {std::size_t{1}, std::size_t{4096}, std::size_t{3} << 20,
                                  std::numeric_limits<std::size_t>::max()}) {
    EXPECT_EQ(parse_size(format_size(value)).value, value);
  }
}

TEST(Units, UnsignedRejectsSignsAndOverflow) {
  EXPECT_EQ(parse_unsigned("42"), 42u);
  EXPECT_EQ(parse_unsigned("18446744073709551615"), std::numeric_limits<std::uint64_t>::max());
  EXPECT_FALSE(parse_unsigned("18446744073709551616"));
  EXPECT_FALSE(parse_unsigned(""));
  EXPECT_FALSE(parse_unsigned("-1"));
  EXPECT_FALSE(parse_unsigned("+1"));
}

}  // namespace
}  // namespace spliceproxy::config
