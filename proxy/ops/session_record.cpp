// SessionRecord: the termination codes, and how a Session describes itself when it ends.
#include "proxy/ops/session_record.hpp"

#include "proxy/session.hpp"
#include "proxy/upstream/upstream_pool.hpp"

namespace spliceproxy {

std::string_view to_string(ClosedBy closed_by) {
  switch (closed_by) {
    case ClosedBy::client:
      return "client";
    case ClosedBy::backend:
      return "backend";
    case ClosedBy::proxy:
      return "proxy";
  }
  return "unknown";
}

std::string_view termination_code(const SessionRecord& record) {
  const bool connected = record.server.has_value();
  switch (record.reason) {
    case CloseReason::completed:
      return "--";
    case CloseReason::connect_failed:
      return "SC";
    case CloseReason::connect_timeout:
      return "sC";
    case CloseReason::idle_timeout:
    case CloseReason::half_closed_timeout:
      return "cD";
    case CloseReason::client_error:
      return connected ? "CD" : "CC";
    case CloseReason::backend_error:
      return "SD";
    case CloseReason::shutdown:
      return connected ? "KD" : "KC";
    // Clients closed before a session began (Listener::report_rejected).
    case CloseReason::denied:
      return "PR";
    case CloseReason::proxy_protocol_error:
      return record.closed_by == ClosedBy::client ? "CR" : "PR";
    case CloseReason::count:
      break;
  }
  return "??";
}

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
    r.server_name = route_.pool->backend().servers[*server_].address.to_string();
  }
  r.listener = listener_.name;
  r.backend = listener_.backend;
  r.bytes_client_to_backend = to_backend_ ? to_backend_->bytes_forwarded() : 0;
  r.bytes_backend_to_client = to_client_ ? to_client_->bytes_forwarded() : 0;
  r.closed_by = closed_by(reason, first_done_);
  r.reason = reason;
  r.connect_attempts = static_cast<unsigned>(tried_.size());
  if (mirror_) r.mirror_dropped_bytes = mirror_->dropped_bytes();
  return r;
}

}  // namespace spliceproxy
