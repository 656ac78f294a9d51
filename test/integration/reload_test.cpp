// SIGHUP through the real binary: 20 echo conversations stay open across 5 reloads (one of
// them an invalid file) and every byte of each comes back intact; a listener added by a reload
// serves, a removed one refuses, a listener moved to another backend sends new sessions there,
// and an invalid file is reported with its line and column while the old config serves on. A
// listener moved to another address keeps its max_connections count; a Unix listener keeps
// its socket and takes a new mode.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include "test/integration/admin_client.hpp"
#include "test/integration/operations.hpp"
#include "test/integration/test_backend.hpp"

namespace spliceproxy::test {
namespace {

constexpr std::size_t kStep = 64 * kKiB;

// Listeners `names` (each 127.0.0.1:0) to backend `backend`; backends a and b.
std::string reload_yaml(const std::vector<std::string>& names, const std::string& web_backend,
                        std::uint16_t a, std::uint16_t b, const std::string& web_keys = "") {
  std::ostringstream yaml;
  yaml << "workers: 2\nlog: {level: info}\nlisteners:\n";
  for (const auto& name : names) {
    yaml << "  - name: " << name
         << "\n    listen: 127.0.0.1:0\n    backend: " << (name == "web" ? web_backend : "a")
         << "\n";
    if (name == "web") yaml << web_keys;
  }
  yaml << "backends:\n  - name: a\n    servers: [{address: 127.0.0.1:" << a << "}]\n"
       << "  - name: b\n    servers: [{address: 127.0.0.1:" << b << "}]\n";
  return yaml.str();
}

class ReloadTest : public ::testing::Test {
 protected:
  // Writes `yaml` over the proxy's config file, sends SIGHUP and waits for the outcome line.
  void reload(const std::string& yaml, const std::string& outcome) {
    std::ofstream(proxy_->config_path(), std::ios::trunc) << yaml;
    proxy_->send_signal(SIGHUP);
    ASSERT_TRUE(proxy_->wait_for_stderr(outcome, Clock::now() + 20s))
        << "no \"" << outcome << "\" in:\n"
        << proxy_->stderr_text();
  }

  // Every conversation takes one more step: the sessions live on across the reload.
  void step_all() {
    for (std::size_t i = 0; i < conversations_.size(); ++i)
      ASSERT_TRUE(conversations_[i]->step(kStep, Clock::now() + 30s)) << "conversation " << i;
  }

  // One short conversation through `port`, which must come back intact.
  static void expect_serves(std::uint16_t port, std::uint64_t seed) {
    EchoConversation conversation(port, seed);
    ASSERT_TRUE(conversation.step(kStep, Clock::now() + 30s));
    ASSERT_TRUE(conversation.finish(Clock::now() + 30s));
  }

  TestBackend a_{BackendBehavior::echo()};
  TestBackend b_{BackendBehavior::echo()};
  std::unique_ptr<ProxyProcess> proxy_;
  std::vector<std::unique_ptr<EchoConversation>> conversations_;
};

TEST_F(ReloadTest, LongTransfersSurviveFiveReloadsWhileListenersComeAndGo) {
  proxy_ = std::make_unique<ProxyProcess>(reload_yaml({"web", "old"}, "a", a_.port(), b_.port()),
                                          ProxyOptions{.listeners = {"web", "old"}});
  const std::uint16_t web = proxy_->port("web");
  const std::uint16_t old = proxy_->port("old");
  for (int i = 0; i < 20; ++i)
    conversations_.push_back(std::make_unique<EchoConversation>(i % 2 ? web : old, i + 1));
  step_all();

  // 1: a new listener, which serves.
  reload(reload_yaml({"web", "old", "extra"}, "a", a_.port(), b_.port()), "generation 2:");
  step_all();
  const auto extra = logged_port(proxy_->stderr_text(), "extra");
  ASSERT_TRUE(extra);
  expect_serves(*extra, 100);

  // 2: an invalid file: refused with file:line:col, the old config serves on.
  const std::string invalid = reload_yaml({"web", "old", "extra"}, "a", a_.port(), b_.port(),
                                          "    timeouts: {idle: soon}\n");
  reload(invalid, "reload failed, generation 2 keeps serving: " + proxy_->config_path() +
                      ":7:22: listeners[0].timeouts.idle: expected a duration");
  step_all();
  expect_serves(*extra, 101);

  // 3: `old` removed: it refuses; its sessions go on.
  reload(reload_yaml({"web", "extra"}, "a", a_.port(), b_.port()), "generation 3:");
  step_all();
  EXPECT_TRUE(connection_refused(old));

  // 4: web moves to backend b: new sessions go there, old ones stay on a.
  const std::size_t on_b = b_.accepted();
  reload(reload_yaml({"web", "extra"}, "b", a_.port(), b_.port()), "generation 4:");
  step_all();
  expect_serves(web, 102);
  EXPECT_EQ(b_.accepted(), on_b + 1);

  // 5: new limits on web (kept socket, new settings).
  reload(reload_yaml({"web", "extra"}, "b", a_.port(), b_.port(), "    max_connections: 100\n"),
         "generation 5:");
  step_all();
  expect_serves(web, 103);

  for (std::size_t i = 0; i < conversations_.size(); ++i)
    EXPECT_TRUE(conversations_[i]->finish(Clock::now() + 30s)) << "conversation " << i;
  ASSERT_EQ(proxy_->stop(), 0);
  const std::string log = proxy_->stderr_text();
  EXPECT_EQ(stat_value(log, "config_reloads_total"), 4u);
  EXPECT_EQ(stat_value(log, "config_reloads_failed_total"), 1u);
}

// A reload that cannot bind a new listener changes nothing: the listeners of the old config
// still serve and the next good reload numbers itself after the last success.
TEST_F(ReloadTest, ReloadThatCannotBindChangesNothing) {
  proxy_ = std::make_unique<ProxyProcess>(reload_yaml({"web"}, "a", a_.port(), b_.port()));
  Fd taken(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(taken.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(taken.get(), 1), 0);
  socklen_t size = sizeof addr;
  ::getsockname(taken.get(), reinterpret_cast<sockaddr*>(&addr), &size);
  std::string yaml = reload_yaml({"web"}, "b", a_.port(), b_.port());
  yaml.replace(yaml.find("listeners:\n") + 11, 0,
               "  - name: clash\n    listen: 127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) +
                   "\n    backend: a\n");
  reload(yaml, "reload failed, generation 1 keeps serving: listener clash: bind");
  const std::size_t on_a = a_.accepted();
  expect_serves(proxy_->port(), 1);
  EXPECT_EQ(a_.accepted(), on_a + 1) << "web moved to backend b although the reload failed";
  ASSERT_EQ(proxy_->stop(), 0);
}

// A listener moved to another address keeps counting the sessions it started at the old one:
// with max_connections 1 and a session live there, a client of the new address is accepted
// but waits, and is served once that session ends.
TEST_F(ReloadTest, ListenerMovedToAnotherAddressKeepsCountingItsSessions) {
  const auto yaml = [&](const std::string& host) {
    const std::string listen = host + ":0";
    return "workers: 2\nlog: {level: info}\nadmin: {listen: \"127.0.0.1:0\"}\nlisteners:\n" +
           ("  - {name: web, listen: \"" + listen + "\", backend: a, max_connections: 1}\n") +
           "backends:\n  - {name: a, servers: [{address: \"127.0.0.1:" + std::to_string(a_.port()) +
           "\"}]}\n";
  };
  proxy_ = std::make_unique<ProxyProcess>(yaml("127.0.0.1"));
  const std::uint16_t admin = admin_port(*proxy_);
  const auto metric = [&](std::string_view series) {
    return metric_value(http_request(admin, "/metrics").body, series).value_or(0);
  };
  EchoConversation first(proxy_->port(), 1);
  ASSERT_TRUE(first.step(kStep, Clock::now() + 30s));

  reload(yaml("127.0.0.2"), "generation 2:");
  const auto moved = logged_port(proxy_->stderr_text(), "web", "127.0.0.2");
  ASSERT_TRUE(moved);
  EchoConversation second(*moved, 2, {.host = "127.0.0.2", .source = ""});
  ASSERT_TRUE(run_until([&] { return metric("spliceproxy_sessions_accepted_total") >= 2; },
                        Clock::now() + 10s, 50ms))
      << "the moved listener never accepted the second client";
  // The worker that counted the accept admits (or parks) the client in the same handler: a
  // later scrape sees its session if it got one.
  EXPECT_EQ(metric("spliceproxy_sessions_active"), 1u)
      << "the moved listener admitted a client over max_connections";
  EXPECT_EQ(a_.accepted(), 1u);

  ASSERT_TRUE(first.finish(Clock::now() + 30s));
  ASSERT_TRUE(second.step(kStep, Clock::now() + 30s));
  EXPECT_TRUE(second.finish(Clock::now() + 30s));
  EXPECT_EQ(a_.accepted(), 2u);
  ASSERT_EQ(proxy_->stop(), 0);
}

// A reload that changes only a Unix listener's `mode` keeps its socket (the same file serves
// on) and gives the file the new mode; with the file gone, such a reload is refused.
TEST_F(ReloadTest, UnixListenerKeepsItsSocketAndTakesItsNewMode) {
  const std::string path = "/tmp/spliceproxy-reload-" + std::to_string(::getpid()) + ".sock";
  const auto yaml = [&](const char* mode) {
    return std::string("workers: 2\nlog: {level: info}\nlisteners:\n") +
           "  - {name: local, listen: \"unix:" + path + "\", mode: \"" + mode +
           "\", backend: a}\nbackends:\n  - {name: a, servers: [{address: \"127.0.0.1:" +
           std::to_string(a_.port()) + "\"}]}\n";
  };
  const auto connect_unix = [&] {
    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0)
        << std::strerror(errno);
    return fd;
  };
  proxy_ = std::make_unique<ProxyProcess>(yaml("0600"), ProxyOptions{.listeners = {"local"}});
  struct stat before {};
  ASSERT_EQ(::lstat(path.c_str(), &before), 0);
  ASSERT_EQ(before.st_mode & 0777, 0600u);
  EchoConversation live(connect_unix(), 1);
  ASSERT_TRUE(live.step(kStep, Clock::now() + 30s));

  reload(yaml("0660"), "generation 2:");
  struct stat after {};
  ASSERT_EQ(::lstat(path.c_str(), &after), 0);
  EXPECT_EQ(after.st_mode & 0777, 0660u);
  EXPECT_EQ(after.st_ino, before.st_ino) << "the socket was bound again, not kept";
  ASSERT_TRUE(live.step(kStep, Clock::now() + 30s));
  EchoConversation next(connect_unix(), 2);
  ASSERT_TRUE(next.step(kStep, Clock::now() + 30s));
  EXPECT_TRUE(next.finish(Clock::now() + 30s));

  ASSERT_EQ(::unlink(path.c_str()), 0);
  reload(yaml("0666"), "reload failed, generation 2 keeps serving: listener local: stat unix:" +
                           path + ": No such file or directory");
  ASSERT_TRUE(live.step(kStep, Clock::now() + 30s));
  EXPECT_TRUE(live.finish(Clock::now() + 30s));
  ASSERT_EQ(proxy_->stop(), 0);
}

}  // namespace
}  // namespace spliceproxy::test
