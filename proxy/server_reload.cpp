// Server, SIGHUP: load the config file again and switch to it, or keep the old one.
//
//   load + validate ──▶ refuse what needs a restart ──▶ pools ──▶ bind new listeners ──▶ apply
//   (any step failing: the error is logged, config_reloads_failed_total counts it and nothing
//    has changed; sockets bound by the failed attempt are closed again)
//
// Applying: kept listeners (same name and address) keep their sockets and get the new route;
// removed ones close; new ones open on every worker. A listener moved to another address closes
// and opens there, and keeps its Admission, as a kept one does: max_connections and the
// per-source limit count the sessions of both addresses. Sessions finish on the snapshot and
// pool they started with.
#include <fmt/ranges.h>

#include <algorithm>
#include <boost/asio/post.hpp>

#include "proxy/base/log.hpp"
#include "proxy/listener.hpp"
#include "proxy/server.hpp"

namespace spliceproxy {
namespace {

// Throws std::runtime_error for a change that takes a restart.
void refuse_restart_changes(const config::Config& current, const config::Config& next) {
  const auto refuse = [&](const char* what) {
    throw std::runtime_error(
        fmt::format("{}: {} changed: it takes a restart, not a reload", next.source, what));
  };
  if (next.workers != current.workers) refuse("workers");
  if (next.busy_poll != current.busy_poll) refuse("busy_poll");
  if (!(next.splice == current.splice)) refuse("splice");
  if (next.mirrors != current.mirrors) refuse("mirrors");
  if (next.log.access != current.log.access) refuse("log.access");
  if (!(next.admin == current.admin)) refuse("admin");
}

bool kept(const config::Listener& old, const config::Listener& next) {
  return old.name == next.name && old.listen == next.listen;
}

}  // namespace

struct Server::Staged {
  config::ConfigPtr config;
  PoolMap pools;
  std::map<std::string, ListenSockets> bound;      // new listeners (or ones whose address changed)
  std::vector<const config::Listener*> new_modes;  // kept Unix listeners whose `mode` changed
};

void Server::reload() {
  const std::uint64_t generation = reloads().generation;
  log::info("SIGHUP: reloading {}", options_.config_path);
  try {
    auto next =
        std::make_shared<const config::Config>(config::load_config_file(options_.config_path));
    apply(stage(std::move(next)));
  } catch (const std::exception& error) {
    {
      const std::lock_guard lock(mutex_);
      ++reloads_.failed;
    }
    forget_unused_pools();  // the failed attempt's new pools
    control_stats_.add(Counter::config_reloads_failed_total);
    log::error("reload failed, generation {} keeps serving: {}", generation, error.what());
  }
}

// Everything that can fail, before anything changes.
Server::Staged Server::stage(config::ConfigPtr next) const {
  refuse_restart_changes(*config_, *next);
  Staged staged{next, build_pools(*next), {}, {}};
  try {
    for (const auto& listener : next->listeners) {
      const auto old = listeners_.find(listener.name);
      if (old != listeners_.end() && kept(old->second.config, listener)) {
        if (listener.listen.is_unix() && listener.socket_mode != old->second.config.socket_mode) {
          check_socket_file(listener);
          staged.new_modes.push_back(&listener);
        }
        continue;
      }
      staged.bound[listener.name] = bind_listen_sockets(listener, next->workers);
    }
  } catch (...) {
    for (const auto& listener : next->listeners) {
      if (staged.bound.count(listener.name)) remove_socket_file(listener);
    }
    throw;
  }
  return staged;
}

// Closes the listeners the new config drops or moves to another address (their Unix files
// too); returns the names of those dropped.
std::vector<std::string> Server::close_dropped(const Staged& staged) {
  std::vector<std::string> removed;
  const auto& next = staged.config->listeners;
  for (const auto& [name, entry] : listeners_) {
    const bool moved = staged.bound.count(name) != 0;
    const bool dropped = std::none_of(next.begin(), next.end(),
                                      [&, &name = name](const auto& l) { return l.name == name; });
    if (!moved && !dropped) continue;
    close_on_workers(entry.config);
    if (dropped) removed.push_back(name);
  }
  return removed;
}

// Switches what the getters read to the new config; returns the pools it replaced.
Server::PoolMap Server::commit(Staged& staged, const std::vector<std::string>& removed) {
  const std::lock_guard lock(mutex_);
  PoolMap previous = std::exchange(pools_, std::move(staged.pools));
  for (const auto& name : removed)
    listeners_.erase(name);
  for (const auto& listener : staged.config->listeners) {
    const auto bound = staged.bound.find(listener.name);
    if (bound != staged.bound.end()) {
      // A listener moved to another address keeps its Admission: the sessions it started
      // still count towards its limits.
      const auto moved = listeners_.find(listener.name);
      std::shared_ptr<Admission> admission;
      if (moved != listeners_.end()) {
        admission = moved->second.admission;
        admission->reconfigure(listener);
      } else {
        admission = std::make_shared<Admission>(listener);
      }
      listeners_[listener.name] = ListenerEntry{listener, bound->second.address, admission};
    } else {
      ListenerEntry& entry = listeners_.at(listener.name);
      entry.config = listener;
      entry.admission->reconfigure(listener);  // wake-ups only post: no lock taken in them
    }
  }
  config_ = staged.config;
  reloads_.succeeded++;
  reloads_.generation++;
  return previous;
}

void Server::apply(Staged staged) {
  const config::ConfigPtr next = staged.config;
  if (!options_.log_level_fixed) log::set_level(next->log.level);
  const std::vector<std::string> removed = close_dropped(staged);
  const PoolMap previous = commit(staged, removed);
  control_stats_.add(Counter::config_reloads_total);
  std::vector<std::string> added, kept_names;
  for (const auto& listener : next->listeners) {
    const auto bound = staged.bound.find(listener.name);
    if (bound != staged.bound.end()) {
      log::info("listener {} listening on {} -> backend {}", listener.name, bound->second.address,
                listener.backend);
      added.push_back(listener.name);
      open_on_workers(next, listener, std::move(bound->second));
      continue;
    }
    kept_names.push_back(listener.name);
    if (std::count(staged.new_modes.begin(), staged.new_modes.end(), &listener) != 0) {
      try {
        set_socket_file_mode(listener);  // checked by stage(): fails only if changed since
      } catch (const std::exception& error) {
        log::error("reload: {}", error.what());
      }
    }
    const auto route = route_for(next, listener);
    for (auto& worker : workers_)
      worker->post([w = worker.get(), route] { w->set_route(route); });
  }
  start_checkers(previous);
  forget_unused_pools();
  log::info("config reloaded, generation {}: listeners added [{}], removed [{}], kept [{}]",
            reloads().generation, fmt::join(added, ", "), fmt::join(removed, ", "),
            fmt::join(kept_names, ", "));
}

// Discovery stops following the pools no longer in use.
void Server::forget_unused_pools() {
  std::vector<std::shared_ptr<UpstreamPool>> used;
  for (const auto& [name, pool] : pools_)
    used.push_back(pool);
  discovery_->keep_only(used);
}

}  // namespace spliceproxy
