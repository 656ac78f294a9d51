// Admission shared by the acceptors of several workers: max_connections holds for the whole
// proxy while threads admit and release at once, per-source limits count one client address
// across threads, a listener waiting for room is woken when any thread makes it, and a place
// reserved for a client whose PROXY header is being read counts until admit() takes it over.
#include "proxy/frontend/admission.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <thread>
#include <vector>

#include "config/address.hpp"

namespace spliceproxy {
namespace {

net::Endpoint peer(const char* ip, unsigned short port = 4000) {
  return net::Endpoint(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address(ip), port));
}

config::Listener limits(std::size_t max, std::size_t per_source) {
  config::Listener listener;
  listener.name = "web";
  listener.max_connections = max;
  listener.max_connections_per_source = per_source;
  return listener;
}

TEST(Admission, MaxConnectionsHoldsWhileFourThreadsAdmitAndRelease) {
  constexpr std::size_t kMax = 8;
  auto admission = std::make_shared<Admission>(limits(kMax, 0));
  std::atomic<std::size_t> live{0};
  std::atomic<std::size_t> most{0};
  std::atomic<std::size_t> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        AdmissionTicket ticket;
        if (admission->admit(peer("127.0.0.1"), ticket) != Admission::Verdict::admitted) continue;
        ++admitted;
        const std::size_t now = ++live;
        std::size_t seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        --live;  // before the ticket goes: never more counted here than admitted
      }
    });
  }
  for (auto& thread : threads)
    thread.join();
  EXPECT_LE(most.load(), kMax);
  EXPECT_GT(admitted.load(), 0u);
  EXPECT_EQ(admission->live(), 0u);
}

TEST(Admission, PerSourceLimitCountsOneAddressAcrossThreads) {
  auto admission = std::make_shared<Admission>(limits(0, 3));
  std::vector<AdmissionTicket> tickets(8);
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      if (admission->admit(peer("127.0.0.9", 4000 + t), tickets[t]) == Admission::Verdict::admitted)
        ++admitted;
    });
  }
  for (auto& thread : threads)
    thread.join();
  EXPECT_EQ(admitted.load(), 3);
  AdmissionTicket other;
  EXPECT_EQ(admission->admit(peer("127.0.0.10"), other), Admission::Verdict::admitted);
}

TEST(Admission, ReleaseOnAnotherThreadWakesEveryWaiterOnce) {
  auto admission = std::make_shared<Admission>(limits(1, 0));
  AdmissionTicket held;
  ASSERT_EQ(admission->admit(peer("127.0.0.1"), held), Admission::Verdict::admitted);
  AdmissionTicket refused;
  EXPECT_EQ(admission->admit(peer("127.0.0.1"), refused), Admission::Verdict::full);
  std::atomic<int> woken{0};
  EXPECT_TRUE(admission->wait_for_room([&] { ++woken; }));
  EXPECT_TRUE(admission->wait_for_room([&] { ++woken; }));
  std::thread([&] { held.release(); }).join();
  EXPECT_EQ(woken.load(), 2);
  EXPECT_FALSE(admission->wait_for_room([&] { ++woken; })) << "not full: nothing to wait for";
  EXPECT_EQ(woken.load(), 2);
}

TEST(Admission, ReconfigureKeepsTheCountAndWakesWaitersWhenTheLimitRises) {
  auto admission = std::make_shared<Admission>(limits(1, 0));
  AdmissionTicket held;
  ASSERT_EQ(admission->admit(peer("127.0.0.1"), held), Admission::Verdict::admitted);
  int woken = 0;
  ASSERT_TRUE(admission->wait_for_room([&] { ++woken; }));
  admission->reconfigure(limits(2, 0));
  EXPECT_EQ(woken, 1);
  EXPECT_EQ(admission->live(), 1u);
  AdmissionTicket second;
  EXPECT_EQ(admission->admit(peer("127.0.0.1"), second), Admission::Verdict::admitted);
  EXPECT_TRUE(admission->full());
}

// A per-source limit that a reload switches on counts the sessions admitted before it, and
// a session that ends gives its source's place back.
TEST(Admission, PerSourceLimitSwitchedOnLaterCountsLiveSessions) {
  auto admission = std::make_shared<Admission>(limits(0, 0));
  std::vector<AdmissionTicket> live(2);
  for (auto& ticket : live)
    ASSERT_EQ(admission->admit(peer("127.0.0.5"), ticket), Admission::Verdict::admitted);
  AdmissionTicket other_source;
  ASSERT_EQ(admission->admit(peer("127.0.0.6"), other_source), Admission::Verdict::admitted);
  admission->reconfigure(limits(0, 2));
  AdmissionTicket third;
  EXPECT_EQ(admission->admit(peer("127.0.0.5"), third), Admission::Verdict::source_limit);
  AdmissionTicket second_of_other;
  EXPECT_EQ(admission->admit(peer("127.0.0.6"), second_of_other), Admission::Verdict::admitted);
  live[0].release();
  EXPECT_EQ(admission->admit(peer("127.0.0.5"), third), Admission::Verdict::admitted);
  EXPECT_EQ(admission->live(), 4u);
}

// A client whose PROXY header is being read holds a place: it counts towards max_connections
// before its address is known, and admit() then takes the place over instead of a new one.
TEST(Admission, ReservedPlaceCountsTowardsMaxConnectionsAndAdmitTakesItOver) {
  auto admission = std::make_shared<Admission>(limits(2, 0));
  AdmissionTicket first;
  AdmissionTicket second;
  AdmissionTicket third;
  EXPECT_TRUE(admission->reserve(first));
  EXPECT_TRUE(admission->reserve(second));
  EXPECT_FALSE(admission->reserve(third));
  EXPECT_FALSE(third);
  EXPECT_TRUE(admission->full());
  // Full, yet a reserved client is admitted: its place is taken already.
  EXPECT_EQ(admission->admit(peer("127.0.0.1"), first), Admission::Verdict::admitted);
  EXPECT_EQ(admission->live(), 2u);
  AdmissionTicket fresh;
  EXPECT_EQ(admission->admit(peer("127.0.0.1"), fresh), Admission::Verdict::full);
  first.release();
  EXPECT_EQ(admission->live(), 1u);
  second.release();
  EXPECT_EQ(admission->live(), 0u);
}

// The lists and the per-source limit still judge a reserved client by its header's address;
// refused, it keeps the place until the caller drops it, which makes room.
TEST(Admission, ReservedClientMeetsTheListsAndThePerSourceLimit) {
  config::Listener listener = limits(3, 1);
  listener.deny.push_back(*config::parse_cidr("203.0.113.0/24").value);
  auto admission = std::make_shared<Admission>(listener);
  AdmissionTicket denied;
  AdmissionTicket first;
  AdmissionTicket second;
  ASSERT_TRUE(admission->reserve(denied));
  ASSERT_TRUE(admission->reserve(first));
  ASSERT_TRUE(admission->reserve(second));
  int woken = 0;
  ASSERT_TRUE(admission->wait_for_room([&] { ++woken; }));
  EXPECT_EQ(admission->admit(peer("203.0.113.7"), denied), Admission::Verdict::denied);
  EXPECT_EQ(admission->admit(peer("198.51.100.9"), first), Admission::Verdict::admitted);
  EXPECT_EQ(admission->admit(peer("198.51.100.9", 4001), second), Admission::Verdict::source_limit);
  EXPECT_EQ(admission->live(), 3u);
  EXPECT_EQ(woken, 0);
  denied.release();
  EXPECT_EQ(woken, 1);
  second.release();
  EXPECT_EQ(admission->live(), 1u);
  // The admitted one counts per source until it goes.
  AdmissionTicket again;
  EXPECT_EQ(admission->admit(peer("198.51.100.9", 4002), again), Admission::Verdict::source_limit);
  first.release();
  EXPECT_EQ(admission->admit(peer("198.51.100.9", 4002), again), Admission::Verdict::admitted);
}

// A reload that moved the listener gives it a new Admission: a place reserved in the old one
// is given back there, and the new one counts the client afresh.
TEST(Admission, PlaceReservedInAnotherAdmissionIsGivenBack) {
  auto old_admission = std::make_shared<Admission>(limits(1, 0));
  auto new_admission = std::make_shared<Admission>(limits(1, 0));
  AdmissionTicket place;
  ASSERT_TRUE(old_admission->reserve(place));
  EXPECT_EQ(new_admission->admit(peer("127.0.0.1"), place), Admission::Verdict::admitted);
  EXPECT_EQ(old_admission->live(), 0u);
  EXPECT_EQ(new_admission->live(), 1u);
  place.release();
  EXPECT_EQ(new_admission->live(), 0u);
}

}  // namespace
}  // namespace spliceproxy
