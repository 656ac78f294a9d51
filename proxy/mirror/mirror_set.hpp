// MirrorSet: the running mirror sinks of the proxy, built from the config's `mirrors`, and how
// a session joins them: the sample draw and the MirrorTap it hands to its channels.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "proxy/base/stats.hpp"
#include "proxy/mirror/mirror_sink.hpp"
#include "proxy/mirror/mirror_tap.hpp"

namespace spliceproxy {

class MirrorSet {
 public:
  // Sinks fed by `workers` workers.
  MirrorSet(const config::Config& config, unsigned workers);
  ~MirrorSet();

  // Starts every sink's thread; throws std::runtime_error naming the sink that failed.
  void start();
  // Drains and stops every sink, then logs each one's counters. Idempotent.
  void stop();

  // The tap for a session of `listener` accepted on worker `worker`, with the mirrors its sample
  // draw chose; null when none (the channels then make no mirror calls at all).
  std::unique_ptr<MirrorTap> tap_for(const config::Listener& listener, unsigned worker,
                                     Stats& stats);

  // The sinks, for their names and counters (metrics).
  const std::vector<std::unique_ptr<MirrorSink>>& sinks() const { return sinks_; }

  // "mirror NAME: bytes=... dropped_bytes=... gaps=..." for each sink.
  std::vector<std::string> summaries() const;

 private:
  MirrorSink* find(const std::string& name) const;

  std::vector<std::unique_ptr<MirrorSink>> sinks_;
  std::atomic<std::uint64_t> next_flow_{0};
  bool stopped_ = false;
};

}  // namespace spliceproxy
