// AdminServer: the admin HTTP endpoint (/metrics, /healthz, /readyz, /config) on its own thread
// and io_context, apart from the workers: a slow or bad admin client only ever holds admin
// resources.
//
//   accept ──▶ AdminConnection: read request (bounded, deadline) ──▶ route ──▶ write ──▶ read ...
//
// HTTP/1.1 with keep-alive, GET (and POST /servers, the runtime API: runtime_api.hpp; 405
// otherwise), 404 for unknown paths, requests bounded
// to kMaxRequestBytes, a deadline on every read and write, at most kMaxConnections at once.
// The handlers run on the admin thread and never wait for a worker (see server_status.hpp); a
// slow one delays only other admin clients.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "config/config.hpp"

namespace spliceproxy {

// What the endpoints answer with; each is called on the admin thread.
struct AdminHandlers {
  std::function<std::string()> metrics;            // Prometheus text
  std::function<bool(std::string& reason)> ready;  // false: `reason` says why not
  std::function<std::string()> config_json;        // the effective config
  std::function<std::string()> servers_json;       // GET /servers
  // POST /servers: applies the change in `body`; returns the HTTP status and a JSON body.
  std::function<std::pair<unsigned, std::string>(const std::string& body)> change_server;
};

// Who may change things (POST): with a token, requests that carry `Authorization: Bearer
// <token>`; without one, anyone who reaches a loopback admin address, and no one otherwise.
struct AdminAuth {
  std::string token;          // empty: none configured
  bool loopback_only = true;  // the admin address is a loopback one
};

class AdminServer {
 public:
  static constexpr std::size_t kMaxConnections = 32;
  static constexpr std::size_t kMaxRequestBytes = 8 * 1024;
  static constexpr auto kIoTimeout = std::chrono::seconds(10);

  AdminServer(config::Address listen, AdminHandlers handlers, AdminAuth auth = {});
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Resolves, binds and listens. Throws std::runtime_error naming the step that failed
  // ("admin: bind 127.0.0.1:9901: Address already in use").
  void open();
  // The address bound (the real port when the config asked for port 0).
  std::string local_address() const;
  // Starts the admin thread; open() must have succeeded.
  void start();
  // Closes the endpoint and its connections and joins the thread. Idempotent.
  void stop();

 private:
  void do_accept();

  config::Address listen_;
  AdminHandlers handlers_;
  AdminAuth auth_;
  boost::asio::io_context io_{1};
  boost::asio::ip::tcp::acceptor acceptor_{io_};
  boost::asio::steady_timer retry_{io_};  // accept again after a failed accept
  std::shared_ptr<std::atomic<std::size_t>> connections_ =
      std::make_shared<std::atomic<std::size_t>>(0);
  std::thread thread_;
};

}  // namespace spliceproxy
