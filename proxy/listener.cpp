// Listener: bind, accept loop, accept-error back-off.
#include "proxy/listener.hpp"

#include <boost/asio/socket_base.hpp>
#include <stdexcept>

#include "proxy/log.hpp"
#include "proxy/session.hpp"
#include "proxy/worker.hpp"

namespace spliceproxy {
namespace {

constexpr auto kAcceptPause = std::chrono::milliseconds(100);
constexpr auto kErrorLogInterval = std::chrono::seconds(1);

bool out_of_descriptors(const boost::system::error_code& ec) {
  return ec == boost::asio::error::no_descriptors || ec.value() == ENFILE ||
         ec == boost::asio::error::no_buffer_space || ec == boost::asio::error::no_memory;
}

}  // namespace

Listener::Listener(Worker& worker, config::ConfigPtr config, const config::Listener& listener)
    : worker_(worker),
      config_(std::move(config)),
      listener_(listener),
      acceptor_(worker.io()),
      pause_timer_(worker.io()) {
  for (const auto& server : config_->backend_of(listener_).servers)
    servers_.push_back(net::to_endpoint(server.address));
}

void Listener::open() {
  const net::Endpoint endpoint = net::to_endpoint(listener_.listen);
  const auto step = [&](const char* what, auto&& action) {
    boost::system::error_code ec;
    action(ec);
    if (ec) {
      throw std::runtime_error(fmt::format("listener {}: {} {}: {}", listener_.name, what,
                                           listener_.listen.to_string(), ec.message()));
    }
  };
  step("open", [&](auto& ec) { acceptor_.open(endpoint.protocol(), ec); });
  step("set SO_REUSEADDR on",
       [&](auto& ec) { acceptor_.set_option(boost::asio::socket_base::reuse_address(true), ec); });
  step("bind", [&](auto& ec) { acceptor_.bind(endpoint, ec); });
  step("listen on",
       [&](auto& ec) { acceptor_.listen(boost::asio::socket_base::max_listen_connections, ec); });
}

void Listener::close() {
  boost::system::error_code ignored;
  pause_timer_.cancel();
  acceptor_.close(ignored);
}

std::string Listener::local_address() const {
  boost::system::error_code ec;
  const auto endpoint = acceptor_.local_endpoint(ec);
  return ec ? "?" : net::to_string(endpoint);
}

void Listener::do_accept() {
  acceptor_.async_accept(worker_.io(), [this](const boost::system::error_code& ec, Socket client) {
    on_accept(ec, std::move(client));
  });
}

void Listener::on_accept(const boost::system::error_code& ec, Socket client) {
  if (ec == boost::asio::error::operation_aborted || !acceptor_.is_open()) return;
  if (ec) {
    worker_.stats().add(Counter::accept_errors_total);
    log_accept_error(ec);
    if (!out_of_descriptors(ec)) return do_accept();
    // Out of descriptors: the pending connection stays in the backlog and would make
    // accept fail again at once. Pause; sessions that end meanwhile free descriptors.
    pause_timer_.expires_after(kAcceptPause);
    pause_timer_.async_wait([this](const boost::system::error_code& wait_ec) {
      if (!wait_ec) do_accept();
    });
    return;
  }
  worker_.stats().add(Counter::sessions_accepted_total);
  const std::uint64_t id = worker_.next_session_id();
  auto session = std::make_shared<Session>(worker_, config_, listener_, std::move(client), id);
  worker_.add(id, session);
  const net::Endpoint& server = servers_[next_server_++ % servers_.size()];
  session->start(server);
  do_accept();
}

void Listener::log_accept_error(const boost::system::error_code& ec) {
  ++errors_since_log_;
  const auto now = Clock::now();
  if (now - last_error_log_ < kErrorLogInterval) return;
  log::warn("listener {}: accept failed: {} ({} errors since last report)", listener_.name,
            ec.message(), errors_since_log_);
  last_error_log_ = now;
  errors_since_log_ = 0;
}

}  // namespace spliceproxy
