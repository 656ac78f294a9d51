// A SpliceChannel under a bandwidth cap, over real socketpairs: every byte arrives, at about the
// cap, and between refills the channel waits on its throttle's timer, holding no pipe, making
// no syscall and running no handler.
//
//   writer thread ─▶ feed_ ═╡ src_ ─▶ SpliceChannel + ChannelThrottle ─▶ dst_ ╞═ drain_ ─▶ reader
#include "proxy/datapath/channel_throttle.hpp"

#include <fcntl.h>
#include <sys/socket.h>

#include <csignal>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "proxy/datapath/splice_channel.hpp"
#include "proxy/datapath/unique_fd.hpp"

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

void write_all_and_shutdown(int fd, const std::vector<std::byte>& data) {
  for (std::size_t sent = 0; sent < data.size();) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<std::size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
}

std::vector<std::byte> read_to_eof(int fd) {
  std::vector<std::byte> out;
  std::byte chunk[65536];
  for (ssize_t n; (n = ::recv(fd, chunk, sizeof chunk, 0)) > 0;)
    out.insert(out.end(), chunk, chunk + n);
  return out;
}

struct ThrottleParam {
  ChannelMode mode;
};

class ThrottledChannelTest : public ::testing::TestWithParam<ThrottleParam>,
                             protected ChannelObserver {
 protected:
  ThrottledChannelTest() {
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
  ~ThrottledChannelTest() override { channel_.reset(); }

  void on_channel_end(SpliceChannel&) override { ++ends_; }

  // A channel capped at `bytes_per_second` of its own, and `shared` if given.
  SpliceChannel& make_channel(std::uint64_t bytes_per_second,
                              std::shared_ptr<SharedTokenBucket> shared = nullptr) {
    const ChannelWatches watches{poller_.add(src_.get()), poller_.add(dst_.get())};
    channel_.emplace(src_.get(), dst_.get(), Direction::backend_to_client, GetParam().mode,
                     ChannelContext{pipes_, stats_, *this, owner_, nullptr, scratch_, poller_},
                     watches);
    std::optional<TokenRate> own;
    if (bytes_per_second) own = ChannelThrottle::byte_rate(bytes_per_second);
    channel_->set_throttle(
        std::make_unique<ChannelThrottle>(timers_, own, std::move(shared), stats_));
    return *channel_;
  }

  template <typename Predicate>
  bool run_until(Predicate done, std::chrono::seconds limit = 30s) {
    const auto deadline = Clock::now() + limit;
    // The worker's loop in small: one wait until the next deadline, then what is due.
    while (!done() && Clock::now() < deadline) {
      poller_.poll(timers_.timeout(Clock::now(), 100));
      timers_.run_expired(Clock::now());
    }
    return done();
  }

  // Sends `data` through the started channel; returns what came out and how long it took.
  std::pair<std::vector<std::byte>, Clock::duration> transfer(SpliceChannel& channel,
                                                              const std::vector<std::byte>& data) {
    std::thread writer(write_all_and_shutdown, feed_.get(), std::cref(data));
    std::vector<std::byte> received;
    std::thread reader([&] { received = read_to_eof(drain_.get()); });
    const auto started = Clock::now();
    channel.start();
    EXPECT_TRUE(run_until([&] { return channel.state() != SpliceChannel::State::running; }));
    const auto took = Clock::now() - started;
    if (channel.state() != SpliceChannel::State::done) {
      ::shutdown(feed_.get(), SHUT_RDWR);
      ::shutdown(drain_.get(), SHUT_RDWR);
    }
    writer.join();
    reader.join();
    return {received, took};
  }

  EdgePoller poller_;
  TimerQueue timers_;
  UniqueFd src_;
  UniqueFd dst_;
  UniqueFd feed_;
  UniqueFd drain_;
  Stats stats_;
  PipePool pipes_{1024 * 1024, 4, stats_};
  std::shared_ptr<int> owner_ = std::make_shared<int>(0);
  std::vector<std::byte> scratch_ = std::vector<std::byte>(SpliceChannel::kCopyBufferSize);
  std::optional<SpliceChannel> channel_;
  int ends_ = 0;
};

double seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// 3 MiB at 4 MiB/s: the first 400 KiB are the burst, the rest takes ~0.65 s. The bounds are
// wide (a loaded machine runs late, never early); the syscall count shows it never spun.
TEST_P(ThrottledChannelTest, ForwardsEveryByteAtTheCapWithoutSpinning) {
  const std::uint64_t rate = 4 * 1024 * 1024;
  auto& channel = make_channel(rate);
  const auto data = random_bytes(3 * 1024 * 1024, 1);
  const unsigned long calls_before = splice_io::calls_made();
  const auto [received, took] = transfer(channel, data);
  EXPECT_EQ(received, data);
  EXPECT_EQ(channel.state(), SpliceChannel::State::done);
  const double burst = static_cast<double>(ChannelThrottle::byte_rate(rate).burst);
  const double floor = (static_cast<double>(data.size()) - burst) / static_cast<double>(rate);
  EXPECT_GE(seconds(took), floor * 0.95) << "faster than the cap";
  EXPECT_LT(seconds(took), floor * 10) << "far slower than the cap";
  EXPECT_GE(stats_.get(Counter::bandwidth_waits_total), 3u);
  // Each wait is followed by about one read of 128 KiB and its write: tens of calls, where a
  // loop polling for tokens would make millions.
  EXPECT_LT(splice_io::calls_made() - calls_before, 400u);
  if (GetParam().mode == ChannelMode::splice) {
    EXPECT_EQ(stats_.get(Counter::bytes_spliced_total), data.size()) << "the pipe path is kept";
  }
}

// Between refills the channel holds no pipe, makes no syscall and runs no handler: it waits on
// its timer only.
TEST_P(ThrottledChannelTest, WaitsForTokensIdleOnOneTimer) {
  auto& channel = make_channel(1024 * 1024);
  const auto data = random_bytes(1024 * 1024, 2);
  std::thread writer(write_all_and_shutdown, feed_.get(), std::cref(data));
  std::vector<std::byte> received;
  std::thread reader([&] { received = read_to_eof(drain_.get()); });
  channel.start();
  EXPECT_TRUE(run_until([&] { return stats_.get(Counter::bandwidth_waits_total) >= 1; }));
  while (poller_.poll(0) > 0 || timers_.run_expired(Clock::now()) > 0) {
  }
  const unsigned long calls = splice_io::calls_made();
  EXPECT_EQ(poller_.poll(0), 0);  // the refill is ~100 ms away
  EXPECT_EQ(timers_.run_expired(Clock::now()), 0u);
  EXPECT_EQ(timers_.size(), 1u) << "one timer, the throttle's";
  EXPECT_EQ(splice_io::calls_made(), calls);
  EXPECT_FALSE(channel.holds_buffer());
  EXPECT_EQ(pipes_.in_use(), 0u);
  EXPECT_TRUE(run_until([&] { return channel.state() != SpliceChannel::State::running; }));
  writer.join();
  reader.join();
  EXPECT_EQ(received, data);
  EXPECT_GT(stats_.get(Counter::bandwidth_wait_microseconds_total), 100'000u);
}

// A shared bucket (a listener's cap) limits a channel that has no cap of its own.
TEST_P(ThrottledChannelTest, SharedCapAloneLimitsTheChannel) {
  const std::uint64_t rate = 4 * 1024 * 1024;
  auto shared = std::make_shared<SharedTokenBucket>(ChannelThrottle::byte_rate(rate), Clock::now());
  auto& channel = make_channel(0, shared);
  const auto data = random_bytes(2 * 1024 * 1024, 3);
  const auto [received, took] = transfer(channel, data);
  EXPECT_EQ(received, data);
  const double burst = static_cast<double>(ChannelThrottle::byte_rate(rate).burst);
  EXPECT_GE(seconds(took), (static_cast<double>(data.size()) - burst) / rate * 0.95);
}

// Stopping a channel that waits for tokens cancels the wait: the timer's handler never runs it.
TEST_P(ThrottledChannelTest, StopWhileWaitingForTokensCancelsTheWait) {
  auto& channel = make_channel(1024 * 1024);
  const auto data = random_bytes(512 * 1024, 4);
  std::thread writer(write_all_and_shutdown, feed_.get(), std::cref(data));
  std::thread reader([&] { read_to_eof(drain_.get()); });
  channel.start();
  EXPECT_TRUE(run_until([&] { return stats_.get(Counter::bandwidth_waits_total) >= 1; }));
  channel.stop();
  EXPECT_EQ(timers_.size(), 0u) << "the throttle's timer is out of the queue";
  const unsigned long calls = splice_io::calls_made();
  run_until([] { return false; }, 1s);
  EXPECT_EQ(splice_io::calls_made(), calls);
  EXPECT_EQ(ends_, 0);
  ::shutdown(feed_.get(), SHUT_RDWR);
  ::shutdown(drain_.get(), SHUT_RDWR);
  ::shutdown(src_.get(), SHUT_RDWR);
  ::shutdown(dst_.get(), SHUT_RDWR);
  writer.join();
  reader.join();
}

std::vector<ThrottleParam> params() {
  std::vector<ThrottleParam> out;
  for (ChannelMode mode : {ChannelMode::splice, ChannelMode::copy, ChannelMode::adaptive})
    out.push_back({mode});
  return out;
}

std::string param_name(const ::testing::TestParamInfo<ThrottleParam>& info) {
  const char* mode = info.param.mode == ChannelMode::splice ? "Splice"
                     : info.param.mode == ChannelMode::copy ? "Copy"
                                                            : "Adaptive";
  return std::string(mode);
}

INSTANTIATE_TEST_SUITE_P(Modes, ThrottledChannelTest, ::testing::ValuesIn(params()), param_name);

}  // namespace
}  // namespace spliceproxy
