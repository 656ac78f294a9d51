// Routing by the TLS ClientHello through the real binary, with real TLS on both sides: three
// `openssl s_server` backends, each with its own certificate made here (CN alpha, beta, gamma),
// and `openssl s_client -servername X` clients. A client sees the certificate of the backend
// its server name (exact or wildcard) or ALPN picks, or the default's; traffic that is not TLS
// goes to its backend or is closed; a silent client is closed at timeouts.client_hello, a
// malformed hello at once; a reload changes the rules for the next clients.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <memory>
#include <string>

#include "test/integration/harness.hpp"
#include "test/integration/test_backend.hpp"
#include "test/integration/tls_servers.hpp"
#include "test/integration/traffic.hpp"

namespace spliceproxy::test {
namespace {

// The listener `tls`: alpha.example.com → alpha, *.beta.example.com → beta, ALPN "special" →
// beta, anything else → gamma; `not_tls` and `more` are inserted as they come.
std::string routing_yaml(std::uint16_t alpha, std::uint16_t beta, std::uint16_t gamma,
                         const std::string& not_tls = "close", const std::string& more = "") {
  const auto backend = [](const std::string& name, std::uint16_t port) {
    return "  - {name: " + name + ", servers: [{address: 127.0.0.1:" + std::to_string(port) +
           "}]}\n";
  };
  return "listeners:\n  - name: tls\n    listen: 127.0.0.1:0\n    backend: gamma\n"
         "    timeouts: {client_hello: 300ms}\n"
         "    tls_routes:\n"
         "      - {server_names: [alpha.example.com], backend: alpha}\n"
         "      - {name: beta, server_names: [\"*.beta.example.com\"], backend: beta}\n"
         "      - {name: special, alpn: [special], backend: beta}\n"
         "    not_tls: " +
         not_tls + "\n" + more + "backends:\n" + backend("alpha", alpha) + backend("beta", beta) +
         backend("gamma", gamma);
}

class TlsRoutingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"alpha", "beta", "gamma"}) {
      make_certificate(dir_, name);
      servers_.push_back(std::make_unique<OpenSslServer>(dir_, name));
    }
  }
  std::string yaml(const std::string& not_tls = "close", const std::string& more = "") {
    return routing_yaml(servers_[0]->port(), servers_[1]->port(), servers_[2]->port(), not_tls,
                        more);
  }
  void start(const std::string& config) {
    proxy_ = std::make_unique<ProxyProcess>(config, ProxyOptions{.listeners = {"tls"}});
  }
  std::string seen_by(const std::string& server_name, const std::string& alpn = "") {
    std::string details;
    const std::string name = peer_common_name(proxy_->port("tls"), server_name, alpn, &details);
    EXPECT_FALSE(name.empty()) << details;
    return name;
  }
  // A counter from the proxy's exit line; stops the proxy first.
  std::uint64_t stat(std::string_view name) {
    EXPECT_EQ(proxy_->stop(), 0);
    return stat_value(proxy_->stderr_text(), name).value_or(~0ull);
  }

  TempDir dir_;
  std::vector<std::unique_ptr<OpenSslServer>> servers_;
  std::unique_ptr<ProxyProcess> proxy_;
};

TEST_F(TlsRoutingTest, EachClientSeesTheCertificateOfTheBackendItsHelloNames) {
  start(yaml());
  EXPECT_EQ(seen_by("alpha.example.com"), "alpha");
  EXPECT_EQ(seen_by("ALPHA.example.com"), "alpha");            // names compare lower case
  EXPECT_EQ(seen_by("www.beta.example.com"), "beta");          // wildcard, one label
  EXPECT_EQ(seen_by("a.b.beta.example.com"), "beta");          // and more
  EXPECT_EQ(seen_by("beta.example.com"), "gamma");             // not the wildcard's own domain
  EXPECT_EQ(seen_by("other.example.org"), "gamma");            // no rule: the default
  EXPECT_EQ(seen_by(""), "gamma");                             // no SNI: the default
  EXPECT_EQ(seen_by("other.example.org", "special"), "beta");  // by ALPN
  EXPECT_EQ(stat("tls_client_hellos_total"), 8u);
  const std::string log = proxy_->stdout_text();
  EXPECT_NE(log.find(R"("backend":"alpha")"), std::string::npos) << log;
  EXPECT_NE(log.find(R"("sni":"alpha.example.com","tls_route":"alpha.example.com")"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find(R"("sni":"www.beta.example.com","tls_route":"beta")"), std::string::npos);
  EXPECT_NE(log.find(R"("sni":null,"tls_route":"default")"), std::string::npos);
}

TEST_F(TlsRoutingTest, ClientThatIsNotTlsIsClosedAndCounted) {
  start(yaml());
  const std::string request = "GET / HTTP/1.0\r\n\r\n";
  const CloseEvent closed = [&] {
    Fd fd = connect_loopback(proxy_->port("tls"), Clock::now() + 5s);
    send_all(fd.get(), {reinterpret_cast<const std::uint8_t*>(request.data()), request.size()},
             Clock::now() + 5s);
    return wait_for_peer_close(fd.get(), Clock::now() + 10s);
  }();
  EXPECT_TRUE(closed.closed);
  EXPECT_EQ(stat("tls_not_tls_total"), 1u);
  EXPECT_NE(proxy_->stdout_text().find(R"("termination":"PR","reason":"not_tls")"),
            std::string::npos)
      << proxy_->stdout_text();
}

TEST_F(TlsRoutingTest, ClientThatIsNotTlsGoesToTheNotTlsBackend) {
  TestBackend plain(BackendBehavior::echo());
  start(yaml("plain", "") + "  - {name: plain, servers: [{address: 127.0.0.1:" +
        std::to_string(plain.port()) + "}]}\n");
  const ClientResult result =
      run_client(proxy_->port("tls"), ClientPlan{.send_bytes = 64 * kKiB}, Clock::now() + 20s);
  EXPECT_TRUE(result.complete()) << result.describe();
  EXPECT_EQ(result.received_sha256, result.sent_sha256);
  EXPECT_EQ(stat("tls_not_tls_total"), 1u);
  EXPECT_NE(proxy_->stdout_text().find(R"("backend":"plain")"), std::string::npos);
}

TEST_F(TlsRoutingTest, SilentClientIsClosedAtTheHelloTimeout) {
  start(yaml());
  const auto start = Clock::now();
  Fd fd = connect_loopback(proxy_->port("tls"), Clock::now() + 5s);
  const CloseEvent closed = wait_for_peer_close(fd.get(), Clock::now() + 10s);
  ASSERT_TRUE(closed.closed);
  EXPECT_GE(closed.at - start, 250ms);
  EXPECT_EQ(stat("tls_client_hello_timeouts_total"), 1u);
  EXPECT_NE(proxy_->stdout_text().find(R"("termination":"cR","reason":"client_hello_timeout")"),
            std::string::npos)
      << proxy_->stdout_text();
}

TEST_F(TlsRoutingTest, MalformedHelloIsClosedAndCounted) {
  start(yaml());
  // A handshake record whose hello claims 64 KiB: never a valid hello.
  const std::vector<std::uint8_t> bad = {22, 3, 1, 0, 4, 1, 1, 0, 0};
  Fd fd = connect_loopback(proxy_->port("tls"), Clock::now() + 5s);
  send_all(fd.get(), bad, Clock::now() + 5s);
  EXPECT_TRUE(wait_for_peer_close(fd.get(), Clock::now() + 10s).closed);
  EXPECT_EQ(stat("tls_client_hello_errors_total"), 1u);
  EXPECT_NE(proxy_->stdout_text().find(R"("reason":"client_hello_error")"), std::string::npos);
}

TEST_F(TlsRoutingTest, ReloadChangesTheRulesForTheNextClients) {
  start(yaml());
  EXPECT_EQ(seen_by("alpha.example.com"), "alpha");
  std::string next = yaml();
  next.replace(next.find("backend: alpha}"), 15, "backend: beta}");
  std::ofstream(proxy_->config_path()) << next;
  proxy_->send_signal(SIGHUP);
  ASSERT_TRUE(proxy_->wait_for_stderr("config reloaded, generation 2", Clock::now() + 10s))
      << proxy_->stderr_text();
  EXPECT_EQ(seen_by("alpha.example.com"), "beta");
}

}  // namespace
}  // namespace spliceproxy::test
