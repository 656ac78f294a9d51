// What the PROXY protocol suites share: a config with one listener and one backend whose
// proxy_protocol keys are set per test, a client that sends a header then a generated payload,
// and PROXY protocol headers built here by hand from the spec (not with the proxy's encoder).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test/integration/byte_stream.hpp"
#include "test/integration/harness.hpp"
#include "test/integration/mode_fixture.hpp"
#include "test/integration/test_backend.hpp"
#include "test/integration/traffic.hpp"

namespace spliceproxy::test {

struct PpConfig {
  std::string listener_proxy_protocol = "off";
  std::string header_timeout = "5s";
  std::string backend_proxy_protocol = "off";
  std::uint16_t backend_port = 0;    // the server 127.0.0.1:PORT, unless backend_address is set
  std::string backend_address = "";  // e.g. "unix:/path"
  std::string listener_extra = "";   // more listener keys, indented by 4 spaces
  std::string backend_extra = "";    // more backend keys, indented by 4 spaces
};

inline std::string pp_yaml(std::string_view mode, const PpConfig& c) {
  const std::string server =
      c.backend_address.empty() ? "127.0.0.1:" + std::to_string(c.backend_port) : c.backend_address;
  return "workers: 1\nlog: {level: debug}\nsplice: {mode: " + std::string(mode) +
         "}\nlisteners:\n  - name: web\n    listen: 127.0.0.1:0\n    backend: app\n" +
         "    proxy_protocol: " + c.listener_proxy_protocol + "\n" +
         "    timeouts: {proxy_header: " + c.header_timeout + "}\n" + c.listener_extra +
         "backends:\n  - name: app\n    proxy_protocol: " + c.backend_proxy_protocol +
         "\n    servers:\n      - address: \"" + server + "\"\n" + c.backend_extra;
}

inline std::vector<std::uint8_t> bytes(std::string_view text) {
  return {text.begin(), text.end()};
}

inline std::string v1_line(const char* protocol, const char* source, const char* destination,
                           unsigned source_port, unsigned destination_port) {
  char line[128];
  std::snprintf(line, sizeof line, "PROXY %s %s %s %u %u\r\n", protocol, source, destination,
                source_port, destination_port);
  return line;
}

// Signature, version/command byte, family/protocol byte, 16-bit length.
inline std::vector<std::uint8_t> v2_fixed(std::uint8_t version_command, std::uint8_t family,
                                          std::uint16_t length) {
  return {0x0D,
          0x0A,
          0x0D,
          0x0A,
          0x00,
          0x0D,
          0x0A,
          0x51,
          0x55,
          0x49,
          0x54,
          0x0A,
          version_command,
          family,
          static_cast<std::uint8_t>(length >> 8),
          static_cast<std::uint8_t>(length & 0xff)};
}

// A v2 PROXY header for TCP over IPv4.
inline std::vector<std::uint8_t> v2_tcp4(std::array<std::uint8_t, 4> source,
                                         std::array<std::uint8_t, 4> destination,
                                         std::uint16_t source_port,
                                         std::uint16_t destination_port) {
  std::vector<std::uint8_t> out = v2_fixed(0x21, 0x11, 12);
  for (std::uint8_t byte : source)
    out.push_back(byte);
  for (std::uint8_t byte : destination)
    out.push_back(byte);
  for (std::uint16_t port : {source_port, destination_port}) {
    out.push_back(static_cast<std::uint8_t>(port >> 8));
    out.push_back(static_cast<std::uint8_t>(port & 0xff));
  }
  return out;
}

// A sink backend that keeps the first bytes it receives: where a PROXY header would be.
inline BackendBehavior recording_sink() {
  BackendBehavior behavior = BackendBehavior::sink();
  behavior.keep_first = 256;
  return behavior;
}

struct SentClient {
  std::uint16_t client_port = 0;
  std::vector<std::uint8_t> payload;
  bool closed = false;  // the proxy closed its side after ours
};

// Connects (from `source` when set), sends `header` (a byte per send when `byte_by_byte`),
// then `payload` bytes of ByteStream(11), half-closes and waits for the proxy to close.
inline SentClient send_through(std::uint16_t port, const std::vector<std::uint8_t>& header,
                               std::uint64_t payload, const std::string& source = "",
                               bool byte_by_byte = false) {
  const auto deadline = Clock::now() + 30s;
  LoopbackTarget target;
  target.source = source;
  Fd fd = connect_loopback(port, deadline, target);
  SentClient sent;
  sockaddr_in self{};
  socklen_t len = sizeof self;
  getsockname(fd.get(), reinterpret_cast<sockaddr*>(&self), &len);
  sent.client_port = ntohs(self.sin_port);
  const std::size_t step = byte_by_byte ? 1 : header.size();
  for (std::size_t at = 0; at < header.size(); at += step)
    EXPECT_TRUE(send_all(fd.get(), {header.data() + at, step}, deadline));
  sent.payload.resize(payload);
  ByteStream(11).fill(sent.payload);
  EXPECT_TRUE(send_all(fd.get(), sent.payload, deadline));
  ::shutdown(fd.get(), SHUT_WR);
  sent.closed = wait_for_peer_close(fd.get(), deadline).closed;
  return sent;
}

// Sends `data` (the proxy may reset before all of it went) and waits for the proxy to close.
inline bool sent_and_closed(std::uint16_t port, const std::vector<std::uint8_t>& data) {
  Fd fd = connect_loopback(port, Clock::now() + 5s);
  send_all(fd.get(), data, Clock::now() + 5s);
  return wait_for_peer_close(fd.get(), Clock::now() + 20s).closed;
}

// The backend received `header` followed by exactly the client's payload, and the client
// saw the session end.
inline void expect_header_then_payload(const BackendResult& received,
                                       const std::vector<std::uint8_t>& header,
                                       const SentClient& sent) {
  EXPECT_TRUE(sent.closed);
  EXPECT_TRUE(received.complete()) << received.describe();
  ASSERT_EQ(received.bytes_received, header.size() + sent.payload.size());
  const auto& first = received.first_bytes;
  EXPECT_EQ(std::vector<std::uint8_t>(first.begin(), first.begin() + header.size()), header)
      << "got: " << std::string(first.begin(), first.end());
  Sha256 sha;
  sha.update(header);
  sha.update(sent.payload);
  EXPECT_EQ(received.received_sha256, sha.hex_digest());
}

class ProxyProtocolTest : public ProxyModeTest {
 protected:
  void start(const PpConfig& config) {
    proxy_ = std::make_unique<ProxyProcess>(pp_yaml(GetParam(), config));
  }
  // A counter from the proxy's exit line; stops the proxy first (once).
  std::uint64_t stat(std::string_view name) {
    EXPECT_EQ(proxy_->stop(), 0);
    return stat_value(proxy_->stderr_text(), name).value_or(~0ull);
  }
};

}  // namespace spliceproxy::test
