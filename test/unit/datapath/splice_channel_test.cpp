// SpliceChannel driven over real socketpairs: the test writes into one pair, the channel moves
// the bytes to the other pair, and the test reads them back.
//
//   writer thread ─▶ feed_ ═╡ src_ ─▶ SpliceChannel ─▶ dst_ ╞═ drain_ ─▶ reader thread
#include "proxy/datapath/splice_channel.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "proxy/datapath/unique_fd.hpp"
#include "proxy/mirror/mirror_tap.hpp"
#include "test/unit/mirror/recording_sink.hpp"

namespace spliceproxy {
namespace {

using namespace std::chrono_literals;

std::vector<std::byte> random_bytes(std::size_t size, unsigned seed) {
  std::vector<std::byte> bytes(size);
  std::mt19937_64 generator(seed);
  for (auto& byte : bytes)
    byte = static_cast<std::byte>(generator());
  return bytes;
}

// Blocking write of everything; false on an error. The write side stays open.
bool write_all(int fd, const std::vector<std::byte>& data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

// Blocking write of everything, then shutdown(SHUT_WR).
void write_all_and_shutdown(int fd, const std::vector<std::byte>& data) {
  if (write_all(fd, data)) ::shutdown(fd, SHUT_WR);
}

// Blocking read of `size` bytes, fewer on EOF or error.
std::vector<std::byte> read_exactly(int fd, std::size_t size) {
  std::vector<std::byte> out(size);
  std::size_t got = 0;
  while (got < size) {
    const ssize_t n = ::recv(fd, out.data() + got, size - got, 0);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  out.resize(got);
  return out;
}

// Takes every descriptor the process may still open (under a soft limit lowered to 1,024 for
// speed) until it goes; restores the limit.
class DescriptorHog {
 public:
  DescriptorHog() {
    ::getrlimit(RLIMIT_NOFILE, &saved_);
    rlimit lowered = saved_;
    lowered.rlim_cur = std::min<rlim_t>(saved_.rlim_cur, 1024);
    ::setrlimit(RLIMIT_NOFILE, &lowered);
    for (int fd; (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;)
      held_.emplace_back(fd);
    exhausted_ = errno == EMFILE;
  }
  ~DescriptorHog() {
    held_.clear();
    ::setrlimit(RLIMIT_NOFILE, &saved_);
  }
  DescriptorHog(const DescriptorHog&) = delete;
  DescriptorHog& operator=(const DescriptorHog&) = delete;
  bool exhausted() const { return exhausted_; }

 private:
  rlimit saved_{};
  std::vector<UniqueFd> held_;
  bool exhausted_ = false;
};

// Blocking read until EOF or error.
std::vector<std::byte> read_to_eof(int fd) {
  std::vector<std::byte> out;
  std::byte chunk[65536];
  for (;;) {
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return out;
    out.insert(out.end(), chunk, chunk + n);
  }
}

// A channel's mode.
struct ChannelParam {
  ChannelMode mode;
};

class ChannelTest : public ::testing::TestWithParam<ChannelParam>, protected ChannelObserver {
 protected:
  ChannelTest() {
    std::signal(SIGPIPE, SIG_IGN);
    int a[2];
    int b[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a), 0);
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b), 0);
    feed_.reset(a[0]);
    drain_.reset(b[1]);
    src_.reset(a[1]);
    dst_.reset(b[0]);
    ::fcntl(src_.get(), F_SETFL, O_NONBLOCK);
    ::fcntl(dst_.get(), F_SETFL, O_NONBLOCK);
  }

  ~ChannelTest() override {
    channel_.reset();
    splice_io::inject_fault(0, 0);
  }

  void on_channel_end(SpliceChannel&) override { ++ends_; }

  SpliceChannel& make_channel(std::size_t pipe_size = 1024 * 1024, MirrorTap* tap = nullptr) {
    pipes_.emplace(pipe_size, 4, stats_);
    const ChannelWatches watches{poller_.add(src_.get()), poller_.add(dst_.get())};
    EXPECT_NE(watches.src, 0u);
    EXPECT_NE(watches.dst, 0u);
    channel_.emplace(src_.get(), dst_.get(), Direction::client_to_backend, GetParam().mode,
                     ChannelContext{*pipes_, stats_, *this, owner_, tap, scratch_, poller_},
                     watches);
    return *channel_;
  }

  // Polls until `done` holds or the deadline passes; returns `done()`.
  template <typename Predicate>
  bool run_until(Predicate done, std::chrono::seconds limit = 30s) {
    const auto deadline = Clock::now() + limit;
    while (!done() && Clock::now() < deadline)
      poller_.poll(100);
    return done();
  }

  // Queues the start of `data` at the source without blocking and returns how much: more than
  // the channel's buffer and the destination, whose send buffer it shrinks, can hold. Without a
  // concurrent writer, what the channel does next is determined.
  std::size_t queue_more_than_fits(const std::vector<std::byte>& data) {
    const int small = 4096;
    EXPECT_EQ(::setsockopt(dst_.get(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    ::fcntl(feed_.get(), F_SETFL, O_NONBLOCK);
    std::size_t queued = 0;
    for (ssize_t n; (n = ::send(feed_.get(), data.data() + queued, data.size() - queued, 0)) > 0;)
      queued += static_cast<std::size_t>(n);
    EXPECT_GT(queued, 64u * 1024 + 2 * small);
    return queued;
  }

  // Writes the rest of `data` past the `queued` bytes, reads the destination to its end while
  // the channel runs, and returns what came out.
  std::vector<std::byte> finish_transfer(SpliceChannel& channel, const std::vector<std::byte>& data,
                                         std::size_t queued) {
    ::fcntl(feed_.get(), F_SETFL, 0);
    const std::vector<std::byte> rest(data.begin() + static_cast<std::ptrdiff_t>(queued),
                                      data.end());
    std::thread writer(write_all_and_shutdown, feed_.get(), std::cref(rest));
    std::vector<std::byte> received;
    std::thread reader([&] { received = read_to_eof(drain_.get()); });
    EXPECT_TRUE(run_until([&] { return channel.state() != SpliceChannel::State::running; }));
    writer.join();
    reader.join();
    return received;
  }

  // Sends `data` through the channel and returns what came out the other side.
  std::vector<std::byte> transfer(SpliceChannel& channel, const std::vector<std::byte>& data) {
    std::thread writer(write_all_and_shutdown, feed_.get(), std::cref(data));
    std::vector<std::byte> received;
    std::thread reader([&] { received = read_to_eof(drain_.get()); });
    channel.start();
    EXPECT_TRUE(run_until([&] { return channel.state() != SpliceChannel::State::running; }));
    if (channel.state() != SpliceChannel::State::done) {
      ::shutdown(feed_.get(), SHUT_RDWR);  // unblock the test's threads: the channel is gone
      ::shutdown(drain_.get(), SHUT_RDWR);
    }
    writer.join();
    reader.join();
    return received;
  }

  EdgePoller poller_;
  UniqueFd src_;  // the channel's source and destination, non-blocking
  UniqueFd dst_;
  UniqueFd feed_;   // the test writes the source's bytes here
  UniqueFd drain_;  // the test reads the destination's bytes here
  Stats stats_;
  std::optional<PipePool> pipes_;
  std::shared_ptr<int> owner_ = std::make_shared<int>(0);
  std::vector<std::byte> scratch_ = std::vector<std::byte>(SpliceChannel::kCopyBufferSize);
  std::optional<SpliceChannel> channel_;
  int ends_ = 0;
};

TEST_P(ChannelTest, ForwardsEveryByteInOrderThenHalfClosesDestination) {
  auto& channel = make_channel();
  const auto data = random_bytes(8 * 1024 * 1024 + 17, 1);
  const auto received = transfer(channel, data);
  EXPECT_EQ(channel.state(), SpliceChannel::State::done);
  EXPECT_EQ(received, data);  // and read_to_eof returned: the destination saw EOF
  EXPECT_EQ(channel.bytes_forwarded(), data.size());
  EXPECT_EQ(stats_.get(Counter::bytes_client_to_backend_total), data.size());
  EXPECT_EQ(ends_, 1);
}

TEST_P(ChannelTest, ForwardsThroughOnePagePipeWhenPipeFillsBeforeSocketEmpties) {
  // A one-page pipe fills after a few segments: EAGAIN with bytes in the pipe must drain and
  // retry, not wait for readability that may never come again.
  auto& channel = make_channel(4096);
  const auto data = random_bytes(2 * 1024 * 1024, 2);
  EXPECT_EQ(transfer(channel, data), data);
  EXPECT_EQ(channel.state(), SpliceChannel::State::done);
}

TEST_P(ChannelTest, EmptyStreamOnlyForwardsEof) {
  auto& channel = make_channel();
  EXPECT_TRUE(transfer(channel, {}).empty());
  EXPECT_EQ(channel.state(), SpliceChannel::State::done);
  EXPECT_EQ(channel.bytes_forwarded(), 0u);
}

TEST_P(ChannelTest, IdleChannelHoldsNoPipeAndNoBuffer) {
  auto& channel = make_channel();
  const std::string hello = "hello";
  ASSERT_EQ(::send(feed_.get(), hello.data(), hello.size(), 0), 5);
  channel.start();
  std::string got(5, '\0');
  ASSERT_EQ(::recv(drain_.get(), got.data(), got.size(), MSG_WAITALL), 5);
  EXPECT_EQ(got, hello);
  EXPECT_EQ(channel.state(), SpliceChannel::State::running);
  EXPECT_EQ(pipes_->in_use(), 0u);
  EXPECT_FALSE(channel.holds_buffer());
}

TEST_P(ChannelTest, SmallMessageCostsOneReadAndOneWriteThenAWait) {
  auto& channel = make_channel();
  const std::string hello = "hello";
  ASSERT_EQ(::send(feed_.get(), hello.data(), hello.size(), 0), 5);
  const unsigned long before = splice_io::calls_made();
  channel.start();
  // A short, small recv drained the socket: no third call to hear EAGAIN, just a wait. A short
  // splice proves less (the pipe may have run out of slots): the channel waits only after
  // EAGAIN.
  const bool eagain_first = GetParam().mode == ChannelMode::splice;
  EXPECT_EQ(splice_io::calls_made() - before, eagain_first ? 3u : 2u);
  std::string got(5, '\0');
  ASSERT_EQ(::recv(drain_.get(), got.data(), got.size(), MSG_WAITALL), 5);
  EXPECT_EQ(got, hello);
  // The wait still wakes for the next message.
  ASSERT_EQ(::send(feed_.get(), hello.data(), hello.size(), 0), 5);
  EXPECT_TRUE(run_until([&] { return channel.bytes_forwarded() == 10; }));
}

TEST_P(ChannelTest, StopsReadingWhileDestinationIsFullAndDoesNotSpin) {
  auto& channel = make_channel(64 * 1024);
  const auto data = random_bytes(4 * 1024 * 1024, 3);
  const std::size_t queued = queue_more_than_fits(data);
  channel.start();
  while (poller_.poll(0) > 0) {
  }
  // Parked on a writability wait: polling again runs nothing and makes no syscall.
  const unsigned long calls = splice_io::calls_made();
  EXPECT_EQ(poller_.poll(0), 0);
  EXPECT_EQ(splice_io::calls_made(), calls);
  EXPECT_EQ(channel.state(), SpliceChannel::State::running);
  EXPECT_LT(channel.bytes_forwarded(), queued);
  // The scratch buffer holds nothing of a parked channel: the worker's other channels use it.
  std::fill(scratch_.begin(), scratch_.end(), std::byte{0xAA});
  // Reading resumes it, and everything arrives.
  EXPECT_EQ(finish_transfer(channel, data, queued), data);
}

// A read after a short write would take only what came meanwhile, in small bites: the channel
// waits for room first, and its next read fills the buffer.
TEST_P(ChannelTest, ShortWriteWaitsForRoomWithoutReadingOn) {
  auto& channel = make_channel(64 * 1024);
  const auto data = random_bytes(4 * 1024 * 1024, 9);
  const std::size_t queued = queue_more_than_fits(data);
  const unsigned long before = splice_io::calls_made();
  channel.start();
  // One read, one short write, then the wait: no read in between.
  EXPECT_EQ(splice_io::calls_made() - before, 2u);
  const std::uint64_t first = channel.bytes_forwarded();
  EXPECT_GT(first, 0u);
  EXPECT_LT(first, 64u * 1024);
  // Room at the destination resumes it, and everything arrives in order.
  EXPECT_EQ(finish_transfer(channel, data, queued), data);
}

// The mirror of a channel (tee in splice mode, write in copy mode) against a sink that checks
// every chunk against the stream: each byte once, in order, or inside an announced gap.
TEST_P(ChannelTest, MirrorGetsEachByteOnceInOrderOrAnAnnouncedGap) {
  const auto data = random_bytes(8 * 1024 * 1024 + 17, 6);
  RecordingSink sink(data, 1024 * 1024);
  sink.start();
  MirrorTap tap(stats_);
  tap.add(sink, 1u, 0, 1);
  tap.open({}, {});
  auto& channel = make_channel(1024 * 1024, &tap);
  EXPECT_EQ(transfer(channel, data), data);
  tap.close(false);
  sink.stop();
  EXPECT_EQ(sink.mismatches, 0u);
  EXPECT_EQ(sink.offset, data.size()) << "received and dropped bytes must tile the stream";
  EXPECT_GT(sink.received, 0u);
  EXPECT_EQ(sink.received, stats_.get(Counter::mirror_bytes_total));
  EXPECT_EQ(sink.received + stats_.get(Counter::mirror_dropped_bytes_total), data.size());
  EXPECT_EQ(sink.opens, 1);
  EXPECT_EQ(sink.closes, 1);
}

TEST_P(ChannelTest, MirrorFullDropsWithoutSlowingPrimary) {
  const auto data = random_bytes(2 * 1024 * 1024, 7);
  RecordingSink sink(data, 4096);  // one-page feed pipes, and no sink thread yet: they fill
  MirrorTap tap(stats_);
  tap.add(sink, 1u, 0, 1);
  tap.open({}, {});
  auto& channel = make_channel(64 * 1024, &tap);
  EXPECT_EQ(transfer(channel, data), data);
  EXPECT_EQ(channel.state(), SpliceChannel::State::done);
  tap.close(false);
  sink.start();  // what the pipes held is still consistent with the records
  sink.stop();
  EXPECT_GT(stats_.get(Counter::mirror_dropped_bytes_total), 0u);
  EXPECT_GE(stats_.get(Counter::mirror_gaps_total), 1u);
  EXPECT_EQ(sink.mismatches, 0u);
  EXPECT_EQ(sink.offset, data.size());
  EXPECT_EQ(sink.received + stats_.get(Counter::mirror_dropped_bytes_total), data.size());
}

// A sink blocked in its output must not hold up the channel: the kernel holds a pipe's lock
// during a blocking splice from it, so a sink that blocked while reading a feed pipe would
// stall the worker's next tee into that pipe.
TEST_P(ChannelTest, StuckSinkNeverHoldsUpTheChannel) {
  const auto data = random_bytes(16 * 1024 * 1024, 8);
  StuckSink sink;
  sink.start();
  MirrorTap tap(stats_);
  tap.add(sink, 1u, 0, 1);
  tap.open({}, {});
  auto& channel = make_channel(1024 * 1024, &tap);
  EXPECT_EQ(transfer(channel, data), data);
  EXPECT_EQ(channel.state(), SpliceChannel::State::done);
  tap.close(false);
  sink.release();
}

// Splice mode only: in copy mode EINVAL from recv is a plain error.
class SpliceOnlyChannelTest : public ChannelTest {};

TEST_P(SpliceOnlyChannelTest, RefusedSpliceFallsBackToCopyAndCountsIt) {
  auto& channel = make_channel();
  splice_io::inject_fault(1, EINVAL);  // the first splice of the session
  const auto data = random_bytes(1024 * 1024, 4);
  EXPECT_EQ(transfer(channel, data), data);
  EXPECT_EQ(stats_.get(Counter::splice_fallbacks_total), 1u);
  EXPECT_EQ(channel.mode(), ChannelMode::copy);
  EXPECT_EQ(stats_.get(Counter::bytes_copied_total), data.size());
}

// Out of descriptors, no pipe can be had: reads copy meanwhile, and the channel splices again
// once a pipe can be created. That is no fallback: the channel stays in its mode.
TEST_P(SpliceOnlyChannelTest, CopiesWhileNoPipeCanBeHadThenSplicesAgain) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // The sanitizers' runtimes check memory through a pipe of their own: without descriptors
  // they report errors that are not there.
  GTEST_SKIP() << "runs without sanitizers only";
#endif
  auto& channel = make_channel();
  const auto first = random_bytes(256 * 1024, 11);
  // The threads start before the descriptors run out.
  std::thread writer(write_all, feed_.get(), std::cref(first));
  std::vector<std::byte> got;
  std::thread reader([&] { got = read_exactly(drain_.get(), first.size()); });
  bool exhausted = false;
  bool forwarded = false;
  {
    const DescriptorHog hog;
    exhausted = hog.exhausted();
    if (exhausted) {
      channel.start();
      forwarded = run_until([&] { return channel.bytes_forwarded() == first.size(); });
    }
  }
  if (!forwarded) {
    ::shutdown(feed_.get(), SHUT_RDWR);  // unblock the test's threads
    ::shutdown(drain_.get(), SHUT_RDWR);
  }
  writer.join();
  reader.join();
  ASSERT_TRUE(exhausted) << "could not use up the descriptors";
  ASSERT_TRUE(forwarded) << "the channel stalled without a pipe";
  EXPECT_EQ(got, first);
  EXPECT_EQ(stats_.get(Counter::bytes_copied_total), first.size());
  EXPECT_EQ(stats_.get(Counter::splice_fallbacks_total), 0u);
  EXPECT_EQ(channel.mode(), ChannelMode::splice);
  const auto second = random_bytes(1024 * 1024, 12);
  EXPECT_EQ(transfer(channel, second), second);
  EXPECT_GT(stats_.get(Counter::bytes_spliced_total), 0u) << "splicing did not resume";
}

TEST_P(ChannelTest, SourceResetFailsTheChannelOnTheSourceSide) {
  auto& channel = make_channel();
  splice_io::inject_fault(1, ECONNRESET);
  const auto data = random_bytes(4096, 5);
  transfer(channel, data);
  EXPECT_EQ(channel.state(), SpliceChannel::State::failed);
  EXPECT_EQ(channel.failed_side(), SpliceChannel::Side::source);
  EXPECT_EQ(channel.error(), ECONNRESET);
  EXPECT_EQ(ends_, 1);
}

TEST_P(ChannelTest, DestinationGoneFailsTheChannelOnTheDestinationSide) {
  auto& channel = make_channel();
  drain_.reset();
  const std::string hello = "hello";
  ASSERT_EQ(::send(feed_.get(), hello.data(), hello.size(), 0), 5);
  channel.start();
  EXPECT_TRUE(run_until([&] { return channel.state() != SpliceChannel::State::running; }));
  EXPECT_EQ(channel.state(), SpliceChannel::State::failed);
  EXPECT_EQ(channel.failed_side(), SpliceChannel::Side::destination);
  EXPECT_EQ(channel.error(), EPIPE);
  EXPECT_EQ(pipes_->in_use(), 0u);
}

// Mode adaptive only: which path carries which bytes.
class AdaptiveChannelTest : public ChannelTest {
 protected:
  // Sends `size` bytes of `data` from `offset` and waits until they are out the other side.
  void round_trip(const std::vector<std::byte>& data, std::size_t& offset, std::size_t size) {
    const std::uint64_t before = channel_->bytes_forwarded();
    std::thread writer([&] {
      std::vector<std::byte> part(data.begin() + static_cast<std::ptrdiff_t>(offset),
                                  data.begin() + static_cast<std::ptrdiff_t>(offset + size));
      EXPECT_EQ(::send(feed_.get(), part.data(), part.size(), MSG_NOSIGNAL),
                static_cast<ssize_t>(size));
    });
    std::vector<std::byte> got(size);
    std::thread reader([&] {
      EXPECT_EQ(::recv(drain_.get(), got.data(), size, MSG_WAITALL), static_cast<ssize_t>(size));
    });
    const bool arrived = run_until([&] { return channel_->bytes_forwarded() == before + size; });
    EXPECT_TRUE(arrived);
    if (!arrived) {  // unblock the test's threads: the channel stalled
      ::shutdown(feed_.get(), SHUT_RDWR);
      ::shutdown(drain_.get(), SHUT_RDWR);
    }
    writer.join();
    reader.join();
    EXPECT_TRUE(
        std::equal(got.begin(), got.end(), data.begin() + static_cast<std::ptrdiff_t>(offset)));
    offset += size;
  }
};

TEST_P(AdaptiveChannelTest, CopiesMessagesSplicesBulkAndGoesBackToCopying) {
  auto& channel = make_channel();
  const auto data = random_bytes(16 * 1024 * 1024, 9);
  std::size_t offset = 0;
  channel.start();
  round_trip(data, offset, 100);  // a message: recv and send, no pipe
  EXPECT_EQ(stats_.get(Counter::bytes_copied_total), 100u);
  EXPECT_EQ(stats_.get(Counter::bytes_spliced_total), 0u);
  EXPECT_EQ(pipes_->in_use(), 0u);
  round_trip(data, offset, 8 * 1024 * 1024);  // bulk: after its first large read, spliced
  EXPECT_GT(stats_.get(Counter::bytes_spliced_total), 4u * 1024 * 1024);
  // Small messages in a row bring the flow back to copying.
  for (unsigned i = 0; i < SpliceChannel::kSmallReadsToCopy; ++i)
    round_trip(data, offset, 100);
  const std::uint64_t spliced = stats_.get(Counter::bytes_spliced_total);
  const std::uint64_t copied = stats_.get(Counter::bytes_copied_total);
  round_trip(data, offset, 100);
  EXPECT_EQ(stats_.get(Counter::bytes_spliced_total), spliced);
  EXPECT_EQ(stats_.get(Counter::bytes_copied_total), copied + 100);
  EXPECT_EQ(stats_.get(Counter::bytes_copied_total) + stats_.get(Counter::bytes_spliced_total),
            offset);
}

TEST_P(AdaptiveChannelTest, KeepsTheOrderWhileSwitchingBackAndForth) {
  // Writes of mixed sizes, one after another without waiting: the channel switches paths
  // while bytes are queued on the socket.
  std::mt19937 generator(10);
  std::vector<std::byte> data;
  std::vector<std::size_t> sizes;
  for (int i = 0; i < 400; ++i) {
    const bool large = generator() % 4 == 0;
    sizes.push_back(large ? 64 * 1024 + generator() % (256 * 1024) : 1 + generator() % 2000);
  }
  std::size_t total = 0;
  for (std::size_t size : sizes)
    total += size;
  data = random_bytes(total, 11);
  auto& channel = make_channel(64 * 1024);
  std::thread writer([&] {
    std::size_t at = 0;
    for (std::size_t size : sizes) {
      std::vector<std::byte> part(data.begin() + static_cast<std::ptrdiff_t>(at),
                                  data.begin() + static_cast<std::ptrdiff_t>(at + size));
      for (std::size_t sent = 0; sent < size;) {
        const ssize_t n = ::send(feed_.get(), part.data() + sent, size - sent, MSG_NOSIGNAL);
        if (n <= 0) return;
        sent += static_cast<std::size_t>(n);
      }
      at += size;
    }
    ::shutdown(feed_.get(), SHUT_WR);
  });
  std::vector<std::byte> received;
  std::thread reader([&] { received = read_to_eof(drain_.get()); });
  channel.start();
  EXPECT_TRUE(run_until([&] { return channel.state() != SpliceChannel::State::running; }));
  writer.join();
  reader.join();
  EXPECT_EQ(channel.state(), SpliceChannel::State::done);
  EXPECT_EQ(received, data);
  EXPECT_GT(stats_.get(Counter::bytes_spliced_total), 0u);
  EXPECT_GT(stats_.get(Counter::bytes_copied_total), 0u);
}

std::string param_name(const ::testing::TestParamInfo<ChannelParam>& info) {
  std::string name = "unknown";
  switch (info.param.mode) {
    case ChannelMode::splice:
      name = "splice";
      break;
    case ChannelMode::copy:
      name = "copy";
      break;
    case ChannelMode::adaptive:
      name = "adaptive";
      break;
  }
  return name;
}

std::vector<ChannelParam> params(std::initializer_list<ChannelMode> modes) {
  std::vector<ChannelParam> out;
  for (ChannelMode mode : modes)
    out.push_back({mode});
  return out;
}

INSTANTIATE_TEST_SUITE_P(Modes, ChannelTest,
                         ::testing::ValuesIn(params({ChannelMode::splice, ChannelMode::copy,
                                                     ChannelMode::adaptive})),
                         param_name);
INSTANTIATE_TEST_SUITE_P(Modes, AdaptiveChannelTest,
                         ::testing::ValuesIn(params({ChannelMode::adaptive})), param_name);
INSTANTIATE_TEST_SUITE_P(Modes, SpliceOnlyChannelTest,
                         ::testing::ValuesIn(params({ChannelMode::splice})), param_name);

}  // namespace
}  // namespace spliceproxy
