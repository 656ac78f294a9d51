// HealthChecker: the probe of one server, step by step; see health_checker.hpp.
#include "proxy/upstream/health_checker.hpp"

#include <algorithm>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <random>
#include <string>

#include "proxy/base/log.hpp"
#include "proxy/base/net.hpp"
#include "proxy/datapath/splice_channel.hpp"
#include "proxy/protocol/proxy_protocol.hpp"
#include "proxy/upstream/upstream_pool.hpp"

namespace spliceproxy {

class HealthChecker::Probe : public std::enable_shared_from_this<Probe> {
 public:
  Probe(boost::asio::io_context& io, std::shared_ptr<UpstreamPool> pool, ServerRef server,
        Stats& stats)
      : pool_(std::move(pool)),
        check_(pool_->backend().health_check),
        server_(std::move(server)),
        stats_(stats),
        socket_(io),
        timer_(io),
        random_(static_cast<std::uint32_t>(
            net::hash_bytes(server_->name.data(), server_->name.size()))),
        request_(proxy_header(pool_->backend()) + check_.send) {}

  // Waits one interval plus a random share of the jitter, then checks.
  void schedule() {
    if (stopped_) return;
    std::uniform_int_distribution<long long> jitter(0, check_.jitter.count());
    wait(check_.interval + config::Duration(jitter(random_)), [](Probe& self) { self.check(); });
  }

  void stop() {
    stopped_ = true;
    ++generation_;
    timer_.cancel();
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

 private:
  // Runs `then` after `delay` unless another wait or a check step came first.
  template <typename Then>
  void wait(config::Duration delay, Then then) {
    timer_.expires_after(delay);
    timer_.async_wait([self = shared_from_this(), generation = generation_,
                       then](const boost::system::error_code& ec) {
      if (!ec && generation == self->generation_ && !self->stopped_) then(*self);
    });
  }

  // A step's completion handler that runs only for the current check.
  template <typename Step>
  auto current(Step step) {
    return [self = shared_from_this(), generation = generation_, step](
               const boost::system::error_code& ec, auto&&...) {
      if (generation != self->generation_ || self->stopped_) return;
      if (ec) return self->finish(false, ec.message());
      step(*self);
    };
  }

  void check() {
    ++generation_;
    wait(check_.timeout, [](Probe& self) { self.finish(false, "timed out"); });
    socket_.async_connect(server_->endpoint, current([](Probe& self) { self.send(); }));
  }

  // A backend that reads the PROXY protocol gets a header first, as HAProxy's checks do: v2
  // LOCAL or v1 UNKNOWN (the proxy's own connection, no client behind it).
  static std::string proxy_header(const config::Backend& backend) {
    if (backend.proxy_protocol == config::ProxyProtocol::off) return {};
    const auto header = proxy_protocol::encode_local(
        backend.proxy_protocol == config::ProxyProtocol::v1 ? proxy_protocol::Version::v1
                                                            : proxy_protocol::Version::v2);
    return {header.begin(), header.end()};
  }

  void send() {
    if (request_.empty()) return receive();
    boost::asio::async_write(socket_, boost::asio::buffer(request_),
                             current([](Probe& self) { self.receive(); }));
  }

  void receive() {
    if (check_.expect.empty()) return finish(true, "connected");
    reply_.assign(check_.expect.size(), '\0');
    boost::asio::async_read(socket_, boost::asio::buffer(reply_), current([](Probe& self) {
                              const bool match = self.reply_ == self.check_.expect;
                              self.finish(match, match ? "expected reply" : "unexpected reply");
                            }));
  }

  // Ends the current check, counts it towards rise or fall, and schedules the next.
  void finish(bool passed, const std::string& why) {
    ++generation_;
    boost::system::error_code ignored;
    socket_.close(ignored);
    passes_ = passed ? passes_ + 1 : 0;
    failures_ = passed ? 0 : failures_ + 1;
    const bool change = up_ ? failures_ >= check_.fall : passes_ >= check_.rise;
    if (change) {
      up_ = !up_;
      pool_->set_health(server_, up_);
      stats_.add(Counter::health_check_transitions_total);
      log::at(up_ ? log::Level::info : log::Level::warn,
              "backend {} server {} is {} ({} checks in a row; last: {})", pool_->backend().name,
              server_->name, up_ ? "up" : "down", up_ ? check_.rise : check_.fall, why);
    }
    schedule();
  }

  std::shared_ptr<UpstreamPool> pool_;
  const config::HealthCheck& check_;
  ServerRef server_;
  Stats& stats_;
  Socket socket_;
  boost::asio::steady_timer timer_;
  std::minstd_rand random_;
  std::string request_;  // the PROXY protocol header, if any, and check_.send
  std::string reply_;
  unsigned generation_ = 0;
  unsigned passes_ = 0;
  unsigned failures_ = 0;
  bool up_ = true;
  bool stopped_ = false;
};

HealthChecker::HealthChecker(boost::asio::io_context& io, std::shared_ptr<UpstreamPool> pool,
                             Stats& stats)
    : io_(io), pool_(std::move(pool)), stats_(stats) {}

HealthChecker::~HealthChecker() {
  stop();
}

void HealthChecker::start() {
  started_ = true;
  sync();
}

void HealthChecker::sync() {
  if (!started_) return;
  const std::vector<ServerRef> servers = pool_->servers();
  for (auto it = probes_.begin(); it != probes_.end();) {
    const bool kept = std::any_of(servers.begin(), servers.end(),
                                  [&](const ServerRef& s) { return s.get() == it->first; });
    if (kept) {
      ++it;
      continue;
    }
    it->second->stop();
    it = probes_.erase(it);
  }
  for (const ServerRef& server : servers) {
    if (probes_.count(server.get())) continue;
    auto probe = std::make_shared<Probe>(io_, pool_, server, stats_);
    probe->schedule();
    probes_.emplace(server.get(), std::move(probe));
  }
}

void HealthChecker::stop() {
  started_ = false;
  for (auto& [server, probe] : probes_)
    probe->stop();
  probes_.clear();
}

}  // namespace spliceproxy
