// SessionRecord: the termination codes.
#include "proxy/ops/session_record.hpp"

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
    // Over max_connection_rate: refused by the proxy before the request, like a tarpit (HAProxy's
    // "PT"), without the wait.
    case CloseReason::rate_limited:
      return "PT";
    case CloseReason::proxy_protocol_error:
    case CloseReason::client_hello_error:
      return record.closed_by == ClosedBy::client ? "CR" : "PR";
    case CloseReason::not_tls:
      return "PR";
    case CloseReason::client_hello_timeout:
      return "cR";
    // No server in the pool (DNS discovery emptied it, or all drained): refused at connect.
    case CloseReason::no_server:
      return "SC";
    // Waited in the backend's queue past timeouts.queue (HAProxy's sQ).
    case CloseReason::queue_timeout:
      return "sQ";
    // Closed by the proxy at timeouts.max_lifetime, data flowing.
    case CloseReason::max_lifetime:
      return "PD";
    case CloseReason::count:
      break;
  }
  return "??";
}

}  // namespace spliceproxy
