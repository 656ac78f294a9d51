// EdgePoller over real socketpairs: who gets woken, which edges are remembered, and that an
// empty poller lets its io_context run out.
#include "proxy/datapath/edge_poller.hpp"

#include <sys/socket.h>

#include <chrono>

#include <gtest/gtest.h>

#include "proxy/datapath/unique_fd.hpp"

namespace spliceproxy {
namespace {

using namespace std::chrono_literals;

struct Wakeups final : EdgePoller::Waiter {
  int readable = 0;
  int writable = 0;
  void on_ready(bool w) override { ++(w ? writable : readable); }
};

class EdgePollerTest : public ::testing::Test {
 protected:
  EdgePollerTest() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
    ours_.reset(fds[0]);
    peer_.reset(fds[1]);
    id_ = poller_.add(ours_.get());
    EXPECT_NE(id_, 0u);
    settle();
  }

  // Runs every handler that is ready now, the poller's rounds included.
  void settle() {
    for (int i = 0; i < 10 && io_.poll() > 0; ++i) {
    }
  }

  // Runs the reactor until `done` holds or 10 s passed.
  template <typename Predicate>
  bool run_until(Predicate done) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!done() && std::chrono::steady_clock::now() < deadline)
      io_.run_one_for(100ms);
    return done();
  }

  void peer_sends() { ASSERT_EQ(::send(peer_.get(), "x", 1, MSG_NOSIGNAL), 1); }
  // Reads until EAGAIN, as a channel does before it waits.
  void drain_ours() {
    char buffer[256];
    while (::recv(ours_.get(), buffer, sizeof buffer, 0) > 0) {
    }
  }

  boost::asio::io_context io_;
  EdgePoller poller_{io_};
  UniqueFd ours_;
  UniqueFd peer_;
  EdgePoller::Id id_ = 0;
  Wakeups waiter_;
};

TEST_F(EdgePollerTest, WaiterIsWokenOnceByTheNextByte) {
  drain_ours();
  ASSERT_TRUE(poller_.wait(id_, false, &waiter_));
  settle();
  EXPECT_EQ(waiter_.readable, 0);
  peer_sends();
  EXPECT_TRUE(run_until([&] { return waiter_.readable == 1; }));
  peer_sends();  // nobody waits: remembered, not delivered
  settle();
  EXPECT_EQ(waiter_.readable, 1);
}

TEST_F(EdgePollerTest, EdgeWithNobodyWaitingMakesTheNextWaitReturnReady) {
  drain_ours();
  peer_sends();
  settle();  // the edge goes by while nobody waits
  EXPECT_FALSE(poller_.wait(id_, false, &waiter_)) << "the byte that came must be read first";
  EXPECT_TRUE(poller_.wait(id_, false, &waiter_)) << "an edge is reported once";
}

TEST_F(EdgePollerTest, DirectionNobodyWaitsForStopsWakingTheReactor) {
  drain_ours();
  peer_sends();
  settle();  // nobody waits: the edge is noted, and reading leaves the set's interest
  peer_sends();
  EXPECT_EQ(io_.poll(), 0u) << "bytes nobody waits for must not wake the worker again";
  EXPECT_FALSE(poller_.wait(id_, false, &waiter_)) << "the first edge is still noted";
}

TEST_F(EdgePollerTest, WaitAfterALullReportsBytesThatCameMeanwhile) {
  drain_ours();
  peer_sends();
  settle();  // reading leaves the set's interest
  EXPECT_FALSE(poller_.wait(id_, false, &waiter_));
  drain_ours();  // EAGAIN: the caller may wait now
  peer_sends();  // no event: nobody has asked for reading again yet
  settle();
  ASSERT_TRUE(poller_.wait(id_, false, &waiter_));
  EXPECT_TRUE(run_until([&] { return waiter_.readable == 1; }))
      << "a byte that came while reading was out of the interest must wake the next waiter";
}

TEST_F(EdgePollerTest, HangUpStaysNotedAfterWakingTheWaiter) {
  drain_ours();
  ASSERT_TRUE(poller_.wait(id_, false, &waiter_));
  peer_sends();
  peer_.reset();  // the last byte and the hang-up may come as one edge
  EXPECT_TRUE(run_until([&] { return waiter_.readable == 1; }));
  // A short read of the last byte may look final; the hang-up must still be seen.
  EXPECT_FALSE(poller_.wait(id_, false, &waiter_));
}

TEST_F(EdgePollerTest, UrgentDataStaysNotedAfterWakingTheWaiter) {
  drain_ours();
  ASSERT_TRUE(poller_.wait(id_, false, &waiter_));
  peer_sends();
  if (::send(peer_.get(), "!", 1, MSG_OOB | MSG_NOSIGNAL) != 1) GTEST_SKIP() << "no MSG_OOB here";
  peer_sends();
  EXPECT_TRUE(run_until([&] { return waiter_.readable == 1; }));
  // recv stops at the urgent mark with bytes behind it: that short read proves nothing.
  EXPECT_FALSE(poller_.wait(id_, false, &waiter_));
}

TEST_F(EdgePollerTest, RemovedOrCancelledWaitersAreNotCalled) {
  drain_ours();
  ASSERT_TRUE(poller_.wait(id_, false, &waiter_));
  poller_.cancel(id_, false, &waiter_);
  peer_sends();
  settle();
  EXPECT_EQ(waiter_.readable, 0);
  drain_ours();
  EXPECT_FALSE(poller_.wait(id_, false, &waiter_)) << "the byte sent meanwhile was noted";
  ASSERT_TRUE(poller_.wait(id_, false, &waiter_));
  poller_.remove(id_);
  peer_sends();
  settle();
  EXPECT_EQ(waiter_.readable, 0);
  EXPECT_TRUE(poller_.wait(id_, false, &waiter_)) << "a removed id waits for ever, never spins";
  peer_sends();
  settle();
  EXPECT_EQ(waiter_.readable, 0);
  // Its slot serves the next socket under another id.
  const EdgePoller::Id next = poller_.add(peer_.get());
  EXPECT_NE(next, 0u);
  EXPECT_NE(next, id_);
}

TEST_F(EdgePollerTest, WritableWaiterIsWokenWhenRoomComesBack) {
  const std::vector<char> chunk(64 * 1024, 'x');
  while (::send(ours_.get(), chunk.data(), chunk.size(), MSG_NOSIGNAL) > 0) {
  }
  settle();
  // The first wait may only report an edge noted while the buffer filled.
  if (!poller_.wait(id_, true, &waiter_)) {
    ASSERT_TRUE(poller_.wait(id_, true, &waiter_));
  }
  std::vector<char> sink(1024 * 1024);
  while (::recv(peer_.get(), sink.data(), sink.size(), 0) > 0) {
  }
  EXPECT_TRUE(run_until([&] { return waiter_.writable == 1; }));
  EXPECT_EQ(waiter_.readable, 0);
}

TEST_F(EdgePollerTest, IoContextRunsOutOnceTheLastSocketIsRemoved) {
  poller_.remove(id_);
  // Nothing else keeps the io_context busy: run() returns for want of work, not the limit.
  io_.run_for(30s);
  EXPECT_TRUE(io_.stopped());
}

}  // namespace
}  // namespace spliceproxy
