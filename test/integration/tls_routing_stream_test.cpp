// TLS routing and the byte stream: the hello the proxy read to route is the first thing the
// backend gets, exactly once, whole, also when the client sent it one byte per segment (and
// after a PROXY v2 header carrying its server name as the authority TLV); a 64 MiB download
// over real TLS (curl through the proxy from `openssl s_server -WWW`) arrives with the right
// SHA-256; and a mirror capture of a routed session shows tshark the server name.
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <string>

#include "test/integration/byte_stream.hpp"
#include "test/integration/harness.hpp"
#include "test/integration/proxy_protocol_fixture.hpp"
#include "test/integration/test_backend.hpp"
#include "test/integration/tls_servers.hpp"
#include "test/integration/traffic.hpp"
#include "test/integration/tshark_capture.hpp"
#include "test/unit/protocol/tls_hellos.hpp"

namespace spliceproxy::test {
namespace {

// One listener `tls` routing www.example.com to 127.0.0.1:routed (with `backend_keys`) and
// anything else to a port nobody listens on; `more` goes at the end of the listener.
std::string stream_yaml(std::uint16_t routed, const std::string& backend_keys,
                        const std::string& more = "") {
  return "listeners:\n  - name: tls\n    listen: 127.0.0.1:0\n    backend: nowhere\n"
         "    tls_routes: [{server_names: [www.example.com], backend: routed}]\n" +
         more +
         "backends:\n  - {name: nowhere, servers: [{address: 127.0.0.1:1}]}\n"
         "  - name: routed\n    servers: [{address: 127.0.0.1:" +
         std::to_string(routed) + "}]\n" + backend_keys;
}

// A PROXY v2 header from 127.0.0.1:client_port to 127.0.0.1:proxy_port with an authority TLV.
std::vector<std::uint8_t> v2_with_authority(std::uint16_t client_port, std::uint16_t proxy_port,
                                            const std::string& authority) {
  std::vector<std::uint8_t> header =
      v2_tcp4({127, 0, 0, 1}, {127, 0, 0, 1}, client_port, proxy_port);
  header.insert(header.end(), {0x02, 0, static_cast<std::uint8_t>(authority.size())});
  header.insert(header.end(), authority.begin(), authority.end());
  const std::size_t body = header.size() - 16;
  header[14] = static_cast<std::uint8_t>(body >> 8);
  header[15] = static_cast<std::uint8_t>(body);
  return header;
}

TEST(TlsRoutingStream, HelloInOneByteSegmentsRoutesAndArrivesFirstAfterTheAuthority) {
  BackendBehavior behavior = BackendBehavior::sink();
  behavior.keep_first = 1024;
  TestBackend backend(behavior);
  ProxyProcess proxy(stream_yaml(backend.port(), "    proxy_protocol: v2\n"),
                     ProxyOptions{.listeners = {"tls"}});
  const std::vector<std::uint8_t> hello(std::begin(tls::test::kCurlTls13),
                                        std::end(tls::test::kCurlTls13));
  // The hello a byte per write (TCP_NODELAY: a segment each), then 256 KiB after it.
  const SentClient sent = send_through(proxy.port("tls"), hello, 256 * kKiB, "", true);
  const std::vector<BackendResult> received = backend.wait_for_results(1, Clock::now() + 20s);
  ASSERT_EQ(received.size(), 1u);
  std::vector<std::uint8_t> first =
      v2_with_authority(sent.client_port, proxy.port("tls"), "www.example.com");
  first.insert(first.end(), hello.begin(), hello.end());
  expect_header_then_payload(received[0], first, sent);
  EXPECT_EQ(proxy.stop(), 0);
  EXPECT_EQ(stat_value(proxy.stderr_text(), "tls_client_hellos_total"), 1u);
}

TEST(TlsRoutingStream, TlsDownloadOf64MiBArrivesWithItsSha256) {
  TempDir dir;
  make_certificate(dir, "routed");
  constexpr std::uint64_t kSize = 64 * kMiB;
  {
    std::vector<std::uint8_t> data(kSize);
    ByteStream(7).fill(data);
    std::ofstream(dir.file("big.bin"), std::ios::binary)
        .write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(kSize));
  }
  OpenSslServer server(dir, "routed", {"-WWW"});
  ProxyProcess proxy(stream_yaml(server.port(), ""), ProxyOptions{.listeners = {"tls"}});
  const std::string port = std::to_string(proxy.port("tls"));
  const CommandResult curl = run_command(
      {"/usr/bin/curl", "-sS", "-k", "--resolve", "www.example.com:" + port + ":127.0.0.1", "-o",
       dir.file("got.bin"), "https://www.example.com:" + port + "/big.bin"},
      std::chrono::minutes(3));
  ASSERT_EQ(curl.exit_code, 0) << curl.err;
  const CommandResult sums =
      run_command({"/usr/bin/sha256sum", dir.file("big.bin"), dir.file("got.bin")}, 60s);
  ASSERT_EQ(sums.exit_code, 0);
  const std::string expected = stream_sha256(7, kSize);
  EXPECT_EQ(sums.out.substr(0, 64), expected);
  EXPECT_EQ(sums.out.substr(sums.out.find('\n') + 1, 64), expected) << sums.out;
  EXPECT_EQ(proxy.stop(), 0);
  EXPECT_NE(proxy.stdout_text().find(R"("sni":"www.example.com")"), std::string::npos);
}

TEST(TlsRoutingStream, CaptureOfARoutedSessionShowsTsharkTheServerName) {
  if (!have_tshark()) GTEST_SKIP() << "tshark is not installed (tools/deps.sh --test)";
  TempDir dir;
  make_certificate(dir, "routed");
  OpenSslServer server(dir, "routed");
  const std::string capture = dir.file("routed.pcapng");
  ProxyProcess proxy(stream_yaml(server.port(), "", "    mirrors: [{mirror: cap}]\n") +
                         "mirrors:\n  - {name: cap, type: pcapng_file, path: \"" + capture +
                         "\"}\n",
                     ProxyOptions{.listeners = {"tls"}});
  std::string details;
  EXPECT_EQ(peer_common_name(proxy.port("tls"), "www.example.com", "", &details), "routed")
      << details;
  ASSERT_EQ(proxy.stop(), 0);
  const CommandResult tshark = run_command({"/usr/bin/tshark", "-r", capture, "-d",
                                            "tcp.port==" + std::to_string(server.port()) + ",tls",
                                            "-Y", "tls.handshake.extensions_server_name", "-T",
                                            "fields", "-e", "tls.handshake.extensions_server_name"},
                                           std::chrono::minutes(2));
  ASSERT_EQ(tshark.exit_code, 0) << tshark.err;
  EXPECT_NE(tshark.out.find("www.example.com"), std::string::npos) << tshark.out << tshark.err;
}

// PROXY protocol in front of the hello, and the lists before it: the header is consumed, its
// address judged by `deny`, and only then is the hello read; the backend gets the hello first.
TEST(TlsRoutingStream, ProxyHeaderAndListsComeBeforeTheHello) {
  BackendBehavior behavior = BackendBehavior::sink();
  behavior.keep_first = 1024;
  TestBackend backend(behavior);
  ProxyProcess proxy(
      stream_yaml(backend.port(), "", "    proxy_protocol: v1\n    deny: [203.0.113.0/24]\n"),
      ProxyOptions{.listeners = {"tls"}});
  const std::vector<std::uint8_t> hello(std::begin(tls::test::kCurlTls13),
                                        std::end(tls::test::kCurlTls13));
  const auto with_header = [&](const std::string& source) {
    std::vector<std::uint8_t> out = bytes("PROXY TCP4 " + source + " 10.0.0.1 4000 443\r\n");
    out.insert(out.end(), hello.begin(), hello.end());
    return out;
  };
  EXPECT_TRUE(sent_and_closed(proxy.port("tls"), with_header("203.0.113.7")));
  const SentClient sent = send_through(proxy.port("tls"), with_header("198.51.100.9"), 64 * kKiB);
  const std::vector<BackendResult> received = backend.wait_for_results(1, Clock::now() + 20s);
  ASSERT_EQ(received.size(), 1u);
  expect_header_then_payload(received[0], hello, sent);
  EXPECT_EQ(proxy.stop(), 0);
  EXPECT_EQ(stat_value(proxy.stderr_text(), "acl_denied_total"), 1u);
  EXPECT_EQ(stat_value(proxy.stderr_text(), "tls_client_hellos_total"), 1u);
  EXPECT_NE(proxy.stdout_text().find(R"("client":"198.51.100.9:4000")"), std::string::npos);
}

}  // namespace
}  // namespace spliceproxy::test
