// ReplyChecker: the target's reply against the captured one, and the names of the results.
#include <algorithm>
#include <array>

#include "tools/replay/flow_replay.hpp"

namespace spliceproxy::replay {

const char* name(Outcome outcome) {
  switch (outcome) {
    case Outcome::replayed:
      return "replayed";
    case Outcome::skipped_gap:
      return "skipped_gap";
    case Outcome::skipped_start:
      return "skipped_start_not_captured";
    case Outcome::connect_failed:
      return "connect_failed";
    case Outcome::failed:
      return "failed";
  }
  return "?";
}

const char* name(Compare compare) {
  switch (compare) {
    case Compare::equal:
      return "equal";
    case Compare::different:
      return "different";
    case Compare::shorter:
      return "shorter";
    case Compare::longer:
      return "longer";
  }
  return "?";
}

const char* name(Ending ending) {
  switch (ending) {
    case Ending::closed:
      return "closed";
    case Ending::reset:
      return "reset";
    case Ending::idle_timeout:
      return "idle_timeout";
    case Ending::none:
      return "none";
  }
  return "?";
}

ReplyChecker::ReplyChecker(const capture::FlowDirection& captured,
                           const capture::PayloadSpool& spool)
    : captured_(captured), spool_(spool) {}

void ReplyChecker::add(std::span<const std::uint8_t> bytes) {
  std::array<std::uint8_t, 16384> expected;
  while (!bytes.empty() && !differs_at_ && extent_ < captured_.extents.size()) {
    const capture::Extent& e = captured_.extents[extent_];
    const std::size_t n = std::min(
        {bytes.size(), expected.size(), static_cast<std::size_t>(e.length - extent_offset_)});
    spool_.read(e.offset + extent_offset_, {expected.data(), n});
    const auto [mine, theirs] = std::mismatch(bytes.begin(), bytes.begin() + n, expected.begin());
    if (mine != bytes.begin() + static_cast<long>(n)) {
      differs_at_ = received_ + static_cast<std::uint64_t>(mine - bytes.begin());
    }
    received_ += n;
    bytes = bytes.subspan(n);
    extent_offset_ += n;
    if (extent_offset_ == e.length) {
      ++extent_;
      extent_offset_ = 0;
    }
  }
  received_ += bytes.size();  // past the captured reply, or after a difference
}

void ReplyChecker::finish(FlowResult& result) const {
  result.reply = received_;
  const std::uint64_t captured = captured_.contiguous;
  result.captured_reply = captured;
  result.captured_reply_complete = captured_.complete();
  if (differs_at_) {
    result.compare = Compare::different;
    result.offset = *differs_at_;
  } else if (received_ < captured) {
    result.compare = Compare::shorter;
    result.offset = received_;
  } else if (received_ > captured && result.captured_reply_complete) {
    result.compare = Compare::longer;
    result.offset = captured;
  } else {
    result.compare = Compare::equal;  // past a gap in the captured reply nothing can be judged
  }
}

}  // namespace spliceproxy::replay
