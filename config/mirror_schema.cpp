// Reading and printing the mirror keys; see mirror_schema.hpp and proxy.yaml.example.
#include "config/mirror_schema.hpp"

#include <charconv>
#include <iterator>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "config/address.hpp"
#include "config/schema.hpp"
#include "config/units.hpp"

namespace spliceproxy::config {
namespace {

constexpr std::size_t kMinRotateSize = std::size_t{64} << 10;
constexpr unsigned kMaxKeep = 1000;

// `sample`: a decimal from 0 to 1 ("0.25", "1", "0").
Parsed<double> parse_fraction(std::string_view text) {
  double value = -1;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  const bool plain = !text.empty() && (text[0] == '.' || (text[0] >= '0' && text[0] <= '9'));
  if (!plain || ec != std::errc{} || end != text.data() + text.size() || value < 0 || value > 1)
    return Parsed<double>::error("a fraction from 0.0 to 1.0");
  return Parsed<double>::ok(value);
}

void parse_file_keys(const YamlNode& node, Mirror& mirror) {
  node.expect_map({"name", "type", "path", "max_size", "keep"});
  mirror.path = node.at("path").text();
  if (mirror.path.empty()) node.at("path").fail_expected("a file path");
  if (auto max_size = node.find("max_size")) {
    mirror.max_size = max_size->parse(parse_size);
    if (mirror.max_size != 0 && mirror.max_size < kMinRotateSize)
      max_size->fail_expected(
          fmt::format("0 or a size of at least {}", format_size(kMinRotateSize)));
  }
  if (auto keep = node.find("keep")) {
    const auto count = parse_unsigned(keep->text());
    if (!count || *count < 1 || *count > kMaxKeep)
      keep->fail_expected(fmt::format("an integer from 1 to {}", kMaxKeep));
    mirror.keep = static_cast<unsigned>(*count);
  }
}

Mirror parse_mirror(const YamlNode& node, std::map<std::string, int>& names) {
  node.expect_map({"name", "type", "path", "max_size", "keep", "address"});
  Mirror mirror;
  const YamlNode name = node.at("name");
  mirror.name = name.text();
  if (mirror.name.empty() ||
      mirror.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                                    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != std::string::npos)
    name.fail_expected("a name made of letters, digits, '_', '.' and '-'");
  const auto [first, inserted] = names.emplace(mirror.name, name.line());
  if (!inserted)
    name.fail(fmt::format("duplicate mirror name {}, first defined at line {}", quoted(mirror.name),
                          first->second));
  static constexpr MirrorType kTypes[] = {MirrorType::pcapng_file, MirrorType::pcapng_tcp,
                                          MirrorType::shadow};
  mirror.type = parse_enum(node.at("type"), kTypes);
  if (mirror.type == MirrorType::pcapng_file) {
    parse_file_keys(node, mirror);
  } else {
    node.expect_map({"name", "type", "address"});
    const auto parse = [](std::string_view text) { return parse_address(text, PortZero::refused); };
    mirror.address = node.at("address").parse(parse);
  }
  return mirror;
}

MirrorRef parse_mirror_ref(const YamlNode& node, const std::vector<Mirror>& mirrors,
                           std::map<std::string, int>& used) {
  node.expect_map({"mirror", "direction", "sample"});
  MirrorRef ref;
  const YamlNode name = node.at("mirror");
  std::vector<std::string_view> known;
  for (const Mirror& mirror : mirrors) {
    if (name.text() == mirror.name) ref.mirror = mirror.name;
    known.push_back(mirror.name);
  }
  if (ref.mirror.empty())
    name.fail_expected(fmt::format("the name of a mirror (one of: {})", fmt::join(known, ", ")));
  const auto [first, inserted] = used.emplace(ref.mirror, name.line());
  if (!inserted)
    name.fail(fmt::format("mirror {} is already fed by this listener at line {}",
                          quoted(ref.mirror), first->second));
  if (auto direction = node.find("direction")) {
    static constexpr MirrorDirection kDirections[] = {MirrorDirection::client_to_backend,
                                                      MirrorDirection::backend_to_client,
                                                      MirrorDirection::both};
    ref.direction = parse_enum(*direction, kDirections);
  }
  if (auto sample = node.find("sample")) ref.sample = sample->parse(parse_fraction);
  return ref;
}

}  // namespace

std::vector<Mirror> parse_mirrors(const YamlNode& node) {
  std::vector<Mirror> mirrors;
  std::map<std::string, int> names;
  for (const YamlNode& item : node.items("mirror"))
    mirrors.push_back(parse_mirror(item, names));
  return mirrors;
}

std::vector<MirrorRef> parse_mirror_refs(const YamlNode& node, const std::vector<Mirror>& mirrors) {
  std::vector<MirrorRef> refs;
  std::map<std::string, int> used;
  for (const YamlNode& item : node.items("mirror reference"))
    refs.push_back(parse_mirror_ref(item, mirrors, used));
  return refs;
}

std::string mirrors_yaml(const std::vector<Mirror>& mirrors) {
  if (mirrors.empty()) return {};
  std::string out = "mirrors:\n";
  auto it = std::back_inserter(out);
  for (const Mirror& mirror : mirrors) {
    fmt::format_to(it, "  - name: {}\n    type: {}\n", mirror.name, to_string(mirror.type));
    if (mirror.type == MirrorType::pcapng_file) {
      fmt::format_to(it, "    path: \"{}\"\n    max_size: {}\n    keep: {}\n", mirror.path,
                     format_size(mirror.max_size), mirror.keep);
    } else {
      fmt::format_to(it, "    address: \"{}\"\n", mirror.address.to_string());
    }
  }
  return out;
}

std::string mirror_refs_yaml(const std::vector<MirrorRef>& refs) {
  if (refs.empty()) return {};
  std::string out = "    mirrors:\n";
  for (const MirrorRef& ref : refs) {
    fmt::format_to(std::back_inserter(out),
                   "      - mirror: {}\n        direction: {}\n"
                   "        sample: {}\n",
                   ref.mirror, to_string(ref.direction), ref.sample);
  }
  return out;
}

}  // namespace spliceproxy::config
