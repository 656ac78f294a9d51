// The PROXY protocol through the real binary, on loopback: headers written to backends
// (checked byte for byte against headers built here by hand), headers read from clients (the
// address they carry reaches the backend's header, the ACL and the capture; the payload after
// them arrives intact), and bad, wrong-version and missing headers closed and counted before
// any backend connect. HAProxy is the independent judge in proxy_protocol_haproxy_test.cpp.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdio>
#include <string>
#include <vector>

#include "test/integration/admin_client.hpp"
#include "test/integration/haproxy_process.hpp"
#include "test/integration/mirror_fixture.hpp"
#include "test/integration/mode_fixture.hpp"
#include "test/integration/proxy_protocol_fixture.hpp"

namespace spliceproxy::test {
namespace {

constexpr std::uint64_t kPayload = 256 * kKiB;

TEST_P(ProxyProtocolTest, BackendGetsAV1HeaderWithTheClientAddressThenThePayload) {
  TestBackend backend(recording_sink());
  start({.backend_proxy_protocol = "v1", .backend_port = backend.port()});
  const SentClient sent = send_through(proxy_->port(), {}, kPayload, "127.0.0.5");
  const std::vector<BackendResult> received = backend.wait_for_results(1, Clock::now() + 20s);
  ASSERT_EQ(received.size(), 1u);
  const std::string header =
      v1_line("TCP4", "127.0.0.5", "127.0.0.1", sent.client_port, proxy_->port());
  expect_header_then_payload(received[0], bytes(header), sent);
  EXPECT_EQ(stat("proxy_protocol_sent_total"), 1u);
}

TEST_P(ProxyProtocolTest, BackendGetsAV2HeaderWithTheClientAddressThenThePayload) {
  TestBackend backend(recording_sink());
  start({.backend_proxy_protocol = "v2", .backend_port = backend.port()});
  const SentClient sent = send_through(proxy_->port(), {}, kPayload, "127.0.0.5");
  const std::vector<BackendResult> received = backend.wait_for_results(1, Clock::now() + 20s);
  ASSERT_EQ(received.size(), 1u);
  const auto header = v2_tcp4({127, 0, 0, 5}, {127, 0, 0, 1}, sent.client_port, proxy_->port());
  expect_header_then_payload(received[0], header, sent);
}

// The client's v1 header, sent a byte at a time, gives the backend's v2 header its addresses.
TEST_P(ProxyProtocolTest, ListenerTakesTheAddressesOfAV1Header) {
  TestBackend backend(recording_sink());
  start({.listener_proxy_protocol = "v1",
         .backend_proxy_protocol = "v2",
         .backend_port = backend.port()});
  const std::string line = v1_line("TCP4", "203.0.113.7", "198.51.100.2", 4242, 443);
  const SentClient sent = send_through(proxy_->port(), bytes(line), kPayload, "", true);
  const std::vector<BackendResult> received = backend.wait_for_results(1, Clock::now() + 20s);
  ASSERT_EQ(received.size(), 1u);
  expect_header_then_payload(received[0], v2_tcp4({203, 0, 113, 7}, {198, 51, 100, 2}, 4242, 443),
                             sent);
  EXPECT_EQ(stat("proxy_protocol_headers_total"), 1u);
}

// A v2 header and the payload in the same write: the payload stays for the data path.
TEST_P(ProxyProtocolTest, ListenerTakesTheAddressesOfAV2Header) {
  TestBackend backend(recording_sink());
  start({.listener_proxy_protocol = "any",
         .backend_proxy_protocol = "v1",
         .backend_port = backend.port()});
  const auto header = v2_tcp4({203, 0, 113, 7}, {198, 51, 100, 2}, 4242, 443);
  const SentClient sent = send_through(proxy_->port(), header, kPayload);
  const std::vector<BackendResult> received = backend.wait_for_results(1, Clock::now() + 20s);
  ASSERT_EQ(received.size(), 1u);
  const std::string line = v1_line("TCP4", "203.0.113.7", "198.51.100.2", 4242, 443);
  expect_header_then_payload(received[0], bytes(line), sent);
}

TEST_P(ProxyProtocolTest, V2LocalHeaderKeepsTheConnectionsOwnAddress) {
  TestBackend backend(recording_sink());
  start({.listener_proxy_protocol = "v2",
         .backend_proxy_protocol = "v1",
         .backend_port = backend.port()});
  const std::vector<std::uint8_t> local = v2_fixed(0x20, 0x00, 0);
  const SentClient sent = send_through(proxy_->port(), local, kPayload, "127.0.0.5");
  const std::vector<BackendResult> received = backend.wait_for_results(1, Clock::now() + 20s);
  ASSERT_EQ(received.size(), 1u);
  const std::string line =
      v1_line("TCP4", "127.0.0.5", "127.0.0.1", sent.client_port, proxy_->port());
  expect_header_then_payload(received[0], bytes(line), sent);
}

TEST_P(ProxyProtocolTest, MalformedOrWrongVersionHeaderIsClosedBeforeAnyBackendConnect) {
  TestBackend backend(recording_sink());
  start({.listener_proxy_protocol = "v1", .backend_port = backend.port()});
  const std::string bad_port = "PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\npayload";
  EXPECT_TRUE(sent_and_closed(proxy_->port(), bytes(bad_port)));
  EXPECT_TRUE(sent_and_closed(proxy_->port(), v2_tcp4({1, 2, 3, 4}, {5, 6, 7, 8}, 1, 2)));
  EXPECT_TRUE(sent_and_closed(proxy_->port(), bytes("GET / HTTP/1.1\r\n\r\n")));
  EXPECT_EQ(backend.accepted(), 0u);
  EXPECT_EQ(stat("proxy_protocol_errors_total"), 3u);
  EXPECT_EQ(stat("connect_attempts_total"), 0u);
  EXPECT_EQ(stat("sessions_closed_total{reason=\"proxy_protocol_error\"}"), 3u);
}

TEST_P(ProxyProtocolTest, SilentOrSlowClientIsClosedAtTheHeaderTimeout) {
  TestBackend backend(recording_sink());
  start({.listener_proxy_protocol = "any",
         .header_timeout = "300ms",
         .backend_port = backend.port()});
  Fd silent = connect_loopback(proxy_->port(), Clock::now() + 5s);
  Fd partial = connect_loopback(proxy_->port(), Clock::now() + 5s);
  ASSERT_TRUE(send_all(partial.get(), bytes("PROXY TCP4 1.2"), Clock::now() + 5s));
  EXPECT_TRUE(wait_for_peer_close(silent.get(), Clock::now() + 20s).closed);
  EXPECT_TRUE(wait_for_peer_close(partial.get(), Clock::now() + 20s).closed);
  EXPECT_EQ(backend.accepted(), 0u);
  EXPECT_EQ(stat("proxy_protocol_timeouts_total"), 2u);
  EXPECT_EQ(stat("proxy_protocol_errors_total"), 2u);
}

// allow/deny see the header's source, not the load balancer's address (127.0.0.1).
TEST_P(ProxyProtocolTest, AclJudgesTheAddressFromTheHeader) {
  TestBackend backend(recording_sink());
  start({.listener_proxy_protocol = "v1",
         .backend_port = backend.port(),
         .listener_extra = "    deny: [203.0.113.0/24]\n"});
  const std::string denied = v1_line("TCP4", "203.0.113.7", "198.51.100.2", 4242, 443);
  EXPECT_TRUE(sent_and_closed(proxy_->port(), bytes(denied)));
  const std::string allowed = v1_line("TCP4", "198.51.100.9", "198.51.100.2", 4242, 443);
  const SentClient sent = send_through(proxy_->port(), bytes(allowed), kPayload);
  const std::vector<BackendResult> received = backend.wait_for_results(1, Clock::now() + 20s);
  ASSERT_EQ(received.size(), 1u);
  expect_header_then_payload(received[0], {}, sent);
  EXPECT_EQ(backend.accepted(), 1u);
  EXPECT_EQ(stat("acl_denied_total"), 1u);
}

// max_connections_per_source counts the header's source: two clients from 127.0.0.1 that
// stand for the same address share its limit, one that stands for another does not.
TEST_P(ProxyProtocolTest, PerSourceLimitCountsTheAddressFromTheHeader) {
  TestBackend backend(recording_sink());
  start({.listener_proxy_protocol = "v2",
         .backend_port = backend.port(),
         .listener_extra = "    max_connections_per_source: 1\n"});
  Fd first = connect_loopback(proxy_->port(), Clock::now() + 5s);
  const auto header = v2_tcp4({203, 0, 113, 7}, {198, 51, 100, 2}, 4242, 443);
  ASSERT_TRUE(send_all(first.get(), header, Clock::now() + 5s));
  ASSERT_TRUE(run_until([&] { return backend.accepted() == 1; }, Clock::now() + 10s));
  EXPECT_TRUE(sent_and_closed(proxy_->port(), v2_tcp4({203, 0, 113, 7}, {1, 2, 3, 4}, 1, 2)));
  const auto other = v2_tcp4({203, 0, 113, 8}, {198, 51, 100, 2}, 4242, 443);
  const SentClient sent = send_through(proxy_->port(), other, kPayload);
  const std::vector<BackendResult> received = backend.wait_for_results(1, Clock::now() + 20s);
  ASSERT_EQ(received.size(), 1u);
  expect_header_then_payload(received[0], {}, sent);
  EXPECT_EQ(backend.accepted(), 2u);
  EXPECT_EQ(stat("source_limit_rejects_total"), 1u);
}

// Clients still sending their header count towards max_connections, as every accepted
// connection counts towards HAProxy's maxconn: two that send none fill a limit of two and the
// listener stops accepting; once one of them goes, a client with a header is served.
TEST_P(ProxyProtocolTest, ClientsAwaitingTheirHeaderCountTowardsMaxConnections) {
  TestBackend backend(recording_sink());
  // The header timeout outlasts the test: the client that sent part of a header stays.
  std::string yaml = pp_yaml(GetParam(), {.listener_proxy_protocol = "v1",
                                          .header_timeout = "10m",
                                          .backend_port = backend.port(),
                                          .listener_extra = "    max_connections: 2\n"});
  yaml += "admin: {listen: 127.0.0.1:0}\n";
  proxy_ = std::make_unique<ProxyProcess>(yaml);
  const std::uint16_t admin = admin_port(*proxy_);
  Fd silent = connect_loopback(proxy_->port(), Clock::now() + 5s);
  Fd partial = connect_loopback(proxy_->port(), Clock::now() + 5s);
  ASSERT_TRUE(send_all(partial.get(), bytes("PROXY TCP4 1.2"), Clock::now() + 5s));
  EXPECT_TRUE(run_until(
      [&] {
        const std::string text = http_request(admin, "/metrics").body;
        return metric_value(text, "spliceproxy_listener_pauses_total").value_or(0) >= 1;
      },
      Clock::now() + 10s, 50ms))
      << "the listener never found itself full";
  silent.reset();
  const std::string line = v1_line("TCP4", "203.0.113.7", "198.51.100.2", 4242, 443);
  const SentClient sent = send_through(proxy_->port(), bytes(line), kPayload);
  const std::vector<BackendResult> received = backend.wait_for_results(1, Clock::now() + 20s);
  ASSERT_EQ(received.size(), 1u);
  expect_header_then_payload(received[0], {}, sent);
  EXPECT_EQ(backend.accepted(), 1u);
  EXPECT_EQ(stat("proxy_protocol_errors_total"), 1u);  // the silent one, closed first
}

// The capture's synthesized flow starts at the header's source, as tshark reads it.
TEST_P(ProxyProtocolTest, CaptureShowsTheAddressFromTheHeader) {
  ASSERT_TRUE(have_tshark()) << "tshark is not installed (tools/deps.sh --test)";
  TestBackend backend(recording_sink());
  const std::string capture = capture_dir("pp-" + GetParam()) + "/flow.pcapng";
  std::string yaml = pp_yaml(GetParam(), {.listener_proxy_protocol = "v1",
                                          .backend_port = backend.port(),
                                          .listener_extra = "    mirrors: [{mirror: cap}]\n"});
  yaml += "mirrors:\n  - {name: cap, type: pcapng_file, path: \"" + capture + "\"}\n";
  proxy_ = std::make_unique<ProxyProcess>(yaml);
  const std::string line = v1_line("TCP4", "203.0.113.7", "198.51.100.2", 4242, 443);
  EXPECT_TRUE(send_through(proxy_->port(), bytes(line), 64 * kKiB).closed);
  ASSERT_EQ(backend.wait_for_results(1, Clock::now() + 20s).size(), 1u);
  ASSERT_EQ(proxy_->stop(), 0);  // the capture is complete once the proxy is gone
  const CommandResult tshark = run_command({"/usr/bin/tshark", "-r", capture, "-c", "1", "-T",
                                            "fields", "-e", "ip.src", "-e", "tcp.srcport"},
                                           30s);
  ASSERT_EQ(tshark.exit_code, 0) << tshark.err;
  EXPECT_EQ(tshark.out, "203.0.113.7\t4242\n");
  std::filesystem::remove_all(std::filesystem::path(capture).parent_path());
}

INSTANTIATE_TEST_SUITE_P(Modes, ProxyProtocolTest, ::testing::Values("splice", "copy"), mode_name);

}  // namespace
}  // namespace spliceproxy::test
