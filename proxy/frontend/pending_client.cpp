// PendingClient: the deadline, readiness waits and RST close shared by the frontend's readers.
#include "proxy/frontend/pending_client.hpp"

#include <sys/socket.h>

#include <boost/asio/socket_base.hpp>
#include <cerrno>
#include <utility>

namespace spliceproxy {

PendingClient::PendingClient(boost::asio::io_context& io, Socket socket,
                             const net::ClientAddresses& addresses, AdmissionTicket place,
                             Clock::time_point accepted)
    : socket_(std::move(socket)),
      addresses_(addresses),
      place_(std::move(place)),
      accepted_(accepted),
      timer_(io) {}

void PendingClient::start(config::Duration timeout) {
  timer_.expires_after(timeout);
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec && !self->done_) self->on_timeout();
  });
  step();
}

void PendingClient::close() {
  if (!finish()) return;
  boost::system::error_code ignored;
  socket_.set_option(boost::asio::socket_base::linger(true, 0), ignored);
  socket_.close(ignored);
  place_.release();
}

void PendingClient::wait_readable() {
  socket_.async_wait(Socket::wait_read,
                     [self = shared_from_this()](const boost::system::error_code& ec) {
                       if (self->done_) return;
                       if (ec) return self->on_error(ec.message());
                       self->step();
                     });
}

bool PendingClient::finish() {
  if (std::exchange(done_, true)) return false;
  timer_.cancel();
  return true;
}

ssize_t PendingClient::receive(std::uint8_t* into, std::size_t size, int flags) {
  ssize_t n;
  do {
    n = ::recv(socket_.native_handle(), into, size, flags | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  return n;
}

}  // namespace spliceproxy
