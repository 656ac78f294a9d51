// Session, the backend side: picking a server of the pool, connect attempts with retries on
// other servers, passive health reports, and the deadlines of a session (see session.hpp).
// Only connecting is retried: no byte has been forwarded before a connect succeeds.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "proxy/base/log.hpp"
#include "proxy/session.hpp"
#include "proxy/upstream/upstream_pool.hpp"
#include "proxy/worker.hpp"

namespace spliceproxy {

// Starts the next attempt, on a server this session has not tried yet, or closes the session
// when the attempts are used up or no server is left. The first attempt may wait in the
// backend's queue (session_queue.cpp).
void Session::connect_next() {
  const unsigned max_attempts = route_.pool->backend().max_connect_attempts;
  ServerRef server;
  if (tried_.empty()) {
    if (route_.pool->size() == 0) {  // discovery left the backend empty: logged once there
      worker_.stats().add(Counter::backend_empty_rejects_total);
      return stop(CloseReason::no_server);
    }
    FirstPick first = pick_first();
    if (first.queued) return wait_in_queue();
    if (first.queue_full) worker_.stats().add(Counter::queue_full_rejects_total);
    server = std::move(first.server);
  } else if (tried_.size() < max_attempts) {
    server = route_.pool->pick(route_.source_key, tried_);
  }
  if (!server) {
    worker_.stats().add(Counter::no_server_total);
    if (tried_.empty()) error_ = EHOSTUNREACH;  // every server at its max_connections
    return stop(error_ == ETIMEDOUT ? CloseReason::connect_timeout : CloseReason::connect_failed);
  }
  connect_to(std::move(server));
}

void Session::connect_to(ServerRef server) {
  if (!tried_.empty()) worker_.stats().add(Counter::connect_retries_total);
  tried_.push_back(server);
  server_ = std::move(server);
  backend_name_ = net::to_string(server_->endpoint);
  worker_.stats().add(Counter::connect_attempts_total);
  arm_timer(Clock::now() + listener_.timeouts.connect);
  const int error = open_backend();
  if (error == EINPROGRESS) return wait_for_connect();
  on_connect(error);
}

int Session::open_backend() {
  const net::Endpoint& endpoint = server_->endpoint;
  const int family = endpoint.data()->sa_family;
  backend_.reset(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!backend_) return errno;
  if (family != AF_UNIX) {  // set before the connect: one call, and the SYN carries nothing
    const int one = 1;
    ::setsockopt(backend_.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  if (::connect(backend_.get(), endpoint.data(), static_cast<socklen_t>(endpoint.size())) == 0)
    return 0;
  // EINTR: the connect goes on without us, as after EINPROGRESS. A Unix socket whose
  // listener's backlog is full says EAGAIN: the socket is not connecting and waiting would not
  // help, so the attempt fails like a refused one (and may go to another server).
  if (errno == EINTR) return EINPROGRESS;
  return errno;
}

void Session::wait_for_connect() {
  socket_watches_.dst = worker_.poller().add(backend_.get(), /*writable=*/true);
  if (!socket_watches_.dst) {  // the set is out of kernel memory: no fault of the server's
    error_ = errno;
    return stop(CloseReason::backend_error);
  }
  // An edge already noted is impossible for a socket just added; the wait always registers.
  worker_.poller().wait(socket_watches_.dst, true, this);
}

// The connect finished (the socket is writable, or hung up): SO_ERROR says how. Later, a
// PROXY header that did not go out at once may go on.
void Session::on_ready(bool) {
  if (stopped_) return;
  const auto self = shared_from_this();  // stop() may drop the registry's reference
  if (connected_) return write_proxy_header();
  int error = 0;
  socklen_t size = sizeof error;
  if (::getsockopt(backend_.get(), SOL_SOCKET, SO_ERROR, &error, &size) != 0) error = errno;
  on_connect(error);
}

// The current attempt was refused, failed or timed out: tell the pool, close the socket
// (cancelling a pending connect) and try the next server.
void Session::on_attempt_failed(int error, CloseReason reason) {
  error_ = error;
  worker_.poller().remove(std::exchange(socket_watches_.dst, 0));
  backend_.reset();
  if (error == EMFILE || error == ENFILE) return wait_for_descriptor();
  worker_.stats().add(Counter::connect_failures_total);
  if (route_.pool->failed(server_)) worker_.stats().add(Counter::servers_ejected_total);
  release_server();
  if (log::enabled(log::Level::debug)) {
    log::debug("session {} connect to {} failed ({}): {}", id_, backend_name_, to_string(reason),
               std::strerror(error));
  }
  connect_next();
}

// Out of descriptors for the backend socket: not the server's fault, and another server would
// do no better. The listeners pause (accepting clients now would only close them), and this
// client waits: the same attempt is made again after the pause, until the connect timeout,
// counted from the session's start, passes.
void Session::wait_for_descriptor() {
  const auto now = Clock::now();
  worker_.pause_accepting(now + Worker::kDescriptorPause);
  release_server();
  tried_.pop_back();  // this server was not really tried
  if (now - started_ >= listener_.timeouts.connect) return stop(CloseReason::connect_timeout);
  waiting_for_descriptor_ = true;
  arm_timer(now + Worker::kDescriptorPause);
}

void Session::release_server() {
  if (server_) route_.pool->release(server_);
  server_.reset();
}

bool Session::half_closed() const {
  return to_backend_->state() == SpliceChannel::State::done ||
         to_client_->state() == SpliceChannel::State::done;
}

Clock::time_point Session::idle_deadline() const {
  const Clock::time_point last =
      std::max({connected_at_, to_backend_->last_progress(), to_client_->last_progress()});
  const auto& timeouts = listener_.timeouts;
  const auto idle =
      last + (half_closed() ? std::min(timeouts.idle, timeouts.half_closed) : timeouts.idle);
  return std::min(idle, lifetime_deadline_);
}

}  // namespace spliceproxy
