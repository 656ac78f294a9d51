// Unit tests of proxy/ops/metrics: the Prometheus rendering of a hand-filled snapshot (families,
// label escaping, values) and SessionTotals.
#include "proxy/ops/metrics.hpp"

#include <gtest/gtest.h>

#include <string>

namespace spliceproxy {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

TEST(Metrics, EveryCounterOfTheXMacroIsAFamilyWithHelpAndType) {
  MetricsSnapshot snapshot;
  snapshot.stats.add(Counter::sessions_accepted_total, 7);
  const std::string text = render_metrics(snapshot);
  // Two counters count time in other units than seconds; they are served in seconds (below).
#define SPLICEPROXY_CHECK(name, help)                                             \
  if (Counter::name != Counter::bandwidth_wait_microseconds_total &&              \
      Counter::name != Counter::queue_wait_milliseconds_total) {                  \
    EXPECT_TRUE(has_line(text, "# HELP spliceproxy_" #name " " help)) << #name;   \
    EXPECT_TRUE(has_line(text, "# TYPE spliceproxy_" #name " counter")) << #name; \
  }
  SPLICEPROXY_COUNTERS(SPLICEPROXY_CHECK)
#undef SPLICEPROXY_CHECK
  EXPECT_TRUE(has_line(text, "spliceproxy_sessions_accepted_total 7"));
}

// Counted in microseconds, served in seconds (Prometheus' base unit).
TEST(Metrics, BandwidthWaitIsServedInSeconds) {
  MetricsSnapshot snapshot;
  snapshot.stats.add(Counter::bandwidth_wait_microseconds_total, 2'500'000);
  const std::string text = render_metrics(snapshot);
  EXPECT_TRUE(has_line(text, "# TYPE spliceproxy_bandwidth_wait_seconds_total counter"));
  EXPECT_TRUE(has_line(text, "spliceproxy_bandwidth_wait_seconds_total 2.5"));
  EXPECT_EQ(text.find("microseconds"), std::string::npos);
}

// Counted in milliseconds, served in seconds.
TEST(Metrics, QueueWaitIsServedInSeconds) {
  MetricsSnapshot snapshot;
  snapshot.stats.add(Counter::queue_wait_milliseconds_total, 1'500);
  const std::string text = render_metrics(snapshot);
  EXPECT_TRUE(has_line(text, "# TYPE spliceproxy_queue_wait_seconds_total counter"));
  EXPECT_TRUE(has_line(text, "spliceproxy_queue_wait_seconds_total 1.5"));
  EXPECT_EQ(text.find("milliseconds"), std::string::npos);
}

TEST(Metrics, ClosesAreLabelledByReason) {
  MetricsSnapshot snapshot;
  snapshot.stats.count_close(CloseReason::idle_timeout);
  snapshot.stats.count_close(CloseReason::idle_timeout);
  const std::string text = render_metrics(snapshot);
  EXPECT_TRUE(has_line(text, "spliceproxy_sessions_closed_total{reason=\"idle_timeout\"} 2"));
  EXPECT_TRUE(has_line(text, "spliceproxy_sessions_closed_total{reason=\"completed\"} 0"));
}

TEST(Metrics, ServerFiguresCarryBackendAndServerLabels) {
  MetricsSnapshot snapshot;
  ServerFigures server;
  server.backend = "api";
  server.server = "[::1]:80";
  server.healthy = false;
  server.active = 3;
  server.bytes = {10, 20};
  snapshot.servers.push_back(server);
  const std::string text = render_metrics(snapshot);
  const std::string labels = "backend=\"api\",server=\"[::1]:80\"";
  EXPECT_TRUE(has_line(text, "spliceproxy_server_healthy{" + labels + "} 0"));
  EXPECT_TRUE(has_line(text, "spliceproxy_server_active_connections{" + labels + "} 3"));
  EXPECT_TRUE(has_line(
      text, "spliceproxy_server_bytes_total{" + labels + ",direction=\"backend_to_client\"} 20"));
  EXPECT_TRUE(has_line(text, "# TYPE spliceproxy_server_healthy gauge"));
}

TEST(Metrics, LabelValuesAreEscaped) {
  MetricsSnapshot snapshot;
  snapshot.mirrors.push_back({"a\"b\\c\nd", 5, 1, 1});
  const std::string text = render_metrics(snapshot);
  EXPECT_TRUE(has_line(text, "spliceproxy_mirror_sink_bytes_total{mirror=\"a\\\"b\\\\c\\nd\"} 5"));
}

TEST(Metrics, SessionTotalsAddPerListenerAndPerConnectedServer) {
  SessionTotals totals;
  SessionRecord record;
  record.listener = "web";
  record.backend = "pool";
  record.bytes_client_to_backend = 100;
  record.bytes_backend_to_client = 200;
  totals.add(record);  // never connected: no server
  record.server = "127.0.0.1:80";
  record.server_name = "localhost:80";
  totals.add(record);
  EXPECT_EQ(totals.listener("web").client_to_backend, 200u);
  EXPECT_EQ(totals.listener("web").backend_to_client, 400u);
  EXPECT_EQ(totals.server("pool", "localhost:80").backend_to_client, 200u);
  EXPECT_EQ(totals.listener("other").client_to_backend, 0u);
  EXPECT_EQ(totals.rate_limited("web"), 0u);
  record.server.reset();
  record.reason = CloseReason::rate_limited;
  totals.add(record);
  EXPECT_EQ(totals.rate_limited("web"), 1u);
}

TEST(Metrics, RateLimitedClientsAreCountedPerListener) {
  MetricsSnapshot snapshot;
  snapshot.listeners.push_back({"web", {}, 3});
  const std::string text = render_metrics(snapshot);
  EXPECT_TRUE(
      has_line(text, "spliceproxy_listener_connection_rate_rejects_total{listener=\"web\"} 3"));
}

TEST(Metrics, TlsRoutesCountEndedSessionsPerListenerAndRule) {
  SessionTotals totals;
  SessionRecord record;
  record.listener = "tls";
  record.tls_route = "beta";
  totals.add(record);
  totals.add(record);
  record.tls_route = "default";
  totals.add(record);
  record.tls_route.clear();  // a listener that routes by no hello
  totals.add(record);
  MetricsSnapshot snapshot;
  snapshot.tls_routes = totals.tls_routes();
  const std::string text = render_metrics(snapshot);
  EXPECT_TRUE(has_line(text, "# TYPE spliceproxy_tls_route_sessions_total counter"));
  EXPECT_TRUE(
      has_line(text, "spliceproxy_tls_route_sessions_total{listener=\"tls\",route=\"beta\"} 2"));
  EXPECT_TRUE(
      has_line(text, "spliceproxy_tls_route_sessions_total{listener=\"tls\",route=\"default\"} 1"));
  EXPECT_EQ(snapshot.tls_routes.size(), 2u);
}

}  // namespace
}  // namespace spliceproxy
