// Server: start-up checks, listeners, signals.
#include "proxy/server.hpp"

#include <csignal>
#include <fstream>

#include "proxy/log.hpp"
#include "proxy/pipe.hpp"

namespace spliceproxy {
namespace {

std::string read_proc_value(const char* path) {
  std::ifstream in(path);
  std::string value;
  in >> value;
  return value.empty() ? "?" : value;
}

}  // namespace

Server::Server(config::ConfigPtr config)
    : config_(std::move(config)),
      io_(1),
      signals_(io_),
      worker_(io_, config_->splice),
      mirrors_(*config_, 1) {
  worker_.set_mirrors(&mirrors_);
}

void Server::open() {
  if (config_->workers != 1)
    log::warn("workers: {} asked; this version runs 1 worker", config_->workers);
  pipe_size_granted_ = log_pipe_limits();
  open_pools();
  mirrors_.start();
  for (const auto& listener : config_->listeners) {
    auto opened =
        std::make_unique<Listener>(worker_, config_, listener, pools_.at(listener.backend));
    opened->open();
    log::info("listener {} listening on {} -> backend {}", opened->name(), opened->local_address(),
              listener.backend);
    listeners_.push_back(std::move(opened));
  }
  open_operations();  // operations: access log, admin endpoint
}

void Server::open_pools() {
  for (const auto& backend : config_->backends) {
    std::vector<net::Endpoint> endpoints;
    for (const auto& server : backend.servers)
      endpoints.push_back(net::to_endpoint(server.address));
    auto pool = std::make_shared<UpstreamPool>(backend, std::move(endpoints), worker_.stats());
    if (backend.health_check.enabled)
      checkers_.push_back(std::make_unique<HealthChecker>(io_, pool, worker_.stats()));
    pools_[backend.name] = std::move(pool);
    log::info("backend {}: {} servers, balance {}, {} connect attempts", backend.name,
              backend.servers.size(), config::to_string(backend.balance),
              backend.max_connect_attempts);
  }
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
  signals_.add(SIGINT);
  signals_.add(SIGTERM);
  signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    log::info("signal {} received: closing listeners and sessions", signal);
    stop();
  });
  for (auto& checker : checkers_)
    checker->start();
  for (auto& listener : listeners_)
    listener->start();
  start_operations();  // operations: access log writer, admin endpoint
  io_.run();
  stop_operations();  // operations: the admin endpoint answered /readyz 503 until here
  // Sessions are closed: their last records are queued. Let the sinks write them.
  mirrors_.stop();
  for (const std::string& line : mirrors_.summaries())
    log::info("{}", line);
}

void Server::stop() {
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ignored;
  signals_.cancel(ignored);
  cancel_operations();  // operations: SIGUSR1
  for (auto& listener : listeners_)
    listener->close();
  for (auto& checker : checkers_)
    checker->stop();
  worker_.stop_all_sessions();
}

}  // namespace spliceproxy
