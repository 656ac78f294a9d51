// to_json: the effective configuration as JSON, for the admin endpoint's /config. It converts
// to_yaml's document rather than walking Config a second time, so the two never disagree.
#include <iterator>
#include <string>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "config/config.hpp"
#include "config/json.hpp"

namespace spliceproxy::config {
namespace {

// A plain (unquoted) YAML scalar that JSON can carry as a number or a boolean.
bool is_json_literal(const std::string& text) {
  if (text == "true" || text == "false") return true;
  if (text.empty() || text.size() > 18) return false;
  if (text.size() > 1 && text[0] == '0') return false;
  return text.find_first_not_of("0123456789") == std::string::npos;
}

void append_node(std::string& out, const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      out += '{';
      bool first = true;
      for (const auto& entry : node) {
        if (!std::exchange(first, false)) out += ',';
        append_json_string(out, entry.first.Scalar());
        out += ':';
        append_node(out, entry.second);
      }
      out += '}';
      return;
    }
    case YAML::NodeType::Sequence: {
      out += '[';
      for (std::size_t i = 0; i < node.size(); ++i) {
        if (i > 0) out += ',';
        append_node(out, node[i]);
      }
      out += ']';
      return;
    }
    case YAML::NodeType::Scalar:
      // yaml-cpp tags a quoted scalar "!" and a plain one "?".
      if (node.Tag() != "!" && is_json_literal(node.Scalar())) {
        out += node.Scalar();
      } else {
        append_json_string(out, node.Scalar());
      }
      return;
    default:
      out += "null";
  }
}

}  // namespace

// The length of the well-formed UTF-8 sequence at the start of `text` (2 to 4), or 0 (RFC 3629:
// no overlong form, no surrogate, nothing above U+10FFFF).
static std::size_t utf8_sequence(std::string_view text) {
  struct Lead {
    unsigned char first, last;              // lead bytes of this row
    std::size_t size;                       // bytes in the sequence
    unsigned char second_low, second_high;  // the range of the second byte
  };
  static constexpr Lead kLeads[] = {
      {0xC2, 0xDF, 2, 0x80, 0xBF}, {0xE0, 0xE0, 3, 0xA0, 0xBF}, {0xE1, 0xEC, 3, 0x80, 0xBF},
      {0xED, 0xED, 3, 0x80, 0x9F}, {0xEE, 0xEF, 3, 0x80, 0xBF}, {0xF0, 0xF0, 4, 0x90, 0xBF},
      {0xF1, 0xF3, 4, 0x80, 0xBF}, {0xF4, 0xF4, 4, 0x80, 0x8F},
  };
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  for (const Lead& lead : kLeads) {
    if (byte(0) < lead.first || byte(0) > lead.last) continue;
    if (text.size() < lead.size || byte(1) < lead.second_low || byte(1) > lead.second_high)
      return 0;
    for (std::size_t i = 2; i < lead.size; ++i) {
      if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
    }
    return lead.size;
  }
  return 0;
}

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (byte < 0x20) {
      fmt::format_to(std::back_inserter(out), "\\u{:04x}", byte);
    } else if (byte < 0x80) {
      out += c;
    } else if (const std::size_t size = utf8_sequence(text.substr(i)); size > 0) {
      out.append(text.substr(i, size));
      i += size - 1;
    } else {
      out += "\\ufffd";  // not UTF-8 (a path's raw bytes): the replacement character
    }
  }
  out += '"';
}

std::string to_json(const Config& config) {
  std::string out;
  append_node(out, YAML::Load(to_yaml(config)));
  return out + '\n';
}

}  // namespace spliceproxy::config
