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

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (const char c : text) {
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
    } else {
      out += c;
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
