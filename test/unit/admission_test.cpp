// Admission shared by the acceptors of several workers: max_connections holds for the whole
// proxy while threads admit and release at once, per-source limits count one client address
// across threads, and a listener waiting for room is woken when any thread makes it.
#include "proxy/admission.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <thread>
#include <vector>

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

}  // namespace
}  // namespace spliceproxy
