// A yaml-cpp node together with where it came from: the file name, its key path
// ("listeners[0].timeouts.idle") and its position, so that every check can throw a
// ConfigError that points at the right place.
//
// Internal to config/: this header includes yaml-cpp, which nothing outside config/ sees.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config/config.hpp"

namespace spliceproxy::config {

class YamlNode {
 public:
  // The document root, parsed from `text`. `file` and `text` must outlive this node and
  // every node taken from it.
  YamlNode(YAML::Node node, const std::string& file, std::string_view text);

  const std::string& path() const { return path_; }
  int line() const { return mark_.line < 0 ? 0 : mark_.line + 1; }
  int column() const { return mark_.column < 0 ? 0 : mark_.column + 1; }

  // Throws ConfigError at this node: "FILE:LINE:COL: PATH: message".
  [[noreturn]] void fail(std::string_view message) const;
  // Throws "expected <expected>, got <found()>".
  [[noreturn]] void fail_expected(std::string_view expected) const;
  // How this node reads in a message: "\"text\"", "a map", "a list" or "an empty value".
  std::string found() const;

  // Requires a map whose keys are all in `allowed`, each at most once; throws on an
  // unknown key (suggesting the closest allowed one) or a repeated key.
  void expect_map(std::initializer_list<std::string_view> allowed) const;
  // The value under `key` when present. Call expect_map first.
  std::optional<YamlNode> find(std::string_view key) const;
  // The value under `key`; throws "missing required key" (at this map) when absent.
  YamlNode at(std::string_view key) const;
  // The items of a non-empty list; `noun` names one item ("listener") for messages.
  std::vector<YamlNode> items(std::string_view noun) const;

  // The scalar text; "" for a map, a list or an empty value, so that a parser
  // rejects it and fail_expected() then says what was found.
  std::string text() const;

  // Runs `parser` (text → Parsed<T>) on text(); throws "expected ..., got ..." when
  // it fails. Returns the parsed value.
  template <typename Parser>
  auto parse(Parser&& parser) const {
    auto parsed = parser(text());
    if (!parsed.value) fail_expected(parsed.expected);
    return *std::move(parsed.value);
  }

 private:
  YamlNode(const YamlNode& parent, YAML::Node node, std::string path, YAML::Mark mark);

  YAML::Node node_;
  const std::string* file_;
  std::string_view text_;  // the whole document, to find what yaml-cpp's marks miss
  std::string path_;
  YAML::Mark mark_;  // 0-based, as yaml-cpp gives it; may differ from node_.Mark() (see .cpp)
};

// The candidate closest to `word` by edit distance when it is close enough to be a
// likely typo ("lisen" → "listen", "timeout" → "timeouts"); nullopt otherwise.
std::optional<std::string_view> closest_match(std::string_view word,
                                              const std::vector<std::string_view>& candidates);

// `text` in double quotes with '"', '\\' and control characters escaped; long texts
// are cut to keep messages on one readable line.
std::string quoted(std::string_view text);

}  // namespace spliceproxy::config
