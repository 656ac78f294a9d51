// Listener: accept loop, admission, accept-error back-off.
#include "proxy/listener.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/post.hpp>
#include <boost/asio/socket_base.hpp>

#include "proxy/base/log.hpp"
#include "proxy/session.hpp"
#include "proxy/upstream/upstream_pool.hpp"
#include "proxy/worker.hpp"

namespace spliceproxy {
namespace {

constexpr auto kErrorLogInterval = std::chrono::seconds(1);

// An error about the one connection being accepted (it was reset or refused by a filter
// before accept took it): the next accept may well succeed at once.
bool connection_error(const boost::system::error_code& ec) {
  return ec == boost::asio::error::connection_aborted ||
         ec == boost::asio::error::connection_reset || ec.value() == EPROTO || ec.value() == EPERM;
}

}  // namespace

Listener::Listener(Worker& worker, std::shared_ptr<const ListenerRoute> route, UniqueFd fd)
    : worker_(worker), route_(std::move(route)), acceptor_(worker.io()), pause_timer_(worker.io()) {
  sockaddr_storage local{};
  socklen_t size = sizeof local;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&local), &size);
  const int family = local.ss_family;
  const boost::asio::generic::stream_protocol protocol(family, family == AF_UNIX ? 0 : IPPROTO_TCP);
  boost::system::error_code ec;
  acceptor_.assign(protocol, fd.get(), ec);
  if (ec) {  // fd closes here; this worker does not accept for the listener
    log::error("listener {}: worker {} cannot take its socket: {}", route_->listener->name,
               worker.index(), ec.message());
  } else {
    fd.release();
  }
  set_route(route_);
}

void Listener::set_route(std::shared_ptr<const ListenerRoute> route) {
  route_ = std::move(route);
  const config::Listener& listener = *route_->listener;
  if (header_reader_) {
    header_reader_->configure(listener);
  } else if (listener.proxy_protocol != config::ProxyProtocol::off) {
    // The reader lives as long as this Listener, whose handlers hold it alive.
    header_reader_ = std::make_unique<ProxyHeaderReader>(
        worker_.io(), listener, worker_.stats(),
        [this](Socket client, const net::ClientAddresses& addresses, AdmissionTicket place,
               Clock::time_point accepted) {
          admit(std::move(client), addresses, accepted, std::move(place));
        },
        [this](const net::ClientAddresses& addresses, Clock::time_point accepted, bool by_client) {
          report_rejected(addresses, accepted, CloseReason::proxy_protocol_error,
                          by_client ? ClosedBy::client : ClosedBy::proxy);
        });
  }
  make_hello_reader(listener);
}

void Listener::close() {
  boost::system::error_code ignored;
  pause_timer_.cancel();
  acceptor_.close(ignored);
  if (header_reader_) header_reader_->close_all();
  if (hello_reader_) hello_reader_->close_all();
  for (Parked& parked : parked_)
    parked.client.close(ignored);
  parked_.clear();
}

void Listener::do_accept() {
  accepting_ = true;
  // The peer's address comes from accept itself: a client that reset at once has none left
  // for getpeername, but still gets a session, which sees the reset on its first read.
  acceptor_.async_accept(
      worker_.io(), peer_,
      [self = shared_from_this()](const boost::system::error_code& ec, Socket client) {
        self->on_accept(ec, std::move(client));
      });
}

void Listener::on_accept(const boost::system::error_code& ec, Socket client) {
  accepting_ = false;
  if (ec == boost::asio::error::operation_aborted || !acceptor_.is_open()) return;
  if (ec) {
    worker_.stats().add(Counter::accept_errors_total);
    log_accept_error(ec);
    if (connection_error(ec)) return do_accept();
    // Out of descriptors, the pending connection stays in the backlog and would make accept
    // fail again at once: pause, sessions that end meanwhile free descriptors. Any other error
    // may come back at once too: pause rather than spin.
    return accept_after(Clock::now() + Worker::kDescriptorPause);
  }
  worker_.stats().add(Counter::sessions_accepted_total);
  const net::ClientAddresses addresses{peer_, std::nullopt};
  // The PROXY protocol header, when one is expected, says who the client is (and admits it
  // once read); otherwise the socket does. A client whose header is awaited holds a place in
  // max_connections meanwhile, unless another worker took the last one since this listener
  // looked: then it is read all the same, and parked if still full once read.
  if (route_->listener->proxy_protocol != config::ProxyProtocol::off) {
    AdmissionTicket place;
    route_->admission->reserve(place);
    header_reader_->read(std::move(client), addresses, std::move(place));
  } else if (!admit(std::move(client), addresses, Clock::now())) {
    return;  // parked: accepting goes on once there is room
  }
  continue_accepting();
}

bool Listener::wait_for_room() {
  std::weak_ptr<Listener> weak = weak_from_this();
  Worker* worker = &worker_;
  const bool full = route_->admission->wait_for_room([weak, worker] {
    // Called on whichever thread made room: back to this listener's own worker.
    boost::asio::post(worker->io(), [weak] {
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
  if (!acceptor_.is_open()) return;
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

void Listener::continue_accepting() {
  if (!acceptor_.is_open() || waiting_for_room_ || accepting_) return;
  // At max_connections: leave further clients in the backlog until a session ends.
  if (wait_for_room()) return;
  // A session that found no descriptor for its backend socket paused the worker's accepting:
  // accepting more now would only take clients that cannot be served yet.
  if (worker_.accept_paused_until() > Clock::now())
    return accept_after(worker_.accept_paused_until());
  // Over max_connection_rate with over_limit wait: clients stay in the backlog until a token
  // is due (a timer, no polling).
  if (const auto due = route_->admission->rate_wait_until(Clock::now())) {
    worker_.stats().add(Counter::connection_rate_waits_total);
    return accept_after(*due);
  }
  do_accept();
}

void Listener::accept_after(Clock::time_point when) {
  accepting_ = true;
  pause_timer_.expires_at(when);
  pause_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    self->accepting_ = false;
    if (!ec) self->continue_accepting();
  });
}

bool Listener::admit(Socket client, const net::ClientAddresses& addresses,
                     Clock::time_point accepted, AdmissionTicket place) {
  boost::system::error_code ec;
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
    client.set_option(boost::asio::socket_base::linger(true, 0), ec);
    client.close(ec);
    report_rejected(addresses, accepted, reason, ClosedBy::proxy);
    return true;
  }
  // ACLs and limits first, then the hello, with the client's place held while it is read.
  if (!route.listener->tls_routes.empty()) {
    hello_reader_->read(std::move(client), addresses, std::move(ticket), accepted);
    return true;
  }
  start_session(std::move(client), addresses, std::move(ticket), route.pool);
  return true;
}

void Listener::start_session(Socket client, const net::ClientAddresses& addresses,
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
void Listener::park(Socket client, const net::ClientAddresses& addresses,
                    Clock::time_point accepted) {
  parked_.push_back({std::move(client), addresses, accepted});
  if (waiting_for_room_) return;  // a wake-up is due already
  if (!wait_for_room())
    boost::asio::post(worker_.io(), [self = shared_from_this()] {
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

void Listener::log_accept_error(const boost::system::error_code& ec) {
  ++errors_since_log_;
  const auto now = Clock::now();
  if (now - last_error_log_ < kErrorLogInterval) return;
  log::warn("listener {}: accept failed: {} ({} errors since last report)", name(), ec.message(),
            errors_since_log_);
  last_error_log_ = now;
  errors_since_log_ = 0;
}

}  // namespace spliceproxy
