// read_captures: one or more capture files read as one capture, e.g. the files of a rotated
// spliceproxy mirror (PATH, PATH.1, ... PATH.KEEP), given in any order.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tools/capture/capture_file.hpp"
#include "tools/capture/flow_table.hpp"

namespace spliceproxy::capture {

struct CaptureStats {
  std::uint64_t files = 0;
  std::uint64_t packets = 0;
  std::uint64_t skipped_packets = 0;  // not TCP over IP
};

using PlacedHandler = std::function<void(const FlowTable::Placed&, const Segment&)>;

// Opens every file of `paths` first (a missing or foreign file fails before any is read),
// orders them by the timestamp of their first packet (a rotated capture's oldest file first),
// and adds each TCP segment to `table`, calling `on_placed` after each. Throws CaptureError
// naming the file, on the first that cannot be read; what was read before is in `table`.
CaptureStats read_captures(const std::vector<std::string>& paths, FlowTable& table,
                           const PlacedHandler& on_placed = {});

}  // namespace spliceproxy::capture
