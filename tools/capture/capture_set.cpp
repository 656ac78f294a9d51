// read_captures: files ordered by their first packet, then read one after the other.
#include "tools/capture/capture_set.hpp"

#include <algorithm>

namespace spliceproxy::capture {

CaptureStats read_captures(const std::vector<std::string>& paths, FlowTable& table,
                           const PlacedHandler& on_placed) {
  // Each file is opened twice (to order, then to read) so that a rotation of up to 1000 files
  // never holds more than one descriptor.
  std::vector<std::pair<std::int64_t, std::string>> order;
  for (const std::string& path : paths)
    order.emplace_back(CaptureFile(path).first_time_us(), path);
  std::stable_sort(order.begin(), order.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  CaptureStats stats;
  for (const auto& [first_us, path] : order) {
    CaptureFile file(path);
    file.each_segment([&](const Segment& segment) {
      const FlowTable::Placed placed = table.add(segment);
      if (on_placed) on_placed(placed, segment);
    });
    ++stats.files;
    stats.packets += file.packets();
    stats.skipped_packets += file.skipped_packets();
  }
  return stats;
}

}  // namespace spliceproxy::capture
