// replay_flow: one captured flow sent to the target on its own connection, and the target's
// reply compared with the captured one.
//
//   spool (client_to_backend extents) ──sendfile, at the captured pace──► target
//   spool (backend_to_client extents) ◄──compare, byte by byte── target's reply
//
// The connection is nonblocking and driven by poll: the reply is read while the request is
// still being sent (a target that echoes must never wait on us). After the last byte the write
// side is shut down, and the reply is read until the target closes, resets, or stays silent
// for the idle timeout.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "tools/capture/flow_table.hpp"
#include "tools/capture/payload_spool.hpp"
#include "tools/replay/replay_options.hpp"

namespace spliceproxy::replay {

using Clock = std::chrono::steady_clock;

enum class Outcome { replayed, skipped_gap, skipped_start, connect_failed, failed };
enum class Compare { equal, different, shorter, longer };
enum class Ending { closed, reset, idle_timeout, none };

const char* name(Outcome outcome);
const char* name(Compare compare);
const char* name(Ending ending);

struct FlowResult {
  Outcome outcome = Outcome::replayed;
  std::string error;                     // connect_failed/failed: why; replayed: a send error
  std::uint64_t to_send = 0;             // captured client bytes to send (up to the first gap)
  std::uint64_t sent = 0;                // of those, sent
  std::uint64_t captured_reply = 0;      // captured backend bytes up to their first gap
  bool captured_reply_complete = false;  // and no byte of the reply was lost in the capture
  std::uint64_t reply = 0;               // bytes the target sent back
  Compare compare = Compare::equal;
  std::uint64_t offset = 0;  // different: first differing byte; shorter/longer: the shorter end
  Ending ending = Ending::none;
};

// Replays `flow` now: its first byte goes at `start`, the others at their captured distance
// from the flow's first packet divided by options.speed (speed 0: at once). Never throws for
// what the network does; the result says it.
FlowResult replay_flow(const capture::Flow& flow, const capture::PayloadSpool& spool,
                       const ReplayOptions& options, Clock::time_point start);

// Compares the reply with `flow`'s captured backend_to_client bytes as they arrive.
class ReplyChecker {
 public:
  ReplyChecker(const capture::FlowDirection& captured, const capture::PayloadSpool& spool);
  void add(std::span<const std::uint8_t> bytes);
  // Sets reply, compare and offset of `result`.
  void finish(FlowResult& result) const;

 private:
  const capture::FlowDirection& captured_;
  const capture::PayloadSpool& spool_;
  std::size_t extent_ = 0;           // extent holding reply byte `received_`
  std::uint64_t extent_offset_ = 0;  // and where in it
  std::uint64_t received_ = 0;
  std::optional<std::uint64_t> differs_at_;
};

}  // namespace spliceproxy::replay
