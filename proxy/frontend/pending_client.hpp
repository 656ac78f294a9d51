// PendingClient: an accepted client the frontend reads something from before any backend
// connect (its PROXY protocol header, its TLS ClientHello), with one deadline from the start of
// the read. It owns the socket and the client's place in max_connections until it hands both
// on or closes the client with RST. ProxyHeaderReader and ClientHelloReader each keep theirs
// and say what the bytes mean (step()); waiting, the deadline and closing are here.
//
//   start(timeout) ──▶ step() ──need more──▶ wait_readable() ──readable──▶ step() ...
//                        │                          └─ error ──▶ on_error(why)
//                        └─ done: finish(), hand the socket on  (timer ──▶ on_timeout())
//
// Single-threaded (the worker's); handlers hold shared_from_this().
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <string_view>

#include "config/config.hpp"
#include "proxy/base/net.hpp"
#include "proxy/datapath/splice_channel.hpp"
#include "proxy/frontend/admission.hpp"

namespace spliceproxy {

class PendingClient : public std::enable_shared_from_this<PendingClient> {
 public:
  PendingClient(boost::asio::io_context& io, Socket socket, const net::ClientAddresses& addresses,
                AdmissionTicket place, Clock::time_point accepted);
  virtual ~PendingClient() = default;
  PendingClient(const PendingClient&) = delete;
  PendingClient& operator=(const PendingClient&) = delete;

  // Arms the deadline and looks at what arrived already.
  void start(config::Duration timeout);
  // Closes the client with RST (SO_LINGER 0) without handing it on; releases its place now,
  // not when the last handler lets go. Idempotent.
  void close();

 protected:
  // Looks at the bytes: waits for more (wait_readable), or finishes one way or the other.
  virtual void step() = 0;
  virtual void on_timeout() = 0;
  virtual void on_error(std::string_view why) = 0;

  // Waits until the socket is readable, then step(); at most one wait is pending.
  void wait_readable();
  // Marks the read over and stops the deadline; false if it was over already.
  bool finish();
  // recv(2) without blocking, retried on EINTR: bytes, 0 at EOF, -1 with errno set.
  ssize_t receive(std::uint8_t* into, std::size_t size, int flags);
  bool done() const { return done_; }

  Socket socket_;
  net::ClientAddresses addresses_;
  AdmissionTicket place_;
  Clock::time_point accepted_;

 private:
  boost::asio::steady_timer timer_;
  bool done_ = false;
};

}  // namespace spliceproxy
