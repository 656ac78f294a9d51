// Session::record: how a Session describes itself when it ends, for the access log and the
// byte totals (proxy/ops/session_record.hpp).
#include <chrono>
#include <optional>

#include "proxy/ops/session_record.hpp"
#include "proxy/session.hpp"
#include "proxy/upstream/upstream_pool.hpp"

namespace spliceproxy {

namespace {

ClosedBy closed_by(CloseReason reason, std::optional<Direction> first_done) {
  switch (reason) {
    case CloseReason::client_error:
      return ClosedBy::client;
    case CloseReason::backend_error:
      return ClosedBy::backend;
    case CloseReason::completed:
      if (first_done == Direction::client_to_backend) return ClosedBy::client;
      if (first_done == Direction::backend_to_client) return ClosedBy::backend;
      return ClosedBy::proxy;
    default:
      return ClosedBy::proxy;
  }
}

}  // namespace

SessionRecord Session::record(CloseReason reason) const {
  using namespace std::chrono;
  const auto elapsed = Clock::now() - started_;
  SessionRecord r;
  r.id = id_;
  r.start = time_point_cast<system_clock::duration>(system_clock::now() - elapsed);
  r.duration = duration_cast<milliseconds>(elapsed);
  r.client = net::to_string(client_address());  // the PROXY header's, if any
  if (connected_ && server_) {
    r.server = backend_name_;
    r.server_name = server_->name;
  }
  r.listener = listener_.name;
  r.backend = route_.pool ? route_.pool->backend().name : listener_.backend;
  r.bytes_client_to_backend = to_backend_ ? to_backend_->bytes_forwarded() : 0;
  r.bytes_backend_to_client = to_client_ ? to_client_->bytes_forwarded() : 0;
  r.closed_by = closed_by(reason, first_done_);
  r.reason = reason;
  r.connect_attempts = static_cast<unsigned>(tried_.size());
  if (mirror_) r.mirror_dropped_bytes = mirror_->dropped_bytes();
  r.sni = route_.tls.sni;
  r.tls_route = route_.tls.route;
  return r;
}

}  // namespace spliceproxy
