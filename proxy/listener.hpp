// Listener: one configured listening socket on one worker. Accepts clients, picks a backend
// server for each and starts a Session. Nothing on the accept side stops the proxy: accept
// errors are logged at most once per second and retried, after a pause when the process is
// out of descriptors, so EMFILE never spins.
#pragma once

#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "proxy/net.hpp"
#include "proxy/splice_channel.hpp"

namespace spliceproxy {

class Worker;

class Listener {
 public:
  Listener(Worker& worker, config::ConfigPtr config, const config::Listener& listener);

  // Opens, binds and listens. Throws std::runtime_error naming the listener and the step that
  // failed ("listener web: bind 127.0.0.1:8080: Address already in use").
  void open();

  // Starts accepting; open() must have succeeded.
  void start() { do_accept(); }

  // Closes the listening socket; live sessions are not touched.
  void close();

  const std::string& name() const { return listener_.name; }
  // The address actually bound (with the real port when the config asked for port 0).
  std::string local_address() const;

 private:
  void do_accept();
  void on_accept(const boost::system::error_code& ec, Socket client);
  void log_accept_error(const boost::system::error_code& ec);

  Worker& worker_;
  config::ConfigPtr config_;
  const config::Listener& listener_;
  boost::asio::basic_socket_acceptor<boost::asio::generic::stream_protocol> acceptor_;
  boost::asio::steady_timer pause_timer_;
  std::vector<net::Endpoint> servers_;
  std::size_t next_server_ = 0;
  Clock::time_point last_error_log_{};
  unsigned long errors_since_log_ = 0;
};

}  // namespace spliceproxy
