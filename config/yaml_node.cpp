// YamlNode: position-aware navigation of a yaml-cpp tree; see yaml_node.hpp.
#include "config/yaml_node.hpp"

#include <algorithm>
#include <map>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace spliceproxy::config {
namespace {

constexpr std::size_t kMaxQuoted = 60;  // characters of a value shown in a message

// Optimal string alignment distance: insertions, deletions, substitutions and
// transpositions of neighbours each cost one.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i)
    d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j)
    d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// yaml-cpp marks an empty value ("key:" followed by a newline) at the next token,
// often on a later line; the key's position is what the user wants to see then.
YAML::Mark value_mark(const YAML::Node& key, const YAML::Node& value) {
  const YAML::Mark mark = value.Mark();
  if (value.IsNull() && (mark.line != key.Mark().line || mark.line < 0)) return key.Mark();
  return mark;
}

// yaml-cpp marks an empty list item ("-" alone) at the token after it, often the next
// item; walking back over blanks from there finds its dash. Returns `mark` unchanged
// when something else (a comment, say) is in between.
YAML::Mark dash_before(std::string_view text, YAML::Mark mark) {
  if (mark.pos <= 0 || static_cast<std::size_t>(mark.pos) > text.size()) return mark;
  std::size_t pos = static_cast<std::size_t>(mark.pos);
  int line = mark.line;
  while (pos > 0 && (text[pos - 1] == ' ' || text[pos - 1] == '\n' || text[pos - 1] == '\r')) {
    if (text[--pos] == '\n') --line;
  }
  if (pos == 0 || text[pos - 1] != '-') return mark;
  const std::size_t dash = pos - 1;
  const std::size_t newline = text.rfind('\n', dash);
  const std::size_t line_start = newline == std::string_view::npos ? 0 : newline + 1;
  YAML::Mark found = mark;
  found.pos = static_cast<int>(dash);
  found.line = line;
  found.column = static_cast<int>(dash - line_start);
  return found;
}

}  // namespace

YamlNode::YamlNode(YAML::Node node, const std::string& file, std::string_view text)
    : node_(node), file_(&file), text_(text), mark_(node.Mark()) {}

YamlNode::YamlNode(const YamlNode& parent, YAML::Node node, std::string path, YAML::Mark mark)
    : node_(std::move(node)),
      file_(parent.file_),
      text_(parent.text_),
      path_(std::move(path)),
      mark_(mark) {}

void YamlNode::fail(std::string_view message) const {
  throw ConfigError(*file_, line(), column(), path_, std::string(message));
}

void YamlNode::fail_expected(std::string_view expected) const {
  fail(fmt::format("expected {}, got {}", expected, found()));
}

std::string YamlNode::found() const {
  if (node_.IsScalar()) return quoted(node_.Scalar());
  if (node_.IsMap()) return node_.size() == 0 ? "an empty map" : "a map";
  if (node_.IsSequence()) return node_.size() == 0 ? "an empty list" : "a list";
  return "an empty value";
}

void YamlNode::expect_map(std::initializer_list<std::string_view> allowed) const {
  if (!node_.IsMap()) fail_expected("a map");
  const std::vector<std::string_view> names(allowed);
  std::map<std::string, int> seen;  // key → line
  for (const auto& entry : node_) {
    const YamlNode key(*this, entry.first, path_, entry.first.Mark());
    if (!entry.first.IsScalar()) key.fail_expected("a key name");
    const std::string& name = entry.first.Scalar();
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      if (const auto guess = closest_match(name, names)) {
        key.fail(fmt::format("unknown key '{}', did you mean '{}'?", name, *guess));
      }
      key.fail(fmt::format("unknown key '{}', expected one of: {}", name, fmt::join(names, ", ")));
    }
    const auto [first, inserted] = seen.emplace(name, key.line());
    if (!inserted) {
      key.fail(fmt::format("duplicate key '{}', first set at line {}", name, first->second));
    }
  }
}

std::optional<YamlNode> YamlNode::find(std::string_view key) const {
  if (!node_.IsMap()) return std::nullopt;
  for (const auto& entry : node_) {
    if (entry.first.IsScalar() && entry.first.Scalar() == key) {
      std::string path = path_.empty() ? std::string(key) : fmt::format("{}.{}", path_, key);
      return YamlNode(*this, entry.second, std::move(path), value_mark(entry.first, entry.second));
    }
  }
  return std::nullopt;
}

YamlNode YamlNode::at(std::string_view key) const {
  auto value = find(key);
  if (!value) fail(fmt::format("missing required key '{}'", key));
  return *std::move(value);
}

std::vector<YamlNode> YamlNode::items(std::string_view noun) const {
  if (!node_.IsSequence()) fail_expected(fmt::format("a list of {}s", noun));
  if (node_.size() == 0) fail_expected(fmt::format("at least one {}", noun));
  std::vector<YamlNode> result;
  std::size_t index = 0;
  for (const auto& item : node_) {
    YAML::Mark mark = item.Mark();
    if (item.IsNull()) mark = mark.line < 0 ? mark_ : dash_before(text_, mark);
    result.push_back(YamlNode(*this, item, fmt::format("{}[{}]", path_, index++), mark));
  }
  return result;
}

std::string YamlNode::text() const {
  return node_.IsScalar() ? node_.Scalar() : std::string();
}

std::optional<std::string_view> closest_match(std::string_view word,
                                              const std::vector<std::string_view>& candidates) {
  std::optional<std::string_view> best;
  std::size_t best_distance = 0;
  for (std::string_view candidate : candidates) {
    const std::size_t distance = edit_distance(word, candidate);
    if (!best || distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  // One typo in a short word, two in a longer one; beyond that it is a different word.
  const std::size_t longest = best ? std::max(word.size(), best->size()) : 0;
  const std::size_t allowed = std::clamp<std::size_t>(longest / 3, 1, 2);
  if (!best || best_distance > allowed) return std::nullopt;
  return best;
}

std::string quoted(std::string_view text) {
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i == kMaxQuoted) {
      out += "...";
      break;
    }
    const char c = text[i];
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace spliceproxy::config
