// Listener: one configured listening socket on one worker. Accepts clients, reads their PROXY
// protocol header when the listener asks for one (ProxyHeaderReader), checks them
// against the listener's Admission (allow/deny, per-source limit) and starts a Session on the
// backend's pool. Nothing on the accept side stops the proxy: accept errors are logged at
// most once per second and retried, after a pause when the process is out of descriptors, so
// EMFILE never spins. At max_connections it stops accepting (clients wait in the backlog)
// until a session ends.
#pragma once

#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <string>

#include "config/config.hpp"
#include "proxy/admission.hpp"
#include "proxy/net.hpp"
#include "proxy/proxy_header_reader.hpp"
#include "proxy/splice_channel.hpp"

namespace spliceproxy {

class Worker;
class UpstreamPool;

class Listener {
 public:
  Listener(Worker& worker, config::ConfigPtr config, const config::Listener& listener,
           std::shared_ptr<UpstreamPool> pool);

  // Opens, binds and listens; a Unix socket file left by an earlier run is replaced (only if
  // it is a socket: never a symlink or a regular file) and gets the configured mode. Throws
  // std::runtime_error naming the listener and the step that failed ("listener web: bind
  // 127.0.0.1:8080: Address already in use").
  void open();

  // Starts accepting; open() must have succeeded.
  void start() { do_accept(); }

  // Closes the listening socket (and removes its Unix socket file); live sessions are not
  // touched.
  void close();

  const std::string& name() const { return listener_.name; }
  // The address actually bound (with the real port when the config asked for port 0).
  std::string local_address() const;

 private:
  void do_accept();
  void on_accept(const boost::system::error_code& ec, Socket client);
  void log_accept_error(const boost::system::error_code& ec);
  void admit(Socket client, const net::ClientAddresses& addresses);
  void remove_stale_socket_file() const;
  void resume();
  // Accepts again at `when` (after an out-of-descriptors error), through continue_accepting.
  void accept_after(Clock::time_point when);
  // After an accept: accepts the next client, unless at max_connections (then waits for
  // room) or while the worker's accepting is paused for lack of descriptors.
  void continue_accepting();

  Worker& worker_;
  config::ConfigPtr config_;
  const config::Listener& listener_;
  boost::asio::basic_socket_acceptor<boost::asio::generic::stream_protocol> acceptor_;
  boost::asio::steady_timer pause_timer_;
  std::shared_ptr<UpstreamPool> pool_;
  std::shared_ptr<Admission> admission_;
  std::unique_ptr<ProxyHeaderReader> header_reader_;  // null unless proxy_protocol is set
  net::Endpoint peer_;                                // filled by each accept
  bool paused_ = false;  // at max_connections, waiting for a session to end
  Clock::time_point last_error_log_{};
  unsigned long errors_since_log_ = 0;
};

}  // namespace spliceproxy
