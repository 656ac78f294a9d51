// Reading one YAML document safely with yaml-cpp 0.7; see yaml_document.hpp.
#include "config/yaml_document.hpp"

#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <yaml-cpp/anchor.h>
#include <yaml-cpp/eventhandler.h>

#include "config/config.hpp"

namespace spliceproxy::config {
namespace {

// Records where each document starts and ignores the rest of the events.
class DocumentStarts : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> marks;

  void OnDocumentStart(const YAML::Mark& mark) override { marks.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// Throws a ConfigError at yaml-cpp's 0-based `mark`, which may be unknown (negative).
[[noreturn]] void throw_at(const std::string& source, const YAML::Mark& mark, std::string message) {
  const bool known = mark.line >= 0 && mark.column >= 0;
  throw ConfigError(source, known ? mark.line + 1 : 0, known ? mark.column + 1 : 0, "",
                    std::move(message));
}

// Line `line` (0-based) of `text`, without its newline; empty past the end.
std::string_view line_of(std::string_view text, int line) {
  std::size_t start = 0;
  for (int i = 0; i < line && start != std::string_view::npos; ++i) {
    start = text.find('\n', start);
    if (start != std::string_view::npos) ++start;
  }
  if (start == std::string_view::npos || start > text.size()) return {};
  return text.substr(start, text.find('\n', start) - start);
}

// A hint for a syntax error that has a common cause: an unquoted "[::1]:8080" reads as
// a YAML list followed by junk.
std::string_view syntax_hint(std::string_view text, const YAML::Mark& mark) {
  const std::string_view line = line_of(text, mark.line);
  const auto bracket = line.find('[');
  if (bracket == std::string_view::npos || line.find("]:", bracket) == std::string_view::npos) {
    return {};
  }
  return " (quote IPv6 addresses: \"[::1]:8080\")";
}

// Throws unless `yaml` holds at most one document. Two documents starting at the same
// place mean the parser made no progress: a token it cannot place, such as ','.
void expect_one_document(std::string_view yaml, const std::string& source) {
  std::istringstream in{std::string(yaml)};
  YAML::Parser parser(in);
  DocumentStarts starts;
  while (starts.marks.size() < 2 && parser.HandleNextDocument(starts)) {
  }
  if (starts.marks.size() < 2) return;
  const YAML::Mark& second = starts.marks[1];
  if (second.pos == starts.marks[0].pos) {
    const auto pos = static_cast<std::size_t>(second.pos);
    const char c = pos < yaml.size() ? yaml[pos] : '?';
    throw_at(source, second, fmt::format("invalid YAML: unexpected '{}'", c));
  }
  throw_at(source, second, "expected a single YAML document, got a second one");
}

}  // namespace

YAML::Node load_single_document(std::string_view yaml, const std::string& source) {
  YAML::Node document;
  try {
    document = YAML::Load(std::string(yaml));
    expect_one_document(yaml, source);
  } catch (const YAML::ParserException& e) {
    throw_at(source, e.mark, fmt::format("invalid YAML: {}{}", e.msg, syntax_hint(yaml, e.mark)));
  }
  // Nothing, only comments, or only "~" / "---": nothing was configured.
  if (document.IsNull()) {
    throw ConfigError(source, 1, 1, "", "expected a map of settings, got an empty file");
  }
  return document;
}

}  // namespace spliceproxy::config
