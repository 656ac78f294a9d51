// demo_backend: a small HTTP server for trying spliceproxy (started by tools/run.sh).
//
//   GET /           a greeting
//   GET /bytes/N    N bytes of 'x' (up to 1 GiB), to try a bulk transfer
//
// One request per connection (Connection: close); loopback only by default.
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <charconv>
#include <cstdio>
#include <memory>
#include <string>

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr std::size_t kMaxBody = std::size_t{1} << 30;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  explicit Connection(tcp::socket socket) : socket_(std::move(socket)) {}

  void start() {
    asio::async_read_until(socket_, asio::dynamic_buffer(request_), "\r\n\r\n",
                           [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                             if (!ec) self->respond();
                           });
  }

 private:
  void respond() {
    const std::string path = request_.substr(0, request_.find("\r\n"));
    std::size_t size = 0;
    const std::string prefix = "GET /bytes/";
    if (path.rfind(prefix, 0) == 0) {
      const char* first = path.data() + prefix.size();
      std::from_chars(first, path.data() + path.size(), size);
      size = std::min(size, kMaxBody);
      remaining_ = size;
      header_ = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
                std::to_string(size) + "\r\nConnection: close\r\n\r\n";
    } else {
      const std::string body = "hello from the spliceproxy demo backend\n";
      header_ = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    }
    asio::async_write(socket_, asio::buffer(header_),
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                        if (!ec) self->send_body();
                      });
  }

  void send_body() {
    if (remaining_ == 0) {
      boost::system::error_code ignored;
      socket_.shutdown(tcp::socket::shutdown_send, ignored);
      return;
    }
    chunk_.assign(std::min<std::size_t>(remaining_, 256 * 1024), 'x');
    remaining_ -= chunk_.size();
    asio::async_write(socket_, asio::buffer(chunk_),
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                        if (!ec) self->send_body();
                      });
  }

  tcp::socket socket_;
  std::string request_;
  std::string header_;
  std::string chunk_;
  std::size_t remaining_ = 0;
};

void accept_loop(tcp::acceptor& acceptor) {
  acceptor.async_accept([&acceptor](boost::system::error_code ec, tcp::socket socket) {
    if (!ec) std::make_shared<Connection>(std::move(socket))->start();
    accept_loop(acceptor);
  });
}

}  // namespace

int main(int argc, char** argv) {
  const std::string host = argc > 1 ? argv[1] : "127.0.0.1";
  const unsigned short port = argc > 2 ? static_cast<unsigned short>(std::stoi(argv[2])) : 9000;
  try {
    asio::io_context io(1);
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address(host), port));
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code, int) { io.stop(); });
    std::printf("demo backend listening on %s:%u\n", host.c_str(),
                acceptor.local_endpoint().port());
    std::fflush(stdout);
    accept_loop(acceptor);
    io.run();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "demo_backend: %s\n", error.what());
    return 1;
  }
  return 0;
}
