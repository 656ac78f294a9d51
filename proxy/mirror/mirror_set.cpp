// MirrorSet: sink construction, sampling, lifecycle.
#include "proxy/mirror/mirror_set.hpp"

#include <fmt/format.h>

#include <random>

#include "proxy/base/log.hpp"
#include "proxy/mirror/pcapng_sink.hpp"
#include "proxy/mirror/shadow_sink.hpp"

namespace spliceproxy {
namespace {

// Feed pipes absorb a sink's pauses (a disk flush, a slow consumer, the scheduler) before
// bytes are dropped; the kernel grants at most pipe-max-size (1 MiB by default).
constexpr std::size_t kFeedPipeSize = std::size_t{1} << 20;

std::unique_ptr<MirrorSink> make_sink(const config::Mirror& mirror, unsigned workers) {
  switch (mirror.type) {
    case config::MirrorType::pcapng_file:
      return std::make_unique<PcapngFileSink>(mirror, workers, kFeedPipeSize);
    case config::MirrorType::pcapng_tcp:
      return std::make_unique<PcapngTcpSink>(mirror, workers, kFeedPipeSize);
    case config::MirrorType::shadow:
      return std::make_unique<ShadowSink>(mirror, workers, kFeedPipeSize);
  }
  return nullptr;
}

bool sampled(double fraction) {
  if (fraction >= 1.0) return true;
  thread_local std::minstd_rand generator{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(generator) < fraction;
}

unsigned direction_mask(const config::MirrorRef& ref) {
  switch (ref.direction) {
    case config::MirrorDirection::client_to_backend:
      return 1u;
    case config::MirrorDirection::backend_to_client:
      return 2u;
    case config::MirrorDirection::both:
      return 3u;
  }
  return 0u;
}

}  // namespace

MirrorSet::MirrorSet(const config::Config& config, unsigned workers) {
  for (const config::Mirror& mirror : config.mirrors)
    sinks_.push_back(make_sink(mirror, workers));
}

MirrorSet::~MirrorSet() {
  stop();
}

void MirrorSet::start() {
  for (auto& sink : sinks_)
    sink->start();
}

void MirrorSet::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& sink : sinks_)
    sink->stop();
}

MirrorSink* MirrorSet::find(const std::string& name) const {
  for (const auto& sink : sinks_) {
    if (sink->name() == name) return sink.get();
  }
  return nullptr;
}

std::unique_ptr<MirrorTap> MirrorSet::tap_for(const config::Listener& listener, unsigned worker,
                                              Stats& stats) {
  std::unique_ptr<MirrorTap> tap;
  for (const config::MirrorRef& ref : listener.mirrors) {
    MirrorSink* sink = find(ref.mirror);
    if (!sink || !sampled(ref.sample)) continue;
    if (!tap) tap = std::make_unique<MirrorTap>(stats);
    tap->add(*sink, direction_mask(ref) & sink->directions(), worker, ++next_flow_);
  }
  return tap;
}

std::vector<std::string> MirrorSet::summaries() const {
  std::vector<std::string> lines;
  for (const auto& sink : sinks_) {
    auto& c = sink->counters();
    lines.push_back(fmt::format("mirror {}: bytes={} dropped_bytes={} gaps={}", sink->name(),
                                c.bytes.load(), c.dropped_bytes.load(), c.gaps.load()));
  }
  return lines;
}

}  // namespace spliceproxy
