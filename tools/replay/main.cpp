// spliceproxy-replay: replays captured flows against another server and compares its replies
// with the captured ones (usage in replay_options.cpp, the README's "Replaying a capture").
//
//   captures ──libpcap──► FlowTable ──contiguous payload──► PayloadSpool (a temp file)
//   selected flows ──N threads, one flow at a time each──► replay_flow ──► report
//
// Exit status: 0 when every replayed flow got the captured reply, 1 when one differed or
// failed, 2 for a bad command line, an unreadable capture, or a target no flow could reach.
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "tools/capture/capture_set.hpp"
#include "tools/capture/payload_spool.hpp"
#include "tools/replay/flow_replay.hpp"
#include "tools/replay/replay_options.hpp"
#include "tools/replay/replay_report.hpp"

namespace {

using namespace spliceproxy;
using namespace spliceproxy::replay;

// Reads the captures into `table`, keeping each direction's gapless bytes in `spool`.
void load(const ReplayOptions& o, capture::FlowTable& table, capture::PayloadSpool& spool) {
  const capture::CaptureStats stats =
      capture::read_captures(o.captures, table, [&](const auto& placed, const auto& segment) {
        if (!placed.contiguous || placed.payload.empty()) return;
        auto& direction = table.flows()[placed.flow].dir[placed.direction];
        spool.append(direction, placed.payload, segment.time_us);
      });
  if (table.flows().empty()) {
    throw capture::CaptureError(
        fmt::format("no TCP flow in the capture ({} packets, {} of them not TCP over IP)",
                    stats.packets, stats.skipped_packets));
  }
}

bool endpoint_matches(const std::vector<std::string>& wanted, const std::string& endpoint) {
  if (wanted.empty()) return true;
  const std::string host = endpoint.substr(0, endpoint.rfind(':'));
  return std::any_of(wanted.begin(), wanted.end(),
                     [&](const std::string& w) { return w == endpoint || w == host; });
}

bool in_window(const ReplayOptions& o, std::int64_t first_us, std::int64_t capture_start) {
  const auto at = [&](const TimeBound& b) { return b.relative ? capture_start + b.us : b.us; };
  return (!o.from || first_us >= at(*o.from)) && (!o.until || first_us < at(*o.until));
}

// The flows the options select, in order of their first packet, each skipped flow's outcome
// already decided.
std::vector<FlowReport> select(const ReplayOptions& o, const std::vector<capture::Flow>& flows) {
  std::int64_t capture_start = flows.front().first_us;
  for (const capture::Flow& flow : flows)
    capture_start = std::min(capture_start, flow.first_us);
  std::vector<FlowReport> reports;
  for (std::size_t i = 0; i < flows.size(); ++i) {
    const capture::Flow& flow = flows[i];
    if (!endpoint_matches(o.backends, flow.backend) || !endpoint_matches(o.clients, flow.client) ||
        !in_window(o, flow.first_us, capture_start))
      continue;
    FlowReport report{i, &flow, {}};
    const capture::FlowDirection& request = flow.dir[capture::kClientToBackend];
    report.result.to_send = request.contiguous;
    if (!flow.start_captured()) {
      report.result.outcome = Outcome::skipped_start;
    } else if (request.gaps > 0 && !o.allow_gaps) {
      report.result.outcome = Outcome::skipped_gap;
    }
    reports.push_back(report);
  }
  std::stable_sort(reports.begin(), reports.end(), [](const FlowReport& a, const FlowReport& b) {
    return a.flow->first_us < b.flow->first_us;
  });
  return reports;
}

// Replays the flows of `reports` not skipped, `o.concurrency` at a time. Returns the error of
// the first connect when no flow could connect (the replay then stops early), else "".
std::string replay_all(const ReplayOptions& o, const capture::PayloadSpool& spool,
                       std::vector<FlowReport>& reports) {
  std::vector<FlowReport*> todo;
  for (FlowReport& report : reports) {
    if (report.result.outcome == Outcome::replayed) todo.push_back(&report);
  }
  if (todo.empty()) return "";
  const std::int64_t first_us = todo.front()->flow->first_us;
  const auto start = Clock::now();
  std::atomic<std::size_t> next{0};
  std::atomic<bool> connected{false}, unreachable{false};
  std::mutex mutex;
  std::string unreachable_error;
  const auto worker = [&] {
    for (std::size_t i; !unreachable && (i = next++) < todo.size();) {
      FlowReport& report = *todo[i];
      const double offset_us = static_cast<double>(report.flow->first_us - first_us);
      const auto at =
          o.speed == 0
              ? start
              : start + std::chrono::microseconds(static_cast<std::int64_t>(offset_us / o.speed));
      report.result = replay_flow(*report.flow, spool, o, at);
      if (report.result.outcome != Outcome::connect_failed) {
        connected = true;
      } else if (!connected) {
        std::lock_guard lock(mutex);
        if (!unreachable.exchange(true)) unreachable_error = report.result.error;
      }
    }
  };
  std::vector<std::thread> threads;
  const std::size_t count = std::min<std::size_t>(o.concurrency, todo.size());
  for (std::size_t t = 0; t < count; ++t)
    threads.emplace_back(worker);
  for (std::thread& thread : threads)
    thread.join();
  return connected ? "" : unreachable_error;
}

double cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// "replay: sent N bytes in S s (M MiB/s), cpu C s": the replay phase alone, loading excluded.
void print_pace(const std::vector<FlowReport>& reports, Clock::time_point start, double cpu) {
  std::uint64_t sent = 0;
  for (const FlowReport& report : reports)
    sent += report.result.sent;
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("replay: sent %llu bytes in %.3f s (%.1f MiB/s), cpu %.3f s\n",
              static_cast<unsigned long long>(sent), seconds,
              static_cast<double>(sent) / (1 << 20) / std::max(seconds, 1e-9), cpu_seconds() - cpu);
}

int run(const ReplayOptions& o) {
  capture::FlowTable table;
  capture::PayloadSpool spool(o.spool_dir);
  load(o, table, spool);
  std::vector<FlowReport> reports = select(o, table.flows());
  if (reports.empty()) {
    std::fprintf(stderr, "spliceproxy-replay: no flow of the %zu in the capture is selected\n",
                 table.flows().size());
    return 2;
  }
  const auto start = Clock::now();
  const double cpu = cpu_seconds();
  const std::string unreachable = replay_all(o, spool, reports);
  if (!unreachable.empty()) {
    std::fprintf(stderr, "spliceproxy-replay: cannot reach the target: %s\n", unreachable.c_str());
    return 2;
  }
  print_summary(stdout, reports, table.flows().size());
  print_pace(reports, start, cpu);
  if (!o.report_path.empty() && !write_report(o.report_path, reports)) {
    std::fprintf(stderr, "spliceproxy-replay: cannot write %s: %s\n", o.report_path.c_str(),
                 std::strerror(errno));
    return 2;
  }
  return all_equal(reports) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);  // sendfile to a socket the target closed: EPIPE, not a signal
  try {
    const auto options = parse_options({argv + 1, argv + argc});
    if (!options) {
      std::fputs(kUsage, stdout);
      return 0;
    }
    return run(*options);
  } catch (const UsageError& error) {
    std::fprintf(stderr, "spliceproxy-replay: %s\n%s", error.what(), kUsage);
    return 2;
  } catch (const capture::CaptureError& error) {
    std::fprintf(stderr, "spliceproxy-replay: %s\n", error.what());
    return 2;
  }
}
