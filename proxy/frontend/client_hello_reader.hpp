// ClientHelloReader: on a listener with tls_routes, reads each admitted client's TLS ClientHello
// without consuming it, so that the session can pick a backend by its server name and ALPN.
//
//   Listener ──admitted──▶ read(client) ──hello complete, or not TLS──▶ routed(client, hello)
//                             │
//                             └─ malformed, EOF, reset, or timeouts.client_hello passed ──▶
//                                closed with RST, tls_client_hello_errors_total, place
//                                released, rejected(client) for its log line
//
// Why peek: the proxy never takes a byte out of the socket, so every byte of the hello is still
// there when the session starts, and the data path forwards it to the chosen backend first,
// exactly once, in order, by splice like the rest, past the mirror and the byte counters too.
// Nothing is buffered on the side and written out separately. The cost is that a peek rereads
// from the start: to wake only when the parser can move on, the socket's SO_RCVLOWAT is set to
// the length the parser asks for (a TCP socket is not readable before that many bytes, or its
// EOF, are queued), and put back to 1 before the client is handed on. Unix sockets ignore
// SO_RCVLOWAT in poll, so the config allows tls_routes on TCP listeners only.
// The deadline, waits and closing are PendingClient's. One per listener per worker.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <unordered_map>

#include "config/config.hpp"
#include "proxy/base/net.hpp"
#include "proxy/base/stats.hpp"
#include "proxy/datapath/splice_channel.hpp"
#include "proxy/frontend/admission.hpp"
#include "proxy/protocol/tls_client_hello.hpp"

namespace spliceproxy {

class ClientHelloReader {
 public:
  // A client whose first bytes were read: `hello` is complete (server name, ALPN) or not_tls.
  // The socket holds every byte still, and reads from the first one.
  using Routed = std::function<void(Socket client, const net::ClientAddresses& addresses,
                                    AdmissionTicket place, Clock::time_point accepted,
                                    const tls::Result& hello)>;
  // A client closed for its hello: why, and whether the client ended it (EOF or reset).
  using Rejected =
      std::function<void(const net::ClientAddresses& addresses, Clock::time_point accepted,
                         CloseReason reason, bool by_client)>;

  // `listener` gives timeouts.client_hello (copied); `routed` and `rejected` must outlive the
  // reader; close_all() calls neither.
  ClientHelloReader(boost::asio::io_context& io, const config::Listener& listener, Stats& stats,
                    Routed routed, Rejected rejected);
  ~ClientHelloReader() { close_all(); }
  ClientHelloReader(const ClientHelloReader&) = delete;
  ClientHelloReader& operator=(const ClientHelloReader&) = delete;

  // Takes the hello timeout of `listener` (a reload) for clients read from now on.
  void configure(const config::Listener& listener);
  // Takes an admitted client, with its place in the listener's limits (released if closed).
  void read(Socket client, const net::ClientAddresses& addresses, AdmissionTicket place,
            Clock::time_point accepted);
  // Closes every client whose hello is still being read, without routing them.
  void close_all();
  std::size_t pending() const { return clients_.size(); }

 private:
  class Client;

  boost::asio::io_context& io_;
  std::string name_;  // the listener's, for the log
  config::Duration timeout_{};
  Stats& stats_;
  Routed routed_;
  Rejected rejected_;
  std::unordered_map<const Client*, std::shared_ptr<Client>> clients_;
};

}  // namespace spliceproxy
