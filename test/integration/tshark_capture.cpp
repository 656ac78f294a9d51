// tshark_capture: running tshark into a file and reading its tab-separated fields back.
#include "test/integration/tshark_capture.hpp"

#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>

#include "test/integration/byte_stream.hpp"
#include "test/integration/harness.hpp"

namespace spliceproxy::test {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "0a:1b:..." or "0a1b..." into bytes.
void parse_hex(const std::string& text, std::vector<std::uint8_t>& out) {
  out.clear();
  for (std::size_t i = 0; i + 1 < text.size();) {
    const int hi = hex_digit(text[i]);
    const int lo = hex_digit(text[i + 1]);
    if (hi < 0 || lo < 0) {
      ++i;
      continue;
    }
    out.push_back(static_cast<std::uint8_t>(hi << 4 | lo));
    i += 2;
  }
}

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> fields;
  std::size_t start = 0;
  for (;;) {
    const std::size_t tab = line.find('\t', start);
    fields.push_back(line.substr(start, tab - start));
    if (tab == std::string::npos) return fields;
    start = tab + 1;
  }
}

}  // namespace

bool have_tshark() {
  return ::access("/usr/bin/tshark", X_OK) == 0;
}

TsharkSummary read_with_tshark(const std::string& capture, std::uint16_t backend_port,
                               const std::function<void(const TsharkSegment&)>& on_segment) {
  TsharkSummary summary;
  const std::string fields = capture + ".fields";
  const std::string command =
      "exec /usr/bin/tshark -r '" + capture +
      "' -n -T fields -E separator=/t -E occurrence=f -e tcp.stream -e tcp.dstport -e tcp.seq "
      "-e tcp.len -e tcp.flags.syn -e tcp.flags.fin -e tcp.flags.reset "
      "-e tcp.analysis.lost_segment -e tcp.payload > '" +
      fields + "'";
  const CommandResult run = run_command({"/bin/sh", "-c", command}, std::chrono::minutes(4));
  if (run.exit_code != 0) {
    summary.error = "tshark exited " + std::to_string(run.exit_code) + ": " + run.err;
    return summary;
  }
  std::ifstream in(fields);
  std::string line;
  std::vector<std::uint8_t> payload;
  while (std::getline(in, line)) {
    const std::vector<std::string> f = split_tabs(line);
    if (f.size() < 9 || f[0].empty()) continue;
    ++summary.packets;
    summary.syn_packets += f[4] == "1" || f[4] == "True";
    summary.fin_packets += f[5] == "1" || f[5] == "True";
    summary.rst_packets += f[6] == "1" || f[6] == "True";
    summary.lost_segment_reports += !f[7].empty();
    if (f[3].empty() || std::stoull(f[3]) == 0) continue;
    parse_hex(f[8], payload);
    TsharkSegment segment;
    segment.stream = std::stoi(f[0]);
    segment.to_backend = std::stoul(f[1]) == backend_port;
    segment.offset = std::stoull(f[2]) - 1;
    segment.payload = payload;
    on_segment(segment);
  }
  ::unlink(fields.c_str());
  summary.ok = true;
  return summary;
}

std::map<int, Flow> flows_with_tshark(const std::string& capture, std::uint16_t backend_port,
                                      TsharkSummary* summary) {
  std::map<int, Flow> flows;
  std::map<std::pair<int, bool>, std::unique_ptr<Sha256>> hashes;
  const TsharkSummary result =
      read_with_tshark(capture, backend_port, [&](const TsharkSegment& segment) {
        Flow& flow = flows[segment.stream];
        FlowDirection& d = segment.to_backend ? flow.to_backend : flow.to_client;
        auto& hash = hashes[{segment.stream, segment.to_backend}];
        if (!hash) hash = std::make_unique<Sha256>();
        if (segment.offset > d.next) ++d.gaps;
        if (segment.offset < d.next) ++d.overlaps;
        hash->update(segment.payload);
        d.bytes += segment.payload.size();
        d.next = segment.offset + segment.payload.size();
      });
  for (auto& [key, hash] : hashes) {
    Flow& flow = flows[key.first];
    (key.second ? flow.to_backend : flow.to_client).sha256 = hash->hex_digest();
  }
  for (auto& [stream, flow] : flows) {
    for (FlowDirection* d : {&flow.to_backend, &flow.to_client}) {
      if (d->sha256.empty()) d->sha256 = Sha256().hex_digest();
    }
  }
  if (summary) *summary = result;
  return flows;
}

}  // namespace spliceproxy::test
