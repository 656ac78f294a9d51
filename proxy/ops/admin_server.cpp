// AdminServer: listening, one AdminConnection per client, and the routes.
#include "proxy/ops/admin_server.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>

#include "proxy/base/log.hpp"

namespace spliceproxy {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

using Response = http::response<http::string_body>;

Response make_response(const http::request<http::string_body>& request, http::status status,
                       std::string_view content_type, std::string body) {
  Response response{status, request.version()};
  response.set(http::field::server, "spliceproxy");
  response.set(http::field::content_type,
               beast::string_view(content_type.data(), content_type.size()));
  response.keep_alive(request.keep_alive());
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

constexpr std::string_view kText = "text/plain; charset=utf-8";
constexpr std::string_view kJson = "application/json";

// Whether `request` may change things (see AdminAuth); when not, `status` and `why` say so.
bool authorized(const AdminAuth& auth, const http::request<http::string_body>& request,
                http::status& status, std::string& why) {
  if (auth.token.empty()) {
    if (auth.loopback_only) return true;
    status = http::status::forbidden;
    why = "the runtime API needs admin.token_file when the admin address is not loopback";
    return false;
  }
  const auto header = request[http::field::authorization];
  const std::string expected = "Bearer " + auth.token;
  // The same time whatever the first wrong byte (no early exit).
  unsigned diff = header.size() != expected.size() ? 1u : 0u;
  for (std::size_t i = 0; i < expected.size(); ++i)
    diff |= static_cast<unsigned char>(expected[i]) ^
            static_cast<unsigned char>(i < header.size() ? header[i] : 0);
  if (diff == 0) return true;
  status = http::status::unauthorized;
  why = header.empty() ? "missing bearer token" : "wrong bearer token";
  return false;
}

Response change(const AdminHandlers& handlers, const AdminAuth& auth,
                const http::request<http::string_body>& request) {
  http::status status = http::status::ok;
  std::string why;
  if (!authorized(auth, request, status, why)) {
    Response response = make_response(request, status, kJson, "{\"error\": \"" + why + "\"}\n");
    if (status == http::status::unauthorized)
      response.set(http::field::www_authenticate, "Bearer realm=\"spliceproxy\"");
    return response;
  }
  auto [code, body] = handlers.change_server(request.body());
  return make_response(request, static_cast<http::status>(code), kJson, std::move(body));
}

Response route(const AdminHandlers& handlers, const AdminAuth& auth,
               const http::request<http::string_body>& request) {
  std::string_view path(request.target().data(), request.target().size());
  path = path.substr(0, path.find('?'));
  if (path == "/servers" && request.method() == http::verb::post)
    return change(handlers, auth, request);
  if (request.method() != http::verb::get) {
    Response response = make_response(
        request, http::status::method_not_allowed, kText,
        path == "/servers" ? "only GET and POST are allowed\n" : "only GET is allowed\n");
    response.set(http::field::allow, path == "/servers" ? "GET, POST" : "GET");
    return response;
  }
  if (path == "/servers")
    return make_response(request, http::status::ok, kJson, handlers.servers_json());
  if (path == "/metrics") {
    return make_response(request, http::status::ok, "text/plain; version=0.0.4; charset=utf-8",
                         handlers.metrics());
  }
  if (path == "/healthz") return make_response(request, http::status::ok, kText, "ok\n");
  if (path == "/readyz") {
    std::string reason;
    if (handlers.ready(reason)) return make_response(request, http::status::ok, kText, "ready\n");
    return make_response(request, http::status::service_unavailable, kText, reason + "\n");
  }
  if (path == "/config")
    return make_response(request, http::status::ok, "application/json", handlers.config_json());
  return make_response(request, http::status::not_found, kText, "not found\n");
}

// One admin client: read a request, answer, and again while the client keeps the connection.
class AdminConnection : public std::enable_shared_from_this<AdminConnection> {
 public:
  AdminConnection(tcp::socket socket, const AdminHandlers& handlers, const AdminAuth& auth,
                  std::shared_ptr<std::atomic<std::size_t>> count)
      : stream_(std::move(socket)), handlers_(handlers), auth_(auth), count_(std::move(count)) {}
  ~AdminConnection() { count_->fetch_sub(1); }

  void do_read() {
    parser_.emplace();
    parser_->header_limit(AdminServer::kMaxRequestBytes);
    parser_->body_limit(AdminServer::kMaxRequestBytes);
    stream_.expires_after(AdminServer::kIoTimeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

 private:
  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout) return close();
    if (ec) return reply_bad_request();
    response_ = route(handlers_, auth_, parser_->get());
    do_write();
  }

  // A request that does not parse (or is too large) gets a 400 and the connection closes.
  void reply_bad_request() {
    response_.emplace(http::status::bad_request, 11);
    response_->set(http::field::content_type, "text/plain; charset=utf-8");
    response_->body() = "bad request\n";
    response_->keep_alive(false);
    response_->prepare_payload();
    do_write();
  }

  void do_write() {
    stream_.expires_after(AdminServer::kIoTimeout);
    http::async_write(stream_, *response_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec || !self->response_->keep_alive()) return self->close();
                        self->do_read();
                      });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  const AdminHandlers& handlers_;
  const AdminAuth& auth_;
  std::shared_ptr<std::atomic<std::size_t>> count_;
  beast::flat_buffer buffer_{AdminServer::kMaxRequestBytes};
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<Response> response_;
};

}  // namespace

AdminServer::AdminServer(config::Address listen, AdminHandlers handlers, AdminAuth auth)
    : listen_(std::move(listen)), handlers_(std::move(handlers)), auth_(std::move(auth)) {}

AdminServer::~AdminServer() {
  stop();
}

void AdminServer::open() {
  const auto fail = [this](std::string_view step, const boost::system::error_code& ec) {
    throw std::runtime_error(
        fmt::format("admin: {} {}: {}", step, listen_.to_string(), ec.message()));
  };
  boost::system::error_code ec;
  tcp::resolver resolver(io_);
  const auto results = resolver.resolve(listen_.host, std::to_string(listen_.port), ec);
  if (ec || results.empty()) fail("resolve", ec);
  const tcp::endpoint endpoint = results.begin()->endpoint();
  if (acceptor_.open(endpoint.protocol(), ec); ec) fail("open", ec);
  acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (acceptor_.bind(endpoint, ec); ec) fail("bind", ec);
  if (acceptor_.listen(64, ec); ec) fail("listen", ec);
}

std::string AdminServer::local_address() const {
  boost::system::error_code ec;
  const tcp::endpoint endpoint = acceptor_.local_endpoint(ec);
  if (ec) return "?";
  const auto address = endpoint.address();
  return address.is_v6() ? fmt::format("[{}]:{}", address.to_string(), endpoint.port())
                         : fmt::format("{}:{}", address.to_string(), endpoint.port());
}

void AdminServer::start() {
  do_accept();
  thread_ = std::thread([this] {
    for (;;) {  // a failing handler (bad_alloc) costs its client, not the endpoint or the proxy
      try {
        io_.run();
        break;
      } catch (const std::exception& error) {
        log::error("admin: a request failed, serving on: {}", error.what());
      }
    }
  });
}

void AdminServer::do_accept() {
  acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
    if (ec == boost::asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      // Over the limit the client is closed at once; the proxy's own work is never touched.
      if (connections_->fetch_add(1) < kMaxConnections) {
        std::make_shared<AdminConnection>(std::move(socket), handlers_, auth_, connections_)
            ->do_read();
      } else {
        connections_->fetch_sub(1);
      }
    } else {
      // Out of descriptors, say: try again later rather than spin.
      log::warn("admin: accept failed: {}", ec.message());
      retry_.expires_after(std::chrono::milliseconds(200));
      return retry_.async_wait([this](const boost::system::error_code& wait_ec) {
        if (!wait_ec) do_accept();
      });
    }
    do_accept();
  });
}

void AdminServer::stop() {
  if (!thread_.joinable()) return;
  // Stopping the io_context abandons the connections' pending operations; they are destroyed
  // with the io_context.
  boost::asio::post(io_, [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    retry_.cancel();
    io_.stop();
  });
  thread_.join();
}

}  // namespace spliceproxy
