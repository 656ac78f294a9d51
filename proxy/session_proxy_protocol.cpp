// Session, the PROXY protocol header to a backend (backends[].proxy_protocol): built from who
// the client is (route_.client) once the connect succeeded, written in full before the
// channels start, without blocking the worker: a partial write waits for the backend socket
// to be writable, within the connect attempt's deadline (see Session::on_timer).
#include <sys/socket.h>

#include <cerrno>

#include "proxy/frontend/proxy_header_reader.hpp"
#include "proxy/session.hpp"
#include "proxy/upstream/upstream_pool.hpp"
#include "proxy/worker.hpp"

namespace spliceproxy {

// The source is the client's address, the destination the address it connected to; a client
// without an IP address (a Unix socket) gets v1 UNKNOWN or v2 PROXY with family UNSPEC.
void Session::send_proxy_header() {
  namespace pp = proxy_protocol;
  const auto source = to_ip_port(route_.client.peer);
  const auto destination =
      to_ip_port(route_.client.local ? *route_.client.local : net::local_endpoint(client_.get()));
  const pp::Version version = route_.pool->backend().proxy_protocol == config::ProxyProtocol::v1
                                  ? pp::Version::v1
                                  : pp::Version::v2;
  const pp::Addresses addresses{source.value_or(pp::IpPort{}), destination.value_or(pp::IpPort{})};
  // The TLS server name the session was routed by goes along as the authority (v2 only).
  proxy_header_ = pp::encode(version, source && destination ? &addresses : nullptr,
                             route_.tls.sni.value_or(std::string()));
  write_proxy_header();
}

void Session::write_proxy_header() {
  while (!proxy_header_.empty()) {
    const ssize_t n = ::send(backend_.get(), proxy_header_.data(), proxy_header_.size(),
                             MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // Room comes as readiness, an error too (the next send reports it); an edge since the
      // last wait means: try again now.
      if (!socket_watches_.dst) socket_watches_.dst = worker_.poller().add(backend_.get());
      if (!socket_watches_.dst) {
        error_ = errno;
        return stop(CloseReason::backend_error);
      }
      if (worker_.poller().wait(socket_watches_.dst, true, this)) return;
      continue;
    }
    if (n < 0) {
      error_ = errno;
      return stop(CloseReason::backend_error);
    }
    proxy_header_.erase(proxy_header_.begin(), proxy_header_.begin() + n);
  }
  worker_.stats().add(Counter::proxy_protocol_sent_total);
  start_channels();
}

}  // namespace spliceproxy
