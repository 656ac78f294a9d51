// The replay's report: one JSON line per selected flow (--report FILE), and a summary on
// stdout that names every flow whose reply was not what the capture holds.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "tools/capture/flow_table.hpp"
#include "tools/replay/flow_replay.hpp"

namespace spliceproxy::replay {

struct FlowReport {
  std::size_t index = 0;  // the flow's number, as capture_reader lists it
  const capture::Flow* flow = nullptr;
  FlowResult result;
};

// {"flow":N,"client":"...","backend":"...","start_us":T,"outcome":"...","to_send":N,
//  "sent":N,"captured_reply":N,"captured_reply_complete":B,"reply":N,"compare":"...",
//  "offset":N|null,"ending":"...","error":"..."}; compare/offset/reply are null for a flow not
// replayed.
std::string json_line(const FlowReport& report);

// Writes every report as a JSON line to `path`; false (errno set) when it cannot.
bool write_report(const std::string& path, const std::vector<FlowReport>& reports);

// The summary: counts per outcome and per comparison, then one line per flow that differs,
// failed, or was skipped.
void print_summary(std::FILE* out, const std::vector<FlowReport>& reports, std::size_t flows);

// True when every replayed flow's reply equals the captured one and none failed.
bool all_equal(const std::vector<FlowReport>& reports);

}  // namespace spliceproxy::replay
