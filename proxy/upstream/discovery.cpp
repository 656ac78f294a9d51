// Discovery: the lookup thread, holding bad answers over, applying good ones; see discovery.hpp.
#include "proxy/upstream/discovery.hpp"

#include <algorithm>
#include <optional>

#include <fmt/ranges.h>

#include "proxy/base/log.hpp"

namespace spliceproxy {

struct Discovery::Entry {
  std::shared_ptr<UpstreamPool> pool;
  std::size_t index = 0;  // in pool->backend().servers
  config::Server server;
  config::Resolve resolve;
  std::unique_ptr<DnsResolver> resolver;
  // Under the Discovery's mutex_:
  Clock::time_point due{};
  std::optional<Clock::time_point> bad_since;  // first bad answer of the current run
  std::string last_result = "none";
  std::string last_error;
  std::vector<std::string> servers;
};

Discovery::Discovery(std::function<void(const std::shared_ptr<UpstreamPool>&)> changed)
    : changed_(std::move(changed)) {}

Discovery::~Discovery() {
  stop();
}

void Discovery::add(const std::shared_ptr<UpstreamPool>& pool) {
  {
    const std::lock_guard lock(mutex_);
    if (std::any_of(entries_.begin(), entries_.end(), [&](auto& e) { return e->pool == pool; }))
      return;
  }
  const config::Backend& backend = pool->backend();
  for (std::size_t i = 0; i < backend.servers.size(); ++i) {
    if (backend.servers[i].discovery == config::ServerDiscovery::none) continue;
    auto entry = std::make_shared<Entry>();
    entry->pool = pool;
    entry->index = i;
    entry->server = backend.servers[i];
    entry->resolve = backend.resolve;
    entry->resolver =
        std::make_unique<DnsResolver>(backend.resolve.nameservers, backend.resolve.timeout);
    refresh(*entry);
    const std::lock_guard lock(mutex_);
    entries_.push_back(std::move(entry));
  }
  wake_.notify_all();
}

void Discovery::keep_only(const std::vector<std::shared_ptr<UpstreamPool>>& used) {
  const std::lock_guard lock(mutex_);
  std::erase_if(entries_, [&](const std::shared_ptr<Entry>& entry) {
    return std::find(used.begin(), used.end(), entry->pool) == used.end();
  });
}

void Discovery::start() {
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
}

void Discovery::stop() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Discovery::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    std::shared_ptr<Entry> next;
    for (const auto& entry : entries_)
      if (!next || entry->due < next->due) next = entry;
    if (!next) {
      wake_.wait(lock);
    } else if (Clock::now() < next->due) {
      wake_.wait_until(lock, next->due);
    } else {
      lock.unlock();
      refresh(*next);
      lock.lock();
    }
  }
}

void Discovery::refresh(Entry& entry) {
  const std::lock_guard lookup(lookup_mutex_);
  const config::Server& server = entry.server;
  const DnsAnswer answer =
      server.discovery == config::ServerDiscovery::srv
          ? entry.resolver->lookup_srv(server.address.host)
          : entry.resolver->lookup_addresses(server.address.host, server.address.port);
  stats_.add(answer.status == DnsStatus::ok           ? Counter::dns_lookups_ok_total
             : answer.status == DnsStatus::failed     ? Counter::dns_lookups_failed_total
             : answer.status == DnsStatus::bad_answer ? Counter::dns_lookups_bad_answer_total
                                                      : Counter::dns_lookups_no_record_total);
  apply(entry, answer, Clock::now());
}

void Discovery::apply(Entry& entry, const DnsAnswer& answer, Clock::time_point now) {
  const config::Resolve& resolve = entry.resolve;
  const std::string& backend = entry.pool->backend().name;
  const std::string origin = entry.server.origin();
  std::unique_lock lock(mutex_);
  entry.last_result = std::string(to_string(answer.status));
  entry.last_error = answer.error;
  if (answer.status == DnsStatus::ok) {
    if (entry.bad_since) log::info("backend {}: {} answers again", backend, origin);
    entry.bad_since.reset();
    const auto ttl = std::chrono::duration_cast<config::Duration>(answer.ttl);
    entry.due = now + std::clamp(ttl, resolve.min_interval, resolve.max_interval);
    std::vector<DiscoveredServer> servers;
    for (const DnsRecord& record : answer.records)
      servers.push_back({record.endpoint, record.weight});
    lock.unlock();
    return replace_servers(entry, servers);
  }
  entry.due = now + resolve.min_interval;
  if (!entry.bad_since) {
    entry.bad_since = now;
    log::warn("backend {}: lookup of {} {}: {}; keeping its {} servers for {} ms", backend, origin,
              answer.status == DnsStatus::failed ? "failed" : "gave no server", answer.error,
              entry.servers.size(), resolve.hold.count());
  }
  if (now - *entry.bad_since < resolve.hold || entry.servers.empty()) return;
  log::warn("backend {}: {} gave no good answer for {} ms: its servers leave the pool", backend,
            origin, resolve.hold.count());
  lock.unlock();
  replace_servers(entry, {});
}

void Discovery::replace_servers(Entry& entry, const std::vector<DiscoveredServer>& servers) {
  const ServerSetChange change = entry.pool->set_entry_servers(entry.index, servers);
  std::vector<std::string> names;
  for (const DiscoveredServer& server : servers)
    names.push_back(net::to_string(server.endpoint));
  {
    const std::lock_guard lock(mutex_);
    entry.servers = names;
  }
  if (change.empty()) return;
  stats_.add(Counter::servers_added_total, change.added.size());
  stats_.add(Counter::servers_removed_total, change.removed.size());
  const std::string& backend = entry.pool->backend().name;
  log::info("backend {}: {} -> [{}] (added [{}], removed [{}])", backend, entry.server.origin(),
            fmt::join(names, ", "), fmt::join(change.added, ", "), fmt::join(change.removed, ", "));
  if (entry.pool->size() == 0)
    log::warn("backend {} has no server: its clients are refused", backend);
  changed_(entry.pool);
}

std::vector<std::string> describe_discovery(const config::Config& config) {
  std::vector<std::string> lines;
  for (const config::Backend& backend : config.backends) {
    for (const config::Server& server : backend.servers) {
      if (server.discovery == config::ServerDiscovery::none) continue;
      DnsResolver resolver(backend.resolve.nameservers, backend.resolve.timeout);
      const DnsAnswer answer =
          server.discovery == config::ServerDiscovery::srv
              ? resolver.lookup_srv(server.address.host)
              : resolver.lookup_addresses(server.address.host, server.address.port);
      std::vector<std::string> names;
      for (const DnsRecord& record : answer.records)
        names.push_back(net::to_string(record.endpoint) +
                        (record.weight ? fmt::format(" weight {}", record.weight) : ""));
      lines.push_back(answer.status == DnsStatus::ok
                          ? fmt::format("backend {}: {} -> [{}] (ttl {}s)", backend.name,
                                        server.origin(), fmt::join(names, ", "), answer.ttl.count())
                          : fmt::format("backend {}: {} -> {}: {}", backend.name, server.origin(),
                                        to_string(answer.status), answer.error));
    }
  }
  return lines;
}

std::vector<DiscoveryStatus> Discovery::status() const {
  const std::lock_guard lock(mutex_);
  std::vector<DiscoveryStatus> out;
  for (const auto& e : entries_)
    out.push_back({e->pool->backend().name, e->server.origin(), e->last_result, e->last_error,
                   e->bad_since.has_value(), e->servers});
  return out;
}

}  // namespace spliceproxy
