// max_connection_rate in Admission: a listener's bucket and per-source buckets, close vs wait,
// a reload that changes the rate, and the per-source table's bound.
#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>

#include "proxy/frontend/admission.hpp"
#include "proxy/frontend/source_rate_table.hpp"

namespace spliceproxy {
namespace {

using namespace std::chrono_literals;

net::Endpoint peer(const char* ip) {
  return net::Endpoint(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address(ip), 4000));
}

// A rate slow enough that no token comes back while a test runs.
config::Listener rated(std::uint64_t burst, std::uint64_t per_source_burst,
                       config::OverLimit over = config::OverLimit::close) {
  config::Listener listener;
  listener.name = "web";
  if (burst) listener.max_connection_rate.listener = {1, std::chrono::hours(1), burst};
  if (per_source_burst)
    listener.max_connection_rate.per_source = {1, std::chrono::hours(1), per_source_burst};
  listener.max_connection_rate.over_limit = over;
  return listener;
}

Admission::Verdict admit(Admission& admission, const char* ip, std::vector<AdmissionTicket>& held) {
  held.emplace_back();
  return admission.admit(peer(ip), held.back());
}

TEST(ConnectionRate, ListenerBurstThenClientsAreRateLimited) {
  auto admission = std::make_shared<Admission>(rated(3, 0));
  std::vector<AdmissionTicket> held;
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(admit(*admission, "10.0.0.1", held), Admission::Verdict::admitted);
  EXPECT_EQ(admit(*admission, "10.0.0.2", held), Admission::Verdict::rate_limited);
  EXPECT_EQ(admission->live(), 3u) << "a rate-limited client holds no place";
  EXPECT_FALSE(admission->rate_wait_until(TokenClock::now())) << "close mode never waits";
}

TEST(ConnectionRate, PerSourceLimitsOneAddressOnly) {
  auto admission = std::make_shared<Admission>(rated(0, 2));
  std::vector<AdmissionTicket> held;
  EXPECT_EQ(admit(*admission, "10.0.0.1", held), Admission::Verdict::admitted);
  EXPECT_EQ(admit(*admission, "10.0.0.1", held), Admission::Verdict::admitted);
  EXPECT_EQ(admit(*admission, "10.0.0.1", held), Admission::Verdict::rate_limited);
  EXPECT_EQ(admit(*admission, "10.0.0.2", held), Admission::Verdict::admitted);
}

TEST(ConnectionRate, WaitModeAdmitsAndSaysWhenTheNextTokenIsDue) {
  auto admission = std::make_shared<Admission>(rated(2, 0, config::OverLimit::wait));
  std::vector<AdmissionTicket> held;
  const auto now = TokenClock::now();
  EXPECT_FALSE(admission->rate_wait_until(now));
  EXPECT_EQ(admit(*admission, "10.0.0.1", held), Admission::Verdict::admitted);
  EXPECT_EQ(admit(*admission, "10.0.0.1", held), Admission::Verdict::admitted);
  const auto due = admission->rate_wait_until(TokenClock::now());
  ASSERT_TRUE(due);
  EXPECT_GT(*due, now + 59min);  // 1 per hour
  // A client another worker accepted meanwhile is admitted, in debt.
  EXPECT_EQ(admit(*admission, "10.0.0.1", held), Admission::Verdict::admitted);
  EXPECT_GT(*admission->rate_wait_until(TokenClock::now()), *due);
}

TEST(ConnectionRate, ReloadWithANewRateStartsAFullBucket) {
  auto admission = std::make_shared<Admission>(rated(1, 0));
  std::vector<AdmissionTicket> held;
  EXPECT_EQ(admit(*admission, "10.0.0.1", held), Admission::Verdict::admitted);
  EXPECT_EQ(admit(*admission, "10.0.0.1", held), Admission::Verdict::rate_limited);
  admission->reconfigure(rated(1, 0));  // unchanged: the bucket stays empty
  EXPECT_EQ(admit(*admission, "10.0.0.1", held), Admission::Verdict::rate_limited);
  admission->reconfigure(rated(2, 0));
  EXPECT_EQ(admit(*admission, "10.0.0.1", held), Admission::Verdict::admitted);
  admission->reconfigure(rated(0, 0));  // off
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(admit(*admission, "10.0.0.1", held), Admission::Verdict::admitted);
}

TEST(ConnectionRate, ListenerBandwidthBucketIsKeptAcrossAnUnchangedReload) {
  config::Listener listener = rated(0, 0);
  listener.bandwidth.listener.backend_to_client = 1 << 20;
  auto admission = std::make_shared<Admission>(listener);
  const auto before = admission->shared_bandwidth();
  EXPECT_FALSE(before[0]);
  ASSERT_TRUE(before[1]);
  admission->reconfigure(listener);
  EXPECT_EQ(admission->shared_bandwidth()[1], before[1]);
  listener.bandwidth.listener.backend_to_client = 2 << 20;
  admission->reconfigure(listener);
  EXPECT_NE(admission->shared_bandwidth()[1], before[1]);
  EXPECT_EQ(before[1]->rate().tokens, 1u << 20) << "live sessions keep the old cap";
}

TEST(SourceRateTable, HoldsAtMostItsCapacityEvictingTheLeastRecentlySeen) {
  SourceRateTable table({.tokens = 1, .period = 1h, .burst = 1}, 3);
  const auto now = TokenClock::now();
  EXPECT_TRUE(table.try_take(1, now));
  EXPECT_TRUE(table.try_take(2, now));
  EXPECT_TRUE(table.try_take(3, now));
  EXPECT_FALSE(table.try_take(1, now));  // seen again: 1 is now the most recent
  EXPECT_TRUE(table.try_take(4, now));   // evicts 2, the least recently seen
  EXPECT_EQ(table.size(), 3u);
  EXPECT_FALSE(table.try_take(1, now)) << "1 was kept";
  EXPECT_TRUE(table.try_take(2, now)) << "2 came back with a full bucket";
  for (std::uint64_t source = 100; source < 100000; ++source)
    table.try_take(source, now);
  EXPECT_EQ(table.size(), 3u);
}

}  // namespace
}  // namespace spliceproxy
