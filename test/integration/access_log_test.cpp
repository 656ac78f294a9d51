// The access log through the real binary: one JSON line per session (parsed by jq) with the
// right byte counts, close reasons and termination codes for completed, connect_failed and
// idle_timeout sessions, and for clients closed before a session (denied, PROXY header);
// `off` writes nothing; a file target is appended to, created 0640 and reopened on SIGUSR1.
#include <sys/socket.h>
#include <sys/stat.h>

#include <csignal>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "test/integration/admin_client.hpp"
#include "test/integration/harness.hpp"
#include "test/integration/test_backend.hpp"
#include "test/integration/traffic.hpp"

namespace spliceproxy::test {
namespace {

constexpr std::uint64_t kSessionBytes = 24 * kKiB;

// Listener "web" on an echo backend, "down" on a refusing port, "idle" (200ms idle timeout) on
// the echo backend; the access log goes to `access`.
std::string access_yaml(const std::string& access, std::uint16_t echo, std::uint16_t refusing) {
  std::ostringstream yaml;
  yaml << "log: {level: info, access: " << access << "}\n"
       << "listeners:\n"
       << "  - {name: web, listen: 127.0.0.1:0, backend: echo}\n"
       << "  - {name: down, listen: 127.0.0.1:0, backend: refusing}\n"
       << "  - {name: idle, listen: 127.0.0.1:0, backend: echo, timeouts: {idle: 200ms}}\n"
       << "backends:\n"
       << "  - {name: echo, servers: [{address: 127.0.0.1:" << echo << "}]}\n"
       << "  - {name: refusing, max_connect_attempts: 1, ejection: {consecutive_failures: 0},\n"
       << "     servers: [{address: 127.0.0.1:" << refusing << "}]}\n";
  return yaml.str();
}

class AccessLogTest : public ::testing::Test {
 protected:
  void start(const std::string& access) {
    proxy_ = std::make_unique<ProxyProcess>(access_yaml(access, echo_.port(), refusing_.port()),
                                            ProxyOptions{.listeners = {"web", "down", "idle"}});
  }

  void run_echo_sessions(int count) {
    for (int i = 0; i < count; ++i) {
      const ClientPlan plan{.send_bytes = kSessionBytes, .send_seed = std::uint64_t(i)};
      const ClientResult client = run_client(proxy_->port("web"), plan, Clock::now() + 20s);
      ASSERT_TRUE(client.complete()) << client.describe();
      ASSERT_EQ(client.received_sha256, client.sent_sha256);
    }
  }

  // A client of `listener` that sends nothing and waits for the proxy to close it.
  void run_closed_by_proxy(const std::string& listener) {
    Fd client = connect_loopback(proxy_->port(listener), Clock::now() + 5s);
    EXPECT_TRUE(wait_for_peer_close(client.get(), Clock::now() + 10s).closed);
  }

  // jq's answer to `filter` over the log lines as one array (-s): every line must parse.
  std::string jq(const std::string& log, const std::string& filter) {
    const CommandResult result = run_jq(log, {"-s", "-c", filter});
    EXPECT_EQ(result.exit_code, 0) << result.err << log;
    return result.out;
  }

  TestBackend echo_{BackendBehavior::echo()};
  RefusingPort refusing_;
  std::unique_ptr<ProxyProcess> proxy_;
};

TEST_F(AccessLogTest, OneJsonLinePerSessionWithBytesAndReasons) {
  start("stdout");
  run_echo_sessions(4);
  run_closed_by_proxy("down");
  run_closed_by_proxy("down");
  run_closed_by_proxy("idle");
  ASSERT_EQ(proxy_->stop(), 0);
  const std::string log = proxy_->stdout_text();
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 7) << log;
  EXPECT_EQ(jq(log, "length"), "7\n");
  const std::string bytes = std::to_string(kSessionBytes);
  EXPECT_EQ(jq(log,
               "map(select(.listener == \"web\" and .reason == \"completed\" and "
               ".termination == \"--\" and .closed_by == \"client\" and .server != null "
               "and .bytes_client_to_backend == " +
                   bytes + " and .bytes_backend_to_client == " + bytes + ")) | length"),
            "4\n");
  EXPECT_EQ(jq(log,
               "map(select(.listener == \"down\" and .reason == \"connect_failed\" and "
               ".termination == \"SC\" and .server == null and .connect_attempts == 1 "
               "and .closed_by == \"proxy\")) | length"),
            "2\n");
  EXPECT_EQ(jq(log,
               "map(select(.listener == \"idle\" and .reason == \"idle_timeout\" and "
               ".termination == \"cD\" and .bytes_client_to_backend == 0)) | length"),
            "1\n");
  // RFC 3339 UTC with milliseconds, and a client address on every line.
  EXPECT_EQ(jq(log,
               "map(select((.start | test(\"^\\\\d{4}-\\\\d\\\\d-\\\\d\\\\dT\\\\d\\\\d:"
               "\\\\d\\\\d:\\\\d\\\\d\\\\.\\\\d{3}Z$\")) and (.client | startswith("
               "\"127.0.0.1:\")))) | length"),
            "7\n");
}

// Clients closed before a session began get a line too, with no server and no byte: denied by
// the listener's list ("PR"), a malformed PROXY header ("PR", closed by the proxy) and a
// client that closed before its header was complete ("CR", closed by the client).
TEST_F(AccessLogTest, ClientsClosedBeforeASessionGetALineToo) {
  std::ostringstream yaml;
  yaml << "log: {level: info, access: stdout}\n"
       << "listeners:\n"
       << "  - {name: web, listen: 127.0.0.1:0, backend: echo, deny: [127.0.0.0/8]}\n"
       << "  - {name: pp, listen: 127.0.0.1:0, backend: echo, proxy_protocol: v1}\n"
       << "backends:\n"
       << "  - {name: echo, servers: [{address: 127.0.0.1:" << echo_.port() << "}]}\n";
  proxy_ = std::make_unique<ProxyProcess>(yaml.str(), ProxyOptions{.listeners = {"web", "pp"}});
  run_closed_by_proxy("web");
  {
    Fd malformed = connect_loopback(proxy_->port("pp"), Clock::now() + 5s);
    const std::string request = "GET / HTTP/1.0\r\n\r\n";
    ASSERT_TRUE(send_all(malformed.get(),
                         {reinterpret_cast<const std::uint8_t*>(request.data()), request.size()},
                         Clock::now() + 5s));
    EXPECT_TRUE(wait_for_peer_close(malformed.get(), Clock::now() + 10s).closed);
  }
  Fd quitter = connect_loopback(proxy_->port("pp"), Clock::now() + 5s);
  ASSERT_EQ(::shutdown(quitter.get(), SHUT_WR), 0);
  EXPECT_TRUE(wait_for_peer_close(quitter.get(), Clock::now() + 10s).closed);
  ASSERT_EQ(proxy_->stop(), 0);
  const std::string log = proxy_->stdout_text();
  EXPECT_EQ(jq(log, "length"), "3\n") << log;
  // How many lines have these fields, no server, no connect and no byte.
  const auto lines = [&](const std::string& listener, const std::string& reason,
                         const std::string& termination, const std::string& closed_by) {
    return jq(log, "map(select(.listener == \"" + listener + "\" and .reason == \"" + reason +
                       "\" and .termination == \"" + termination + "\" and .closed_by == \"" +
                       closed_by +
                       "\" and .server == null and .connect_attempts == 0 and "
                       ".bytes_client_to_backend == 0 and .bytes_backend_to_client == 0 and "
                       "(.client | startswith(\"127.0.0.1:\")) and .backend == \"echo\")) | "
                       "length");
  };
  EXPECT_EQ(lines("web", "denied", "PR", "proxy"), "1\n") << log;
  EXPECT_EQ(lines("pp", "proxy_protocol_error", "PR", "proxy"), "1\n") << log;
  EXPECT_EQ(lines("pp", "proxy_protocol_error", "CR", "client"), "1\n") << log;
  EXPECT_EQ(jq(log, "map(.session) | unique | length"), "3\n") << "session ids must differ";
}

TEST_F(AccessLogTest, OffWritesNothing) {
  start("\"off\"");
  run_echo_sessions(3);
  run_closed_by_proxy("down");
  ASSERT_EQ(proxy_->stop(), 0);
  EXPECT_EQ(proxy_->stdout_text(), "");
}

TEST_F(AccessLogTest, FileIsAppendedToAndCreated0640) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("spliceproxy-access-" + std::to_string(::getpid()) + ".log");
  std::filesystem::remove(path);
  start(path.string());
  run_echo_sessions(2);
  ASSERT_EQ(proxy_->stop(), 0);
  start(path.string());  // a second run appends
  run_echo_sessions(1);
  ASSERT_EQ(proxy_->stop(), 0);
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  const mode_t mask = ::umask(0);
  ::umask(mask);
  EXPECT_EQ(info.st_mode & 0777, 0640u & ~mask);
  std::stringstream content;
  content << std::ifstream(path).rdbuf();
  EXPECT_EQ(jq(content.str(), "map(.reason) | join(\",\")"), "\"completed,completed,completed\"\n");
  EXPECT_EQ(proxy_->stdout_text(), "");
  std::filesystem::remove(path);
}

TEST_F(AccessLogTest, Sigusr1ReopensTheFileAfterRotation) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("spliceproxy-rotate-" + std::to_string(::getpid()) + ".log");
  const auto rotated = path.string() + ".1";
  std::filesystem::remove(path);
  start(path.string());
  run_echo_sessions(1);
  ASSERT_TRUE(run_until([&] { return std::filesystem::file_size(path) > 0; }, Clock::now() + 10s));
  std::filesystem::rename(path, rotated);
  ASSERT_EQ(::kill(proxy_->pid(), SIGUSR1), 0);
  ASSERT_TRUE(proxy_->wait_for_stderr("access log: reopened", Clock::now() + 10s));
  run_echo_sessions(2);
  ASSERT_EQ(proxy_->stop(), 0);
  const auto lines = [](const std::string& file) {
    std::stringstream content;
    content << std::ifstream(file).rdbuf();
    const std::string text = content.str();
    return std::count(text.begin(), text.end(), '\n');
  };
  EXPECT_EQ(lines(rotated), 1);
  EXPECT_EQ(lines(path.string()), 2);
  std::filesystem::remove(path);
  std::filesystem::remove(rotated);
}

}  // namespace
}  // namespace spliceproxy::test
