// Listener: accept loop, admission, accept-error back-off.
#include "proxy/listener.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "proxy/base/log.hpp"
#include "proxy/session.hpp"
#include "proxy/upstream/upstream_pool.hpp"
#include "proxy/worker.hpp"

namespace spliceproxy {
namespace {

constexpr auto kErrorLogInterval = std::chrono::seconds(1);

// An error about the one connection being accepted (it was reset or refused by a filter
// before accept took it), or one accept4(2) says to retry: the next accept may well succeed at
// once.
bool connection_error(int error) {
  return error == ECONNABORTED || error == ECONNRESET || error == EPROTO || error == EPERM ||
         error == EINTR || error == ENETDOWN || error == ENOPROTOOPT || error == EHOSTDOWN ||
         error == ENONET || error == EHOSTUNREACH || error == EOPNOTSUPP || error == ENETUNREACH;
}

}  // namespace

Listener::Listener(Worker& worker, std::shared_ptr<const ListenerRoute> route, UniqueFd fd)
    : worker_(worker),
      route_(std::move(route)),
      socket_(std::move(fd)),
      pause_timer_(worker.timers(), [this] {
        accepting_ = false;
        continue_accepting();
      }) {
  sockaddr_storage local{};
  socklen_t size = sizeof local;
  ::getsockname(socket_.get(), reinterpret_cast<sockaddr*>(&local), &size);
  family_ = local.ss_family;
  watch_ = worker.poller().add(socket_.get());
  if (watch_ == 0) {  // the socket closes; this worker does not accept for the listener
    log::error("listener {}: worker {} cannot wait on its socket: {}", route_->listener->name,
               worker.index(), std::strerror(errno));
    socket_.reset();
  }
  set_route(route_);
}

Listener::~Listener() {
  worker_.poller().remove(watch_, /*unregister=*/true);
}

void Listener::set_route(std::shared_ptr<const ListenerRoute> route) {
  route_ = std::move(route);
  const config::Listener& listener = *route_->listener;
  if (header_reader_) {
    header_reader_->configure(listener);
  } else if (listener.proxy_protocol != config::ProxyProtocol::off) {
    // The reader lives as long as this Listener; its clients call back only while open, and
    // close() closes them.
    header_reader_ = std::make_unique<ProxyHeaderReader>(
        worker_.io(), listener, worker_.stats(),
        [this](Socket client, const net::ClientAddresses& addresses, AdmissionTicket place,
               Clock::time_point accepted) {
          admit(from_asio(client), addresses, accepted, std::move(place));
        },
        [this](const net::ClientAddresses& addresses, Clock::time_point accepted, bool by_client) {
          report_rejected(addresses, accepted, CloseReason::proxy_protocol_error,
                          by_client ? ClosedBy::client : ClosedBy::proxy);
        });
  }
  make_hello_reader(listener);
}

void Listener::close() {
  pause_timer_.cancel();
  // A Unix listener's socket is a dup shared by the workers: closing this one's does not take
  // it out of the set.
  worker_.poller().remove(std::exchange(watch_, 0), /*unregister=*/true);
  socket_.reset();
  if (header_reader_) header_reader_->close_all();
  if (hello_reader_) hello_reader_->close_all();
  for (Parked& parked : parked_)
    splice_io::close_with_reset(parked.client);
  parked_.clear();
  worker_.asio_touched();  // closing the readers' clients queues their handlers
}

// The wait began when a client could be accepted: the first one is taken as an armed accept
// would have been (admitted, or parked if another worker took the last place meanwhile), the
// next ones only while may_accept().
void Listener::on_ready(bool) {
  accepting_ = false;
  const auto self = shared_from_this();  // alive for the batch, whatever its sessions do
  if (socket_) accept_some();
}

void Listener::accept_some() {
  for (unsigned accepted = 0; accepted < kAcceptBatch; ++accepted) {
    if (accepted > 0 && !may_accept()) return;
    sockaddr_storage peer{};
    socklen_t size = sizeof peer;
    const int fd = ::accept4(socket_.get(), reinterpret_cast<sockaddr*>(&peer), &size,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      // The peer's address comes from accept itself: a client that reset at once has none
      // left for getpeername, but still gets a session, which sees the reset on its first read.
      // A parked client stops the batch: the next ones must not overtake it (on_room goes on).
      if (!on_accept(
              UniqueFd(fd),
              net::Endpoint(&peer, size, family_ == AF_UNIX ? 0 : static_cast<int>(IPPROTO_TCP))))
        return;
      continue;
    }
    const int error = errno;
    if (error == EAGAIN || error == EWOULDBLOCK) {
      // An edge that came since the last wait: the backlog has clients again.
      if (!worker_.poller().wait(watch_, false, this)) continue;
      accepting_ = true;
      return;
    }
    worker_.stats().add(Counter::accept_errors_total);
    log_accept_error(error);
    if (connection_error(error)) continue;
    // Out of descriptors, the pending connection stays in the backlog and would make accept
    // fail again at once: pause, sessions that end meanwhile free descriptors. Any other error
    // may come back at once too: pause rather than spin.
    return accept_after(Clock::now() + Worker::kDescriptorPause);
  }
  accept_after(Clock::now());  // the batch is used up: on in the next round
}

bool Listener::on_accept(UniqueFd client, const net::Endpoint& peer) {
  worker_.stats().add(Counter::sessions_accepted_total);
  const net::ClientAddresses addresses{peer, std::nullopt};
  // The PROXY protocol header, when one is expected, says who the client is (and admits it
  // once read); otherwise the socket does. A client whose header is awaited holds a place in
  // max_connections meanwhile, unless another worker took the last one since this listener
  // looked: then it is read all the same, and parked if still full once read.
  if (route_->listener->proxy_protocol != config::ProxyProtocol::off) {
    AdmissionTicket place;
    route_->admission->reserve(place);
    header_reader_->read(to_asio(std::move(client)), addresses, std::move(place));
    return true;
  }
  return admit(std::move(client), addresses, Clock::now());
}

UniqueFd Listener::from_asio(Socket& client) {
  worker_.asio_touched();
  boost::system::error_code ignored;
  return UniqueFd(client.is_open() ? client.release(ignored) : -1);
}

Socket Listener::to_asio(UniqueFd client) {
  worker_.asio_touched();
  Socket socket(worker_.io());
  const boost::asio::generic::stream_protocol protocol(family_,
                                                       family_ == AF_UNIX ? 0 : IPPROTO_TCP);
  boost::system::error_code ec;
  socket.assign(protocol, client.get(), ec);
  if (!ec) client.release();  // else it closes here, and the reader sees a closed socket
  return socket;
}

bool Listener::wait_for_room() {
  std::weak_ptr<Listener> weak = weak_from_this();
  Worker* worker = &worker_;
  const bool full = route_->admission->wait_for_room([weak, worker] {
    // Called on whichever thread made room: back to this listener's own worker.
    worker->post([weak] {
      if (auto self = weak.lock()) self->on_room();
    });
  });
  if (full) {
    waiting_for_room_ = true;
    worker_.stats().add(Counter::listener_pauses_total);
  }
  return full;
}

void Listener::on_room() {
  waiting_for_room_ = false;
  if (!socket_) return;
  while (!parked_.empty()) {
    Parked next = std::move(parked_.front());
    parked_.pop_front();
    if (!admit(std::move(next.client), next.addresses, next.accepted)) {
      // Full again: admit() parked it last; it keeps its place at the front.
      parked_.push_front(std::move(parked_.back()));
      parked_.pop_back();
      return;
    }
  }
  continue_accepting();
}

bool Listener::may_accept() {
  if (!socket_ || waiting_for_room_ || accepting_) return false;
  // At max_connections: leave further clients in the backlog until a session ends.
  if (wait_for_room()) return false;
  // A session that found no descriptor for its backend socket paused the worker's accepting:
  // accepting more now would only take clients that cannot be served yet.
  if (worker_.accept_paused_until() > Clock::now()) {
    accept_after(worker_.accept_paused_until());
    return false;
  }
  // Over max_connection_rate with over_limit wait: clients stay in the backlog until a token
  // is due (a timer, no polling).
  if (const auto due = route_->admission->rate_wait_until(Clock::now())) {
    worker_.stats().add(Counter::connection_rate_waits_total);
    accept_after(*due);
    return false;
  }
  return true;
}

void Listener::continue_accepting() {
  if (may_accept()) accept_some();
}

void Listener::accept_after(Clock::time_point when) {
  accepting_ = true;
  pause_timer_.arm(when);
}

bool Listener::admit(UniqueFd client, const net::ClientAddresses& addresses,
                     Clock::time_point accepted, AdmissionTicket place) {
  const ListenerRoute& route = *route_;
  const net::Endpoint& peer = addresses.peer;
  AdmissionTicket ticket = std::move(place);
  const Admission::Verdict verdict = route.admission->admit(peer, ticket);
  if (verdict == Admission::Verdict::full) {
    park(std::move(client), addresses, accepted);
    return false;
  }
  if (verdict != Admission::Verdict::admitted) {
    const CloseReason reason = refuse(verdict);
    splice_io::close_with_reset(client);
    report_rejected(addresses, accepted, reason, ClosedBy::proxy);
    return true;
  }
  // ACLs and limits first, then the hello, with the client's place held while it is read.
  if (!route.listener->tls_routes.empty()) {
    hello_reader_->read(to_asio(std::move(client)), addresses, std::move(ticket), accepted);
    return true;
  }
  start_session(std::move(client), addresses, std::move(ticket), route.pool);
  return true;
}

void Listener::start_session(UniqueFd client, const net::ClientAddresses& addresses,
                             AdmissionTicket ticket, std::shared_ptr<UpstreamPool> pool,
                             SessionTls tls) {
  const ListenerRoute& route = *route_;
  const std::uint64_t id = worker_.next_session_id();
  auto session =
      std::make_shared<Session>(worker_, route.config, *route.listener, std::move(client), id);
  worker_.add(id, session);
  session->start(SessionRoute{std::move(pool), net::source_key(addresses.peer), std::move(ticket),
                              addresses, route.admission->shared_bandwidth(), std::move(tls)});
}

CloseReason Listener::refuse(Admission::Verdict verdict) {
  const CloseReason reason =
      verdict == Admission::Verdict::rate_limited ? CloseReason::rate_limited : CloseReason::denied;
  switch (verdict) {
    case Admission::Verdict::denied:
      worker_.stats().add(Counter::acl_denied_total);
      break;
    case Admission::Verdict::rate_limited:
      worker_.stats().add(Counter::connection_rate_rejects_total);
      break;
    default:
      worker_.stats().add(Counter::source_limit_rejects_total);
  }
  worker_.stats().count_close(reason);
  return reason;
}

// Another worker took the last place since this one looked (for a client whose PROXY header
// was read without a place: since it was accepted): it waits here until room is made.
void Listener::park(UniqueFd client, const net::ClientAddresses& addresses,
                    Clock::time_point accepted) {
  parked_.push_back({std::move(client), addresses, accepted});
  if (waiting_for_room_) return;  // a wake-up is due already
  if (!wait_for_room())
    worker_.post([self = shared_from_this()] {
      self->on_room();  // room was made in between
    });
}

void Listener::report_rejected(const net::ClientAddresses& addresses, Clock::time_point accepted,
                               CloseReason reason, ClosedBy closed_by) {
  SessionReporter* reporter = worker_.reporter();
  if (!reporter) return;
  using namespace std::chrono;
  const auto elapsed = Clock::now() - accepted;
  SessionRecord r;
  r.id = worker_.next_session_id();
  r.start = time_point_cast<system_clock::duration>(system_clock::now() - elapsed);
  r.duration = duration_cast<milliseconds>(elapsed);
  r.client = net::to_string(addresses.peer);
  r.listener = route_->listener->name;
  r.backend = route_->listener->backend;
  r.closed_by = closed_by;
  r.reason = reason;
  reporter->session_ended(r);
}

void Listener::log_accept_error(int error) {
  ++errors_since_log_;
  const auto now = Clock::now();
  if (now - last_error_log_ < kErrorLogInterval) return;
  log::warn("listener {}: accept failed: {} ({} errors since last report)", name(),
            std::strerror(error), errors_since_log_);
  last_error_log_ = now;
  errors_since_log_ = 0;
}

}  // namespace spliceproxy
