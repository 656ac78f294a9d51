// Discovery: follows the DNS names of the pools' discovered entries (`resolve: true`, `srv`)
// on a thread of its own, so no lookup ever waits on a worker's or the control thread's loop.
//
//   add(pools) (control thread: start, reload) ── first lookup now ──▶ pool.set_entry_servers
//   thread: each entry when due ── DnsResolver ──▶ answer ──▶ pool.set_entry_servers ──▶ changed()
//
// An ok answer replaces the entry's servers and is looked up again after its TTL, kept within
// [min_interval, max_interval]. Any other answer keeps the servers the entry has, for `hold`
// from the first bad answer in a row (logged once, counted each time, shown as `stale`), and
// is retried every min_interval; once the hold passes the entry's servers are removed. A
// backend left with no server is logged once per change.
//
// Threads: add() and remove_unused() from the control thread, status() from any; the state of
// each entry is under mutex_, lookups run without it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "proxy/base/stats.hpp"
#include "proxy/upstream/dns_resolver.hpp"
#include "proxy/upstream/upstream_pool.hpp"

namespace spliceproxy {

// One discovered entry as /servers and /metrics show it.
struct DiscoveryStatus {
  std::string backend;
  std::string name;                  // the entry's origin: "app:8080" or an SRV name
  std::string last_result;           // "ok", "nxdomain", "empty", "failed", "bad_answer"
  std::string last_error;            // empty after an ok answer
  bool stale = false;                // a bad answer is being held over
  std::vector<std::string> servers;  // what it expands to now
};

// --check: one line per discovered entry of `config`, looked up once now: "backend app:
// app.svc:8080 -> [10.0.0.7:8080, 10.0.0.8:8080]" or the lookup's error.
std::vector<std::string> describe_discovery(const config::Config& config);

class Discovery {
 public:
  // `changed` runs on the discovery thread after a pool's server set changed (the Server posts
  // a health check sync to its control thread).
  explicit Discovery(std::function<void(const std::shared_ptr<UpstreamPool>&)> changed);
  ~Discovery();

  // Control thread. Follows the discovered entries of `pool` (nothing if it has none or is
  // followed already): looks each up once now (blocking this thread up to the resolve
  // timeout), so the pool has its servers before it serves.
  void add(const std::shared_ptr<UpstreamPool>& pool);
  // Control thread. Forgets the pools not in `used` (a reload replaced them).
  void keep_only(const std::vector<std::shared_ptr<UpstreamPool>>& used);
  void start();
  void stop();

  // Any thread.
  std::vector<DiscoveryStatus> status() const;
  // Any thread. Lookups counted by result, on the discovery thread's own Stats.
  const Stats& stats() const { return stats_; }

 private:
  struct Entry;
  void run();
  // Looks `entry` up and applies the answer (no lock held during the lookup).
  void refresh(Entry& entry);
  void apply(Entry& entry, const DnsAnswer& answer, Clock::time_point now);
  void replace_servers(Entry& entry, const std::vector<DiscoveredServer>& servers);

  std::function<void(const std::shared_ptr<UpstreamPool>&)> changed_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<std::shared_ptr<Entry>> entries_;  // under mutex_
  bool stopping_ = false;                        // under mutex_
  Stats stats_;              // written by the thread that looks up (one at a time: see add())
  std::mutex lookup_mutex_;  // one lookup at a time: the control thread's add() and the thread's
  std::thread thread_;
};

}  // namespace spliceproxy
