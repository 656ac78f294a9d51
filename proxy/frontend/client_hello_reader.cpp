// ClientHelloReader: one Client per admitted connection whose hello is awaited; see the header
// file for the contract and why it peeks.
#include "proxy/frontend/client_hello_reader.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "proxy/base/log.hpp"
#include "proxy/frontend/pending_client.hpp"

namespace spliceproxy {
namespace {

// The first peek asks for this much: most hellos fit (post-quantum key shares included).
constexpr std::size_t kFirstPeek = 2048;

}  // namespace

class ClientHelloReader::Client : public PendingClient {
 public:
  Client(ClientHelloReader& owner, Socket socket, const net::ClientAddresses& addresses,
         AdmissionTicket place, Clock::time_point accepted)
      : PendingClient(owner.io_, std::move(socket), addresses, std::move(place), accepted),
        owner_(owner),
        buffer_(kFirstPeek) {}

 private:
  // Peeks at everything queued (up to what the parser may need) and parses it from the start.
  void step() override {
    const ssize_t n = receive(buffer_.data(), buffer_.size(), MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return wait_readable();
    if (n < 0) return fail(std::strerror(errno), Failure::by_client);
    const auto seen = static_cast<std::size_t>(n);
    // Readable with no new byte: below SO_RCVLOWAT only an EOF wakes us.
    if (n == 0 || seen == seen_) return fail("closed before a complete hello", Failure::by_client);
    seen_ = seen;
    const tls::Result result = tls::parse({buffer_.data(), seen});
    switch (result.status) {
      case tls::Result::Status::need_more:
        if (buffer_.size() < result.length) buffer_.resize(result.length);
        set_low_water(result.length);
        return wait_readable();
      case tls::Result::Status::malformed:
        return fail(tls::to_string(result.error), Failure::malformed);
      case tls::Result::Status::not_tls:
      case tls::Result::Status::complete:
        return succeed(result);
    }
  }

  void on_timeout() override { fail("no complete hello in time", Failure::timeout); }
  void on_error(std::string_view why) override { fail(why, Failure::by_client); }

  // The socket reports readable once `bytes` are queued (or at EOF); the parser never asks for
  // more than tls::kMaxRecordBytes.
  void set_low_water(std::size_t bytes) {
    const int value = static_cast<int>(bytes);
    if (value == low_water_) return;
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVLOWAT, &value, sizeof value);
    low_water_ = value;
  }

  void succeed(const tls::Result& result) {
    set_low_water(1);  // the data path reads whatever comes
    finish();
    owner_.stats_.add(result.status == tls::Result::Status::complete
                          ? Counter::tls_client_hellos_total
                          : Counter::tls_not_tls_total);
    auto self = shared_from_this();
    owner_.clients_.erase(this);
    owner_.routed_(std::move(socket_), addresses_, std::move(place_), accepted_, result);
  }

  enum class Failure { by_client, malformed, timeout };

  void fail(std::string_view why, Failure failure) {
    Stats& stats = owner_.stats_;
    stats.add(Counter::tls_client_hello_errors_total);
    if (failure == Failure::timeout) stats.add(Counter::tls_client_hello_timeouts_total);
    const CloseReason reason = failure == Failure::timeout ? CloseReason::client_hello_timeout
                                                           : CloseReason::client_hello_error;
    stats.count_close(reason);
    log::debug("listener {}: client {} closed: TLS ClientHello: {}", owner_.name_,
               net::to_string(addresses_.peer), why);
    close();
    auto self = shared_from_this();
    owner_.clients_.erase(this);
    owner_.rejected_(addresses_, accepted_, reason, failure == Failure::by_client);
  }

  ClientHelloReader& owner_;
  std::vector<std::uint8_t> buffer_;
  std::size_t seen_ = 0;  // bytes the last peek saw
  int low_water_ = 1;
};

ClientHelloReader::ClientHelloReader(boost::asio::io_context& io, const config::Listener& listener,
                                     Stats& stats, Routed routed, Rejected rejected)
    : io_(io), stats_(stats), routed_(std::move(routed)), rejected_(std::move(rejected)) {
  configure(listener);
}

void ClientHelloReader::configure(const config::Listener& listener) {
  name_ = listener.name;
  timeout_ = listener.timeouts.client_hello;
}

void ClientHelloReader::read(Socket client, const net::ClientAddresses& addresses,
                             AdmissionTicket place, Clock::time_point accepted) {
  auto pending =
      std::make_shared<Client>(*this, std::move(client), addresses, std::move(place), accepted);
  clients_.emplace(pending.get(), pending);
  pending->start(timeout_);
}

void ClientHelloReader::close_all() {
  auto clients = std::move(clients_);
  clients_.clear();
  for (auto& [key, client] : clients)
    client->close();
}

}  // namespace spliceproxy
