// ProxyHeaderReader: on a listener with `proxy_protocol` set, reads the PROXY protocol header
// each accepted client must send first, before admission and before any backend connect.
//
//   Listener ──accept──▶ read(client, place) ──header complete──▶ admit(client, addresses from
//                             │                                        header, place)
//                             │
//                             └─ malformed, wrong version, EOF, reset, or timeouts.proxy_header
//                                passed ──▶ closed with RST, proxy_protocol_errors_total,
//                                           place released, rejected(client) for its log line
//
// Bytes are looked at with MSG_PEEK and only header bytes are consumed: what follows the
// header stays in the socket for the session's splice. Bytes of a header not complete yet are
// consumed as they come (the parser guarantees they are header), so a readiness wait never
// fires again for bytes already seen. The deadline, waits and closing are PendingClient's.
// One per listener per worker; single-threaded.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>

#include "config/config.hpp"
#include "proxy/base/net.hpp"
#include "proxy/base/stats.hpp"
#include "proxy/datapath/splice_channel.hpp"
#include "proxy/frontend/admission.hpp"
#include "proxy/frontend/pending_client.hpp"
#include "proxy/protocol/proxy_protocol.hpp"

namespace spliceproxy {

using net::ClientAddresses;

class ProxyHeaderReader {
 public:
  using Admit = std::function<void(Socket client, const ClientAddresses& addresses,
                                   AdmissionTicket place, Clock::time_point accepted)>;
  // A client closed for its header, after it was: its socket's addresses, when it was
  // accepted, and whether the client ended it (EOF or reset) rather than the reader (a
  // malformed header, or none in time).
  using Rejected = std::function<void(const ClientAddresses& addresses, Clock::time_point accepted,
                                      bool by_client)>;

  // `listener` gives the accepted versions and timeouts.proxy_header (copied); `admit` gets each
  // client whose header was read, with the addresses of the header (or the socket's for v1
  // UNKNOWN, v2 LOCAL and v2 without an IP family) and the time it was accepted, `rejected`
  // each client closed instead; both must outlive the reader. close_all() calls neither.
  ProxyHeaderReader(boost::asio::io_context& io, const config::Listener& listener, Stats& stats,
                    Admit admit, Rejected rejected);
  ~ProxyHeaderReader() { close_all(); }
  ProxyHeaderReader(const ProxyHeaderReader&) = delete;
  ProxyHeaderReader& operator=(const ProxyHeaderReader&) = delete;

  // Takes the accepted versions and header timeout of `listener` (a reload): the versions for
  // every header parsed from now on, the timeout for clients accepted from now on.
  void configure(const config::Listener& listener);
  // Takes a just accepted client; `socket_addresses` are what its socket says. `place` (its
  // place in the listener's max_connections, if it got one) goes with it to `admit`, or is
  // released when the client is closed.
  void read(Socket client, const ClientAddresses& socket_addresses, AdmissionTicket place);
  // Closes every client whose header is still being read, without admitting them.
  void close_all();
  std::size_t pending() const { return clients_.size(); }

 private:
  class Client;
  void finish(const Client& client);

  boost::asio::io_context& io_;
  std::string name_;  // the listener's, for the log
  proxy_protocol::Accept accept_ = proxy_protocol::Accept::any;
  config::Duration timeout_{};
  Stats& stats_;
  Admit admit_;
  Rejected rejected_;
  std::unordered_map<const Client*, std::shared_ptr<Client>> clients_;
};

// The endpoint of a header's address, and back (nullopt for a non-IP endpoint; an
// IPv4-mapped IPv6 address gives IPv4).
net::Endpoint to_endpoint(const proxy_protocol::IpPort& address);
std::optional<proxy_protocol::IpPort> to_ip_port(const net::Endpoint& endpoint);

}  // namespace spliceproxy
