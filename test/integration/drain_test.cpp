// SIGTERM through the real binary: the listeners close at once (new connects are refused),
// sessions that end within drain_timeout finish byte-exact and the process exits 0 when the
// last one ends; a session that outlives drain_timeout is closed then, and the process exits 0.
#include <gtest/gtest.h>

#include <csignal>
#include <memory>

#include "test/integration/operations.hpp"
#include "test/integration/test_backend.hpp"

namespace spliceproxy::test {
namespace {

constexpr std::size_t kStep = 64 * kKiB;

std::string drain_yaml(std::uint16_t backend_port, const std::string& drain_timeout) {
  return "drain_timeout: " + drain_timeout + "\n" +
         with_workers(proxy_yaml("splice", {{.backend_port = backend_port}}), 2);
}

TEST(DrainTest, SessionsEndingWithinDrainTimeoutFinishIntactAndTheProcessExitsWithThem) {
  TestBackend backend(BackendBehavior::echo());
  ProxyProcess proxy(drain_yaml(backend.port(), "2m"));
  std::vector<std::unique_ptr<EchoConversation>> live;
  for (int i = 0; i < 4; ++i) {
    live.push_back(std::make_unique<EchoConversation>(proxy.port(), i + 1));
    ASSERT_TRUE(live.back()->step(kStep, Clock::now() + 30s));
  }
  proxy.send_signal(SIGTERM);
  ASSERT_TRUE(proxy.wait_for_stderr("new connections are refused", Clock::now() + 20s))
      << proxy.stderr_text();
  EXPECT_TRUE(connection_refused(proxy.port()));
  // The live sessions go on while draining.
  for (auto& conversation : live)
    ASSERT_TRUE(conversation->step(kStep, Clock::now() + 30s));
  EXPECT_TRUE(proxy.running());
  for (std::size_t i = 0; i < live.size(); ++i)
    EXPECT_TRUE(live[i]->finish(Clock::now() + 30s)) << "session " << i;
  // Far below the 2 minute drain_timeout: the process exits once the last session ended.
  EXPECT_EQ(proxy.wait_for_exit(60s), 0);
  const std::string log = proxy.stderr_text();
  EXPECT_NE(log.find("drained: 4 sessions finished, 0 closed at shutdown (4 live at the signal)"),
            std::string::npos)
      << log;
  EXPECT_EQ(stat_value(log, "sessions_closed_total{reason=\"completed\"}"), 4u);
  EXPECT_EQ(stat_value(log, "sessions_closed_total{reason=\"shutdown\"}"), 0u);
}

TEST(DrainTest, SessionOutlivingDrainTimeoutIsClosedAndTheProcessExits) {
  TestBackend backend(BackendBehavior::echo());
  ProxyProcess proxy(drain_yaml(backend.port(), "1s"));
  EchoConversation lingering(proxy.port(), 1);
  ASSERT_TRUE(lingering.step(kStep, Clock::now() + 30s));
  const auto signalled = Clock::now();
  proxy.send_signal(SIGTERM);
  const CloseEvent end = wait_for_peer_close(lingering.fd(), Clock::now() + 30s);
  ASSERT_TRUE(end.closed) << "the session outlived drain_timeout";
  EXPECT_GE(end.at - signalled, 1s) << "closed before drain_timeout passed";
  EXPECT_EQ(proxy.wait_for_exit(30s), 0);
  const std::string log = proxy.stderr_text();
  EXPECT_NE(log.find("drained: 0 sessions finished, 1 closed at shutdown (1 live at the signal)"),
            std::string::npos)
      << log;
  EXPECT_EQ(stat_value(log, "sessions_closed_total{reason=\"shutdown\"}"), 1u);
}

TEST(DrainTest, SecondSignalClosesEverySessionAtOnce) {
  TestBackend backend(BackendBehavior::echo());
  ProxyProcess proxy(drain_yaml(backend.port(), "10m"));
  EchoConversation lingering(proxy.port(), 1);
  ASSERT_TRUE(lingering.step(kStep, Clock::now() + 30s));
  proxy.send_signal(SIGTERM);
  ASSERT_TRUE(proxy.wait_for_stderr("received: draining", Clock::now() + 20s));
  proxy.send_signal(SIGTERM);
  // Far below the 10 minute drain_timeout.
  EXPECT_TRUE(wait_for_peer_close(lingering.fd(), Clock::now() + 30s).closed);
  EXPECT_EQ(proxy.wait_for_exit(30s), 0);
  EXPECT_EQ(stat_value(proxy.stderr_text(), "sessions_closed_total{reason=\"shutdown\"}"), 1u);
}

}  // namespace
}  // namespace spliceproxy::test
