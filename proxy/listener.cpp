// Listener: bind, accept loop, accept-error back-off.
#include "proxy/listener.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/socket_base.hpp>
#include <cstring>
#include <stdexcept>

#include "proxy/log.hpp"
#include "proxy/session.hpp"
#include "proxy/unique_fd.hpp"
#include "proxy/upstream_pool.hpp"
#include "proxy/worker.hpp"

namespace spliceproxy {
namespace {

constexpr auto kErrorLogInterval = std::chrono::seconds(1);

bool out_of_descriptors(const boost::system::error_code& ec) {
  return ec == boost::asio::error::no_descriptors || ec.value() == ENFILE ||
         ec == boost::asio::error::no_buffer_space || ec == boost::asio::error::no_memory;
}

// Whether something accepts connections on the Unix socket at `path` (a live server).
bool unix_socket_in_use(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return fd.get() >= 0 && ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

}  // namespace

Listener::Listener(Worker& worker, config::ConfigPtr config, const config::Listener& listener,
                   std::shared_ptr<UpstreamPool> pool)
    : worker_(worker),
      config_(std::move(config)),
      listener_(listener),
      acceptor_(worker.io()),
      pause_timer_(worker.io()),
      pool_(std::move(pool)),
      admission_(std::make_shared<Admission>(listener_)) {
  if (listener_.proxy_protocol != config::ProxyProtocol::off) {
    header_reader_ = std::make_unique<ProxyHeaderReader>(
        worker.io(), listener_, worker.stats(),
        [this](Socket client, const net::ClientAddresses& addresses) {
          admit(std::move(client), addresses);
        });
  }
}

// lstat, never stat: a symlink or any other file at the path is refused, not followed.
void Listener::remove_stale_socket_file() const {
  const std::string& path = listener_.listen.path;
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0) return;  // nothing there (or the bind will say)
  const auto refuse = [&](const char* why) {
    throw std::runtime_error(
        fmt::format("listener {}: {} {}", listener_.name, listener_.listen.to_string(), why));
  };
  if (!S_ISSOCK(info.st_mode)) refuse("exists and is not a socket; not replacing it");
  if (unix_socket_in_use(path)) refuse("is in use by a running server");
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) refuse("is stale but cannot be removed");
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
  if (listener_.listen.is_unix()) {
    remove_stale_socket_file();
    // The file gets its mode at creation (umask), so no one can connect before a chmod.
    const mode_t old_mask = ::umask(~listener_.socket_mode & 0777);
    step("bind", [&](auto& ec) { acceptor_.bind(endpoint, ec); });
    ::umask(old_mask);
  } else {
    step("set SO_REUSEADDR on", [&](auto& ec) {
      acceptor_.set_option(boost::asio::socket_base::reuse_address(true), ec);
    });
    step("bind", [&](auto& ec) { acceptor_.bind(endpoint, ec); });
  }
  step("listen on",
       [&](auto& ec) { acceptor_.listen(boost::asio::socket_base::max_listen_connections, ec); });
}

void Listener::close() {
  boost::system::error_code ignored;
  pause_timer_.cancel();
  admission_->on_room({});
  if (header_reader_) header_reader_->close_all();
  const bool was_open = acceptor_.is_open();
  acceptor_.close(ignored);
  // Our socket file goes with the socket (lstat: only if it still is a socket).
  struct stat info {};
  const std::string& path = listener_.listen.path;
  if (was_open && listener_.listen.is_unix() && ::lstat(path.c_str(), &info) == 0 &&
      S_ISSOCK(info.st_mode)) {
    ::unlink(path.c_str());
  }
}

std::string Listener::local_address() const {
  boost::system::error_code ec;
  const auto endpoint = acceptor_.local_endpoint(ec);
  return ec ? "?" : net::to_string(endpoint);
}

void Listener::do_accept() {
  // The peer's address comes from accept itself: a client that reset at once has none left
  // for getpeername, but still gets a session, which sees the reset on its first read.
  acceptor_.async_accept(worker_.io(), peer_,
                         [this](const boost::system::error_code& ec, Socket client) {
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
    return accept_after(Clock::now() + Worker::kDescriptorPause);
  }
  worker_.stats().add(Counter::sessions_accepted_total);
  // The PROXY protocol header, when one is expected, says who the client is (and admits it
  // once read); otherwise the socket does.
  if (header_reader_) {
    header_reader_->read(std::move(client), {peer_, std::nullopt});
  } else {
    admit(std::move(client), {peer_, std::nullopt});
  }
  continue_accepting();
}

void Listener::continue_accepting() {
  if (!acceptor_.is_open()) return;
  if (admission_->full()) {
    // At max_connections: leave further clients in the backlog until a session ends.
    paused_ = true;
    worker_.stats().add(Counter::listener_pauses_total);
    admission_->on_room([this] { resume(); });
    return;
  }
  // A session that found no descriptor for its backend socket paused the worker's accepting:
  // accepting more now would only take clients that cannot be served yet.
  if (worker_.accept_paused_until() > Clock::now())
    return accept_after(worker_.accept_paused_until());
  do_accept();
}

void Listener::accept_after(Clock::time_point when) {
  pause_timer_.expires_at(when);
  pause_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) continue_accepting();
  });
}

void Listener::resume() {
  admission_->on_room({});
  if (!paused_ || !acceptor_.is_open()) return;
  paused_ = false;
  // Not from inside the ending session's stop(): accept on the next turn of the reactor.
  boost::asio::post(worker_.io(), [this] { continue_accepting(); });
}

// Checks `client`, from `addresses.peer`, against the allow/deny lists and per-source limit,
// then starts its Session.
void Listener::admit(Socket client, const net::ClientAddresses& addresses) {
  boost::system::error_code ec;
  const net::Endpoint& peer = addresses.peer;
  const Admission::Verdict verdict = admission_->check(peer);
  if (verdict != Admission::Verdict::admitted) {
    const bool denied = verdict == Admission::Verdict::denied;
    worker_.stats().add(denied ? Counter::acl_denied_total : Counter::source_limit_rejects_total);
    worker_.stats().count_close(CloseReason::denied);
    client.set_option(boost::asio::socket_base::linger(true, 0), ec);
    client.close(ec);
    return;
  }
  const std::uint64_t id = worker_.next_session_id();
  auto session = std::make_shared<Session>(worker_, config_, listener_, std::move(client), id);
  worker_.add(id, session);
  session->start(SessionRoute{pool_, net::source_key(peer), admission_->admit(peer), addresses});
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
