// net: endpoint conversions, start-time name resolution and address hashing.
#include "proxy/base/net.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <cstring>
#include <stdexcept>

#include "proxy/base/log.hpp"

namespace spliceproxy::net {

Endpoint local_endpoint(int fd) {
  sockaddr_storage local{};
  socklen_t size = sizeof local;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &size) != 0) return {};
  return Endpoint(&local, size, local.ss_family == AF_UNIX ? 0 : static_cast<int>(IPPROTO_TCP));
}

Endpoint to_endpoint(const config::Address& address) {
  if (address.is_unix())
    return Endpoint(boost::asio::local::stream_protocol::endpoint(address.path));
  boost::system::error_code ec;
  const auto ip = boost::asio::ip::make_address(address.host, ec);
  if (!ec) return Endpoint(boost::asio::ip::tcp::endpoint(ip, address.port));
  boost::asio::io_context io;
  boost::asio::ip::tcp::resolver resolver(io);
  const auto results = resolver.resolve(address.host, std::to_string(address.port), ec);
  if (ec || results.empty()) {
    throw std::runtime_error(
        fmt::format("cannot resolve {}: {}", address.host, ec ? ec.message() : "no address"));
  }
  std::string all;
  for (const auto& entry : results)
    all += (all.empty() ? "" : ", ") + to_string(Endpoint(entry.endpoint()));
  const Endpoint chosen(results.begin()->endpoint());
  log::info("{} resolved to {} (using {})", address.to_string(), all, to_string(chosen));
  return chosen;
}

std::string to_string(const Endpoint& endpoint) {
  const int family = endpoint.data()->sa_family;
  if (family == AF_UNIX) {
    const auto* un = reinterpret_cast<const sockaddr_un*>(endpoint.data());
    const std::size_t max = endpoint.size() - offsetof(sockaddr_un, sun_path);
    return "unix:" + std::string(un->sun_path, strnlen(un->sun_path, max));
  }
  if (family != AF_INET && family != AF_INET6) return "?";
  boost::asio::ip::tcp::endpoint tcp;
  tcp.resize(endpoint.size());
  std::memcpy(tcp.data(), endpoint.data(), endpoint.size());
  const auto host = tcp.address().to_string();
  return (family == AF_INET6 ? "[" + host + "]" : host) + ":" + std::to_string(tcp.port());
}

std::size_t ip_bytes(const Endpoint& endpoint, std::uint8_t (&out)[16]) {
  const int family = endpoint.data()->sa_family;
  if (family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(endpoint.data());
    std::memcpy(out, &in->sin_addr, 4);
    return 4;
  }
  if (family != AF_INET6) return 0;
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(endpoint.data());
  if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
    std::memcpy(out, in6->sin6_addr.s6_addr + 12, 4);
    return 4;
  }
  std::memcpy(out, in6->sin6_addr.s6_addr, 16);
  return 16;
}

std::uint64_t hash_bytes(const void* data, std::size_t size) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  const auto* bytes = static_cast<const std::uint8_t*>(data);
  for (std::size_t i = 0; i < size; ++i)
    h = (h ^ bytes[i]) * 0x100000001b3ull;
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

std::uint64_t source_key(const Endpoint& endpoint) {
  std::uint8_t ip[16];
  const std::size_t size = ip_bytes(endpoint, ip);
  return size == 0 ? 0 : hash_bytes(ip, size);
}

}  // namespace spliceproxy::net
