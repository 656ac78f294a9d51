// ProxyHeaderReader: one Client per accepted connection whose header is awaited; see the
// header file for the contract.
#include "proxy/frontend/proxy_header_reader.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <cerrno>
#include <cstring>
#include <vector>

#include "proxy/base/log.hpp"

namespace spliceproxy {
namespace {

namespace pp = proxy_protocol;

// The first look asks for this much: every v1 header and a v2 header with IPv6 addresses and
// a few hundred bytes of TLVs fit.
constexpr std::size_t kFirstPeek = 512;

pp::Accept accepted_versions(config::ProxyProtocol mode) {
  switch (mode) {
    case config::ProxyProtocol::v1:
      return pp::Accept::v1;
    case config::ProxyProtocol::v2:
      return pp::Accept::v2;
    default:
      return pp::Accept::any;
  }
}

}  // namespace

class ProxyHeaderReader::Client : public PendingClient {
 public:
  Client(ProxyHeaderReader& owner, Socket socket, const ClientAddresses& addresses,
         AdmissionTicket place)
      : PendingClient(owner.io_, std::move(socket), addresses, std::move(place), Clock::now()),
        owner_(owner),
        buffer_(kFirstPeek) {}

 private:
  // Looks at what arrived: waits for more, fails, or hands the client over.
  void step() override {
    const ssize_t n = receive(buffer_.data() + have_, buffer_.size() - have_, MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return wait_readable();
    if (n < 0) return fail(std::strerror(errno), Failure::by_client);
    if (n == 0) return fail("closed before a complete header", Failure::by_client);
    const std::size_t seen = have_ + static_cast<std::size_t>(n);
    const pp::Result result = pp::parse({buffer_.data(), seen}, owner_.accept_);
    switch (result.status) {
      case pp::Result::Status::invalid:
        return fail(pp::to_string(result.error), Failure::malformed);
      case pp::Result::Status::incomplete:
        // Every byte seen is header: take them out of the socket, so that the next
        // readiness means new bytes.
        if (!consume(seen)) return fail("short read of peeked bytes", Failure::by_client);
        if (buffer_.size() < result.length) buffer_.resize(result.length);
        return wait_readable();
      case pp::Result::Status::complete:
        if (!consume(result.length)) return fail("short read of peeked bytes", Failure::by_client);
        return succeed(result);
    }
  }

  void on_timeout() override { fail("no complete header in time", Failure::timeout); }
  void on_error(std::string_view why) override { fail(why, Failure::by_client); }

  // Receives the peeked bytes up to `total` (from the start of the header) for real.
  bool consume(std::size_t total) {
    const std::size_t count = total - have_;
    const ssize_t n = receive(buffer_.data() + have_, count, 0);
    if (n != static_cast<ssize_t>(count)) return false;
    have_ = total;
    return true;
  }

  void succeed(const pp::Result& result) {
    finish();
    owner_.stats_.add(Counter::proxy_protocol_headers_total);
    if (result.has_addresses) {
      addresses_.peer = to_endpoint(result.addresses.source);
      addresses_.local = to_endpoint(result.addresses.destination);
    }
    auto self = shared_from_this();
    owner_.finish(*this);
    owner_.admit_(std::move(socket_), addresses_, std::move(place_), accepted_);
  }

  enum class Failure { by_client, malformed, timeout };

  void fail(std::string_view why, Failure failure) {
    Stats& stats = owner_.stats_;
    stats.add(Counter::proxy_protocol_errors_total);
    if (failure == Failure::timeout) stats.add(Counter::proxy_protocol_timeouts_total);
    stats.count_close(CloseReason::proxy_protocol_error);
    log::debug("listener {}: client {} closed: PROXY protocol header: {}", owner_.name_,
               net::to_string(addresses_.peer), why);
    close();
    auto self = shared_from_this();
    owner_.finish(*this);
    owner_.rejected_(addresses_, accepted_, failure == Failure::by_client);
  }

  ProxyHeaderReader& owner_;
  std::vector<std::uint8_t> buffer_;
  std::size_t have_ = 0;  // header bytes consumed from the socket, at the buffer's start
};

ProxyHeaderReader::ProxyHeaderReader(boost::asio::io_context& io, const config::Listener& listener,
                                     Stats& stats, Admit admit, Rejected rejected)
    : io_(io), stats_(stats), admit_(std::move(admit)), rejected_(std::move(rejected)) {
  configure(listener);
}

void ProxyHeaderReader::configure(const config::Listener& listener) {
  name_ = listener.name;
  accept_ = accepted_versions(listener.proxy_protocol);
  timeout_ = listener.timeouts.proxy_header;
}

void ProxyHeaderReader::read(Socket client, const ClientAddresses& socket_addresses,
                             AdmissionTicket place) {
  auto pending =
      std::make_shared<Client>(*this, std::move(client), socket_addresses, std::move(place));
  clients_.emplace(pending.get(), pending);
  pending->start(timeout_);
}

void ProxyHeaderReader::close_all() {
  auto clients = std::move(clients_);
  clients_.clear();
  for (auto& [key, client] : clients)
    client->close();
}

void ProxyHeaderReader::finish(const Client& client) {
  clients_.erase(&client);
}

net::Endpoint to_endpoint(const proxy_protocol::IpPort& address) {
  boost::asio::ip::address ip;
  if (address.ipv6) {
    boost::asio::ip::address_v6::bytes_type bytes;
    std::memcpy(bytes.data(), address.ip.data(), 16);
    ip = boost::asio::ip::address_v6(bytes);
  } else {
    boost::asio::ip::address_v4::bytes_type bytes;
    std::memcpy(bytes.data(), address.ip.data(), 4);
    ip = boost::asio::ip::address_v4(bytes);
  }
  return net::Endpoint(boost::asio::ip::tcp::endpoint(ip, address.port));
}

std::optional<proxy_protocol::IpPort> to_ip_port(const net::Endpoint& endpoint) {
  std::uint8_t ip[16];
  const std::size_t size = net::ip_bytes(endpoint, ip);
  if (size == 0) return std::nullopt;
  proxy_protocol::IpPort out;
  out.ipv6 = size == 16;
  std::memcpy(out.ip.data(), ip, size);
  // sin_port and sin6_port sit at the same offset, in network order.
  out.port = ntohs(reinterpret_cast<const sockaddr_in*>(endpoint.data())->sin_port);
  return out;
}

}  // namespace spliceproxy
