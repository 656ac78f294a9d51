// net: endpoint conversions.
#include "proxy/net.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <stdexcept>

namespace spliceproxy::net {

Endpoint to_endpoint(const config::Address& address) {
  boost::system::error_code ec;
  const auto ip = boost::asio::ip::make_address(address.host, ec);
  if (ec) throw std::runtime_error("not an IP address: " + address.host);
  return Endpoint(boost::asio::ip::tcp::endpoint(ip, address.port));
}

std::string to_string(const Endpoint& endpoint) {
  const int family = endpoint.data()->sa_family;
  if (family != AF_INET && family != AF_INET6) return "?";
  boost::asio::ip::tcp::endpoint tcp;
  tcp.resize(endpoint.size());
  std::memcpy(tcp.data(), endpoint.data(), endpoint.size());
  const auto host = tcp.address().to_string();
  return (family == AF_INET6 ? "[" + host + "]" : host) + ":" + std::to_string(tcp.port());
}

}  // namespace spliceproxy::net
