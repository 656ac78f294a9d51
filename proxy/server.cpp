// Server: start-up checks, workers, listeners, signals and the thread-safe getters.
#include "proxy/server.hpp"

#include <pthread.h>
#include <boost/asio/post.hpp>

#include <csignal>
#include <fstream>

#include "proxy/base/log.hpp"
#include "proxy/datapath/pipe.hpp"
#include "proxy/listener.hpp"

namespace spliceproxy {
namespace {

std::string read_proc_value(const char* path) {
  std::ifstream in(path);
  std::string value;
  in >> value;
  return value.empty() ? "?" : value;
}

}  // namespace

Server::Server(config::ConfigPtr config, ServerOptions options)
    : options_(std::move(options)), mirrors_(*config, config->workers), config_(std::move(config)) {
  for (unsigned i = 0; i < config_->workers; ++i)
    workers_.push_back(std::make_unique<Worker>(i, config_->workers, config_->splice, &mirrors_,
                                                config_->busy_poll));
  discovery_ = std::make_unique<Discovery>([this](const std::shared_ptr<UpstreamPool>& pool) {
    boost::asio::post(io_, [this, pool] { on_servers_changed(pool); });
  });
}

Server::~Server() {
  discovery_->stop();
  for (auto& [name, checker] : checkers_)
    checker->stop();
}

void Server::open() {
  // Signals from here on are queued for run(): a SIGHUP sent as soon as a listener is logged
  // must not find the default action (which ends the process).
  signals_.add(SIGINT);
  signals_.add(SIGTERM);
  signals_.add(SIGHUP);
  signals_.add(SIGUSR1);
  log::info("{} workers", workers_.size());
  pipe_size_granted_ = log_pipe_limits();
  PoolMap pools = build_pools(*config_);
  {
    const std::lock_guard lock(mutex_);
    pools_ = std::move(pools);
  }
  mirrors_.start();
  for (const auto& listener : config_->listeners) {
    ListenSockets sockets = bind_listen_sockets(listener, config_->workers);
    log::info("listener {} listening on {} -> backend {}", listener.name, sockets.address,
              listener.backend);
    {
      const std::lock_guard lock(mutex_);
      listeners_[listener.name] =
          ListenerEntry{listener, sockets.address, std::make_shared<Admission>(listener)};
    }
    open_on_workers(config_, listener, std::move(sockets));
  }
  open_operations();
}

Server::PoolMap Server::build_pools(const config::Config& next) const {
  PoolMap pools;
  for (const auto& backend : next.backends) {
    const auto old = pools_.find(backend.name);
    if (old != pools_.end() && old->second->backend() == backend) {
      pools[backend.name] = old->second;
      continue;
    }
    pools[backend.name] = make_pool(backend);
  }
  return pools;
}

std::shared_ptr<UpstreamPool> Server::make_pool(const config::Backend& backend) const {
  auto pool = std::make_shared<UpstreamPool>(backend);
  for (std::size_t i = 0; i < backend.servers.size(); ++i) {
    const config::Server& server = backend.servers[i];
    if (server.discovery == config::ServerDiscovery::none)
      pool->set_entry_servers(i, {DiscoveredServer{net::to_endpoint(server.address), 0}});
  }
  discovery_->add(pool);  // the first lookups, logged with what each name expanded to
  log::info("backend {}: {} servers, balance {}, {} connect attempts", backend.name, pool->size(),
            config::to_string(backend.balance), backend.max_connect_attempts);
  return pool;
}

void Server::on_servers_changed(const std::shared_ptr<UpstreamPool>& pool) {
  const auto checker = checkers_.find(pool->backend().name);
  const auto current = pools_.find(pool->backend().name);
  if (checker != checkers_.end() && current != pools_.end() && current->second == pool)
    checker->second->sync();
}

std::shared_ptr<UpstreamPool> Server::pool(const std::string& name) const {
  const std::lock_guard lock(mutex_);
  const auto it = pools_.find(name);
  return it == pools_.end() ? nullptr : it->second;
}

// Health checkers for the pools in pools_ that are not in `previous` (new or rebuilt ones);
// those of pools no longer used stop.
void Server::start_checkers(const PoolMap& previous) {
  for (auto it = checkers_.begin(); it != checkers_.end();) {
    const auto pool = pools_.find(it->first);
    const auto old = previous.find(it->first);
    const bool kept = pool != pools_.end() && old != previous.end() && pool->second == old->second;
    if (kept) {
      ++it;
      continue;
    }
    it->second->stop();
    it = checkers_.erase(it);
  }
  for (const auto& [name, pool] : pools_) {
    if (!pool->backend().health_check.enabled || checkers_.count(name)) continue;
    auto checker = std::make_unique<HealthChecker>(io_, pool, control_stats_);
    checker->start();
    checkers_[name] = std::move(checker);
  }
}

std::shared_ptr<const ListenerRoute> Server::route_for(const config::ConfigPtr& config,
                                                       const config::Listener& listener) const {
  auto route = std::make_shared<ListenerRoute>(ListenerRoute{
      config, &listener, pools_.at(listener.backend), listeners_.at(listener.name).admission});
  for (const auto& tls_route : listener.tls_routes)
    route->tls_pools.push_back(pools_.at(tls_route.backend));
  if (!listener.not_tls.empty()) route->not_tls_pool = pools_.at(listener.not_tls);
  return route;
}

void Server::open_on_workers(const config::ConfigPtr& config, const config::Listener& listener,
                             ListenSockets sockets) {
  const auto route = route_for(config, listener);
  for (auto& worker : workers_) {
    auto fd = std::make_shared<UniqueFd>(std::move(sockets.fds[worker->index()]));
    worker->post([w = worker.get(), route, fd] { w->open_listener(route, std::move(*fd)); });
  }
}

void Server::close_on_workers(const config::Listener& listener) {
  for (auto& worker : workers_)
    worker->post([w = worker.get(), name = listener.name] { w->close_listener(name); });
  remove_socket_file(listener);
}

// The kernel may grant less than asked (pipe-max-size, or the per-user budget of
// pipe-user-pages-soft pages once exceeded); say so once at start.
std::size_t Server::log_pipe_limits() const {
  const std::size_t wanted = config_->splice.pipe_size;
  const auto probe = Pipe::create(wanted);
  const std::size_t granted = probe ? probe->capacity() : 0;
  const auto level = granted < wanted ? log::Level::warn : log::Level::info;
  log::at(level,
          "splice mode {}: pipe size asked {} B, granted {} B (pipe-max-size {}, "
          "pipe-user-pages-soft {})",
          config::to_string(config_->splice.mode), wanted, granted,
          read_proc_value("/proc/sys/fs/pipe-max-size"),
          read_proc_value("/proc/sys/fs/pipe-user-pages-soft"));
  return granted;
}

void Server::run() {
  wait_for_signal();
  start_checkers({});
  discovery_->start();
  start_operations();
  for (auto& worker : workers_)
    worker->start([this] { boost::asio::post(io_, [this] { on_worker_stopped(); }); });
  io_.run();
  discovery_->stop();
  for (auto& worker : workers_)
    worker->join();
  stop_operations();  // /readyz answered 503 (draining) until here
  // Sessions are closed: their last records are queued. Let the sinks write them.
  mirrors_.stop();
  for (const std::string& line : mirrors_.summaries())
    log::info("{}", line);
  block_late_signals();
  for (const auto& worker : workers_) {
    const Stats& stats = worker->stats();
    log::info(
        "worker {}: sessions_accepted_total={} bytes_client_to_backend_total={} "
        "bytes_backend_to_client_total={}",
        worker->index(), stats.get(Counter::sessions_accepted_total),
        stats.get(Counter::bytes_client_to_backend_total),
        stats.get(Counter::bytes_backend_to_client_total));
  }
}

// Every other thread has ended. A signal from now on (a second SIGTERM sent just as the drain
// ended) stays pending in this, the last thread, rather than meeting the default action (end
// the process, status 143) once the signal_set is destroyed and gives the signals back.
void Server::block_late_signals() {
  sigset_t late;
  sigemptyset(&late);
  for (int signal : {SIGINT, SIGTERM, SIGHUP, SIGUSR1})
    sigaddset(&late, signal);
  pthread_sigmask(SIG_BLOCK, &late, nullptr);
}

void Server::wait_for_signal() {
  signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    on_signal(signal);
  });
}

void Server::on_signal(int signal) {
  if (signal == SIGUSR1) {
    if (access_log_) access_log_->reopen();
  } else if (signal == SIGHUP) {
    if (draining())
      log::warn("signal {} received while draining: not reloading", signal);
    else
      reload();
  } else if (!draining()) {
    begin_drain(signal);
  } else {
    log::info("signal {} received again while draining: closing every session now", signal);
    cut_sessions("second signal");
  }
  if (workers_stopped_ < workers_.size()) wait_for_signal();
}

Stats Server::stats() const {
  Stats sum = control_stats_;
  sum += discovery_->stats();
  for (const auto& worker : workers_)
    sum += worker->stats();
  return sum;
}

config::ConfigPtr Server::config() const {
  const std::lock_guard lock(mutex_);
  return config_;
}

ReloadCounts Server::reloads() const {
  const std::lock_guard lock(mutex_);
  return reloads_;
}

bool Server::ready(std::string* why) const {
  const auto fail = [&](std::string reason) {
    if (why) *why = std::move(reason);
    return false;
  };
  if (draining()) return fail("draining");
  const std::lock_guard lock(mutex_);
  const auto now = Clock::now();
  for (const auto& listener : config_->listeners) {
    if (!listeners_.count(listener.name)) return fail("listener " + listener.name + " not bound");
    if (!pools_.at(listener.backend)->any_healthy(now)) {
      return fail("listener " + listener.name + ": backend " + listener.backend +
                  " has no usable server");
    }
  }
  return true;
}

std::vector<PoolStatus> Server::pools() const {
  const std::lock_guard lock(mutex_);
  std::vector<PoolStatus> out;
  const auto now = Clock::now();
  for (const auto& [name, pool] : pools_)
    out.push_back({name, pool->status(now)});
  return out;
}

}  // namespace spliceproxy
