// Session: connect, two channels, one deadline timer, and the decision when it is over.
#include "proxy/session.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstring>
#include <utility>

#include "proxy/base/log.hpp"
#include "proxy/mirror/mirror_set.hpp"
#include "proxy/upstream/upstream_pool.hpp"
#include "proxy/worker.hpp"

namespace spliceproxy {

Session::Session(Worker& worker, config::ConfigPtr config, const config::Listener& listener,
                 UniqueFd client, std::uint64_t id)
    : worker_(worker),
      config_(std::move(config)),
      listener_(listener),
      client_(std::move(client)),
      timer_(worker.timers(), [this] { on_timer(); }),
      id_(id) {}

Session::~Session() {
  forget_watches();
}

void Session::start(SessionRoute route) {
  route_ = std::move(route);
  if (worker_.mirrors() && !listener_.mirrors.empty())
    mirror_ = worker_.mirrors()->tap_for(listener_, worker_.index(), worker_.stats());
  tried_.reserve(route_.pool->backend().max_connect_attempts);
  lifetime_deadline_ = lifetime_deadline();
  connect_next();
}

void Session::on_connect(int error) {
  if (stopped_) return;
  if (error != 0) return on_attempt_failed(error, CloseReason::connect_failed);
  route_.pool->connected(server_);
  connected_ = true;
  connected_at_ = Clock::now();
  // A backend that wants the PROXY protocol gets its header first; the channels start after.
  if (route_.pool->backend().proxy_protocol != config::ProxyProtocol::off)
    return send_proxy_header();
  start_channels();
}

void Session::start_channels() {
  const ChannelMode mode = channel_mode();
  if (mirror_) open_mirror();
  EdgePoller& poller = worker_.poller();
  // Each socket joins the poller once (the backend did for its connect, unless that was done
  // at once); the two channels wait on it in opposite directions.
  if (!socket_watches_.dst) socket_watches_.dst = poller.add(backend_.get());
  if (socket_watches_.dst) socket_watches_.src = poller.add(client_.get());
  if (!socket_watches_.src) {  // out of kernel memory for the set: this session only
    error_ = errno;
    return stop(socket_watches_.dst ? CloseReason::client_error : CloseReason::backend_error);
  }
  const ChannelContext context{.pipes = worker_.pipes(),
                               .stats = worker_.stats(),
                               .observer = *this,
                               .owner = weak_from_this(),
                               .tap = mirror_.get(),
                               .scratch = worker_.scratch(),
                               .poller = poller};
  to_backend_.emplace(client_.get(), backend_.get(), Direction::client_to_backend, mode, context,
                      socket_watches_);
  to_client_.emplace(backend_.get(), client_.get(), Direction::backend_to_client, mode, context,
                     ChannelWatches{socket_watches_.dst, socket_watches_.src});
  to_backend_->set_throttle(throttle_for(Direction::client_to_backend));
  to_client_->set_throttle(throttle_for(Direction::backend_to_client));
  arm_timer(idle_deadline());
  to_backend_->start();
  // The backend has rarely sent anything yet (unless it speaks first, which the poller reports).
  if (!stopped_) to_client_->start_waiting();
}

std::unique_ptr<ChannelThrottle> Session::throttle_for(Direction direction) {
  const config::BandwidthCaps& caps = listener_.bandwidth.session;
  const bool to_backend = direction == Direction::client_to_backend;
  const std::uint64_t own = to_backend ? caps.client_to_backend : caps.backend_to_client;
  std::shared_ptr<SharedTokenBucket> shared = route_.shared_bandwidth[to_backend ? 0 : 1];
  if (own == 0 && !shared) return nullptr;
  std::optional<TokenRate> rate;
  if (own != 0) rate = ChannelThrottle::byte_rate(own);
  return std::make_unique<ChannelThrottle>(worker_.timers(), rate, std::move(shared),
                                           worker_.stats());
}

// A session that ends in the io_context's destructor was stopped before: it has no ids left.
void Session::forget_watches() {
  if (!socket_watches_.src && !socket_watches_.dst) return;
  worker_.poller().remove(std::exchange(socket_watches_.src, 0));
  worker_.poller().remove(std::exchange(socket_watches_.dst, 0));
}

ChannelMode Session::channel_mode() const {
  switch (config_->splice.mode) {
    case config::SpliceMode::copy:
      return ChannelMode::copy;
    case config::SpliceMode::automatic:
      return ChannelMode::adaptive;
    case config::SpliceMode::splice:
      break;
  }
  return ChannelMode::splice;
}

void Session::arm_timer(Clock::time_point deadline) {
  timer_.arm(deadline);
}

// Connecting: the attempt's deadline passed. Forwarding: re-arm to the last progress plus the
// idle (or half-closed) timeout, so progress itself never touches the timer.
void Session::on_timer() {
  if (stopped_) return;
  const auto self = shared_from_this();  // stop() may drop the registry's reference
  if (queued_) return on_queue_timeout();
  if (std::exchange(waiting_for_descriptor_, false)) return connect_next();
  if (!connected_) return on_attempt_failed(ETIMEDOUT, CloseReason::connect_timeout);
  if (!to_backend_) return stop(CloseReason::connect_timeout);  // the PROXY header never went
  const Clock::time_point deadline = idle_deadline();
  if (Clock::now() >= deadline) {
    if (deadline >= lifetime_deadline_) return stop(CloseReason::max_lifetime);
    return stop(half_closed() ? CloseReason::half_closed_timeout : CloseReason::idle_timeout);
  }
  arm_timer(deadline);
}

void Session::on_channel_end(SpliceChannel& channel) {
  if (stopped_) return;
  if (channel.state() == SpliceChannel::State::failed) {
    error_ = channel.error();
    return stop(reason_for_failure(channel));
  }
  if (!first_done_) first_done_ = channel.direction();
  if (to_backend_->state() == SpliceChannel::State::done &&
      to_client_->state() == SpliceChannel::State::done)
    return stop(CloseReason::completed);
  arm_timer(idle_deadline());  // one direction ended: the half-closed timeout applies now
}

CloseReason Session::reason_for_failure(const SpliceChannel& channel) const {
  const bool source = channel.failed_side() == SpliceChannel::Side::source;
  const bool from_client = channel.direction() == Direction::client_to_backend;
  return source == from_client ? CloseReason::client_error : CloseReason::backend_error;
}

void Session::stop(CloseReason reason) {
  if (stopped_) return;
  stopped_ = true;
  auto self = shared_from_this();  // the registry may hold the last reference
  // Operations hook: the record is taken before release_server() forgets the server.
  SessionReporter* reporter = worker_.reporter();
  const std::optional<SessionRecord> ended =
      reporter ? std::optional<SessionRecord>(record(reason)) : std::nullopt;
  if (to_backend_) to_backend_->stop();
  if (to_client_) to_client_->stop();
  forget_watches();  // before the sockets close and their descriptors can be reused
  timer_.cancel();
  if (std::exchange(queued_, false)) route_.pool->cancel_wait(id_);  // else a slot comes back
  release_server();
  route_.ticket.release();
  const bool reset = reason != CloseReason::completed;
  if (mirror_) mirror_->close(reset);
  if (reset) {
    splice_io::close_with_reset(client_);
    splice_io::close_with_reset(backend_);
  }
  client_.reset();
  backend_.reset();
  worker_.stats().count_close(reason);
  worker_.remove(id_);
  if (ended) reporter->session_ended(*ended);
  if (log::enabled(log::Level::debug)) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_);
    log::debug(
        "session {} listener {} backend {} closed: {}{}{} after {} ms, {} B to backend, {} B to "
        "client",
        id_, listener_.name, backend_name_, to_string(reason), error_ ? ": " : "",
        error_ ? std::strerror(error_) : "", ms.count(),
        to_backend_ ? to_backend_->bytes_forwarded() : 0,
        to_client_ ? to_client_->bytes_forwarded() : 0);
  }
}

}  // namespace spliceproxy

namespace spliceproxy {
namespace {

FlowEndpoint flow_endpoint(const net::Endpoint& endpoint) {
  FlowEndpoint out;
  const sockaddr* address = endpoint.data();
  if (address->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    out.ipv6 = true;
    std::memcpy(out.ip.data(), &in6->sin6_addr, 16);
    out.port = ntohs(in6->sin6_port);
  } else if (address->sa_family == AF_INET) {
    const auto* in4 = reinterpret_cast<const sockaddr_in*>(address);
    std::memcpy(out.ip.data(), &in4->sin_addr, 4);
    out.port = ntohs(in4->sin_port);
  }
  return out;
}

}  // namespace

// The flow a capture shows: the client's address (from its PROXY protocol header when the
// listener reads one) and the real backend address.
void Session::open_mirror() {
  mirror_->open(flow_endpoint(route_.client.peer), flow_endpoint(server_->endpoint));
}

}  // namespace spliceproxy
