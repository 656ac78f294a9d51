// EdgePoller over real socketpairs: who gets woken, which edges are remembered, and the loop's
// own level-triggered descriptors.
#include "proxy/datapath/edge_poller.hpp"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

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

  // Takes every event that is ready now, without blocking.
  void settle() {
    for (int i = 0; i < 10 && poller_.poll(0) > 0; ++i) {
    }
  }

  // Polls until `done` holds or 10 s passed.
  template <typename Predicate>
  bool run_until(Predicate done) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!done() && std::chrono::steady_clock::now() < deadline)
      poller_.poll(100);
    return done();
  }

  void peer_sends() { ASSERT_EQ(::send(peer_.get(), "x", 1, MSG_NOSIGNAL), 1); }
  // Reads until EAGAIN, as a channel does before it waits.
  void drain_ours() {
    char buffer[256];
    while (::recv(ours_.get(), buffer, sizeof buffer, 0) > 0) {
    }
  }

  EdgePoller poller_;
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
  EXPECT_EQ(poller_.poll(0), 0) << "bytes nobody waits for must not wake the worker again";
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

TEST_F(EdgePollerTest, OwnDescriptorsWaiterIsCalledOnEachEdgeWithoutWaiting) {
  UniqueFd event(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  ASSERT_TRUE(event);
  Wakeups loop;
  const EdgePoller::Id own = poller_.add_own(event.get(), &loop);
  ASSERT_NE(own, 0u);
  EXPECT_EQ(poller_.registered(), 1u) << "the loop's own descriptors are not sockets";
  const std::uint64_t one = 1;
  ASSERT_EQ(::write(event.get(), &one, sizeof one), 8);
  EXPECT_EQ(poller_.poll(0), 1);
  EXPECT_EQ(poller_.poll(0), 0) << "one edge, one call";
  ASSERT_EQ(::write(event.get(), &one, sizeof one), 8);
  EXPECT_EQ(poller_.poll(0), 1) << "the next edge calls it again, with no wait in between";
  EXPECT_EQ(loop.readable, 2);
  ASSERT_EQ(::write(event.get(), &one, sizeof one), 8);
  poller_.remove(own);
  EXPECT_EQ(poller_.poll(0), 0) << "a removed descriptor leaves the set";
  EXPECT_EQ(loop.readable, 2);
}

TEST_F(EdgePollerTest, UnregisterTakesADescriptorWhoseFileLivesOnOutOfTheSet) {
  drain_ours();
  UniqueFd copy(::dup(ours_.get()));  // as a Unix listener's socket, dup'ed to each worker
  ASSERT_TRUE(copy);
  const EdgePoller::Id shared = poller_.add(copy.get());
  ASSERT_NE(shared, 0u);
  poller_.remove(id_);  // the fixture's registration of the same file
  poller_.remove(shared, /*unregister=*/true);
  copy.reset();
  peer_sends();
  EXPECT_EQ(poller_.poll(0), 1) << "merely removed, the first registration still reports";
  EXPECT_EQ(poller_.poll(0), 0);
  EXPECT_EQ(poller_.registered(), 0u);
}

TEST_F(EdgePollerTest, PollBlocksNoLongerThanItsTimeout) {
  drain_ours();
  ASSERT_TRUE(poller_.wait(id_, false, &waiter_));
  EXPECT_EQ(poller_.poll(1), 0) << "nothing is ready: the wait ends with its timeout";
  peer_sends();
  EXPECT_EQ(poller_.poll(10'000), 1) << "a ready socket ends the wait";
  EXPECT_EQ(waiter_.readable, 1);
}

}  // namespace
}  // namespace spliceproxy
