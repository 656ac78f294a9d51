// The replay's report: JSON lines and the summary.
#include "tools/replay/replay_report.hpp"

#include <fmt/format.h>

#include <map>

namespace spliceproxy::replay {
namespace {

std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

bool replayed(const FlowResult& r) {
  return r.outcome == Outcome::replayed;
}

std::string describe(const FlowReport& report) {
  const FlowResult& r = report.result;
  std::string what = name(r.outcome);
  if (replayed(r)) {
    what = name(r.compare);
    if (r.compare != Compare::equal) what += fmt::format(" at offset {}", r.offset);
    what += fmt::format(" (reply {} bytes, captured {})", r.reply, r.captured_reply);
  }
  if (!r.error.empty()) what += ": " + r.error;
  return fmt::format("flow {} {} -> {}: {}", report.index, report.flow->client,
                     report.flow->backend, what);
}

}  // namespace

std::string json_line(const FlowReport& report) {
  const FlowResult& r = report.result;
  const bool sent = replayed(r);
  const std::string null = "null";
  std::string line = fmt::format(
      "{{\"flow\":{},\"client\":{},\"backend\":{},\"start_us\":{},\"outcome\":\"{}\","
      "\"to_send\":{},\"sent\":{},\"captured_reply\":{},\"captured_reply_complete\":{},",
      report.index, quoted(report.flow->client), quoted(report.flow->backend),
      report.flow->first_us, name(r.outcome), r.to_send, r.sent, r.captured_reply,
      r.captured_reply_complete);
  line += fmt::format("\"reply\":{},\"compare\":{},\"offset\":{},\"ending\":{}",
                      sent ? std::to_string(r.reply) : null, sent ? quoted(name(r.compare)) : null,
                      sent && r.compare != Compare::equal ? std::to_string(r.offset) : null,
                      sent ? quoted(name(r.ending)) : null);
  if (!r.error.empty()) line += ",\"error\":" + quoted(r.error);
  return line + "}";
}

bool write_report(const std::string& path, const std::vector<FlowReport>& reports) {
  std::FILE* file = std::fopen(path.c_str(), "w");
  if (!file) return false;
  for (const FlowReport& report : reports)
    std::fprintf(file, "%s\n", json_line(report).c_str());
  return std::fclose(file) == 0;
}

void print_summary(std::FILE* out, const std::vector<FlowReport>& reports, std::size_t flows) {
  std::map<std::string, std::size_t> outcomes, compares;
  for (const FlowReport& report : reports) {
    ++outcomes[name(report.result.outcome)];
    if (replayed(report.result)) ++compares[name(report.result.compare)];
  }
  std::string line =
      fmt::format("replay: {} flows in the capture, {} selected", flows, reports.size());
  for (const auto& [outcome, count] : outcomes)
    line += fmt::format(", {} {}", count, outcome);
  std::fprintf(out, "%s\n", line.c_str());
  line = "replay: replies:";
  for (const char* c : {"equal", "different", "shorter", "longer"})
    line += fmt::format(" {} {}", compares[c], c);
  std::fprintf(out, "%s\n", line.c_str());
  for (const FlowReport& report : reports) {
    const FlowResult& r = report.result;
    if (replayed(r) && r.compare == Compare::equal && r.error.empty()) continue;
    std::fprintf(out, "replay: %s\n", describe(report).c_str());
  }
}

bool all_equal(const std::vector<FlowReport>& reports) {
  for (const FlowReport& report : reports) {
    const FlowResult& r = report.result;
    if (r.outcome == Outcome::connect_failed || r.outcome == Outcome::failed) return false;
    if (replayed(r) && r.compare != Compare::equal) return false;
  }
  return true;
}

}  // namespace spliceproxy::replay
