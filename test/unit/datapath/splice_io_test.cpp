// splice_io: each status comes from the syscall outcome it stands for, on real descriptors.
#include "proxy/datapath/splice_io.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>

#include <gtest/gtest.h>

#include "proxy/datapath/pipe.hpp"
#include "proxy/datapath/unique_fd.hpp"

namespace spliceproxy {
namespace {

using splice_io::Status;

struct SocketPair {
  UniqueFd a;
  UniqueFd b;
};

SocketPair make_socketpair() {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// A connected TCP pair on loopback: only TCP can be reset.
SocketPair make_tcp_pair() {
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  EXPECT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), length), 0);
  EXPECT_EQ(::listen(listener.get(), 1), 0);
  EXPECT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length), 0);
  UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_EQ(::connect(client.get(), reinterpret_cast<sockaddr*>(&address), length), 0);
  UniqueFd server(::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
  return {std::move(client), std::move(server)};
}

void send_all(int fd, std::string_view text) {
  ASSERT_EQ(::send(fd, text.data(), text.size(), MSG_NOSIGNAL), static_cast<ssize_t>(text.size()));
}

class SpliceIoTest : public ::testing::Test {
 protected:
  void TearDown() override { splice_io::inject_fault(0, 0); }
};

TEST_F(SpliceIoTest, SpliceFromSocketIntoPipeReportsProgress) {
  auto sockets = make_socketpair();
  auto pipe = Pipe::create(64 * 1024);
  ASSERT_TRUE(pipe);
  send_all(sockets.a.get(), "hello");
  const auto r = splice_io::splice_move(sockets.b.get(), pipe->write_fd(), 1024);
  EXPECT_EQ(r.status, Status::progress);
  EXPECT_EQ(r.bytes, 5u);
  std::array<char, 8> out{};
  EXPECT_EQ(::read(pipe->read_fd(), out.data(), out.size()), 5);
  EXPECT_STREQ(out.data(), "hello");
}

TEST_F(SpliceIoTest, SpliceFromEmptySocketWouldBlock) {
  auto sockets = make_socketpair();
  auto pipe = Pipe::create(64 * 1024);
  const auto r = splice_io::splice_move(sockets.b.get(), pipe->write_fd(), 1024);
  EXPECT_EQ(r.status, Status::would_block);
  EXPECT_EQ(r.error, EAGAIN);
}

TEST_F(SpliceIoTest, SpliceFromSocketAtEndOfStreamIsEof) {
  auto sockets = make_socketpair();
  auto pipe = Pipe::create(64 * 1024);
  ASSERT_EQ(::shutdown(sockets.a.get(), SHUT_WR), 0);
  const auto r = splice_io::splice_move(sockets.b.get(), pipe->write_fd(), 1024);
  EXPECT_EQ(r.status, Status::eof);
  EXPECT_EQ(r.bytes, 0u);
}

TEST_F(SpliceIoTest, SpliceIntoFullPipeWouldBlock) {
  auto sockets = make_socketpair();
  auto pipe = Pipe::create(4096);
  ASSERT_TRUE(pipe);
  const std::string filler(pipe->capacity(), 'x');
  ASSERT_EQ(::write(pipe->write_fd(), filler.data(), filler.size()),
            static_cast<ssize_t>(filler.size()));
  send_all(sockets.a.get(), "more");
  const auto r = splice_io::splice_move(sockets.b.get(), pipe->write_fd(), 1024);
  EXPECT_EQ(r.status, Status::would_block);
}

TEST_F(SpliceIoTest, SpliceFromDescriptorWithoutSpliceSupportIsUnsupported) {
  UniqueFd event(::eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC));
  auto pipe = Pipe::create(64 * 1024);
  const auto r = splice_io::splice_move(event.get(), pipe->write_fd(), 8);
  EXPECT_EQ(r.status, Status::unsupported);
  EXPECT_EQ(r.error, EINVAL);
}

TEST_F(SpliceIoTest, OverLargeSpliceLengthIsCappedNotRefused) {
  auto sockets = make_socketpair();
  auto pipe = Pipe::create(64 * 1024);
  send_all(sockets.a.get(), "abc");
  const auto r = splice_io::splice_move(sockets.b.get(), pipe->write_fd(), SIZE_MAX);
  EXPECT_EQ(r.status, Status::progress);
  EXPECT_EQ(r.bytes, 3u);
}

TEST_F(SpliceIoTest, ReadFromResetConnectionIsErrorWithEconnreset) {
  auto tcp = make_tcp_pair();
  const linger reset{1, 0};
  ASSERT_EQ(::setsockopt(tcp.a.get(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset), 0);
  tcp.a.reset();  // sends RST
  std::array<std::byte, 16> buffer{};
  splice_io::Result r;
  // The RST is processed synchronously on loopback; loop only over a benign EAGAIN race.
  for (int i = 0; i < 1000; ++i) {
    r = splice_io::read_some(tcp.b.get(), buffer);
    if (r.status != Status::would_block) break;
  }
  EXPECT_EQ(r.status, Status::error);
  EXPECT_EQ(r.error, ECONNRESET);
}

TEST_F(SpliceIoTest, WriteToClosedPeerIsErrorWithEpipeAndNoSignal) {
  auto sockets = make_socketpair();
  sockets.a.reset();
  const std::array<std::byte, 4> data{};
  const auto r = splice_io::write_some(sockets.b.get(), data);
  EXPECT_EQ(r.status, Status::error);
  EXPECT_EQ(r.error, EPIPE);
}

TEST_F(SpliceIoTest, ReadOfEmptySocketWouldBlockAndReadAfterShutdownIsEof) {
  auto sockets = make_socketpair();
  std::array<std::byte, 16> buffer{};
  EXPECT_EQ(splice_io::read_some(sockets.b.get(), buffer).status, Status::would_block);
  ASSERT_EQ(::shutdown(sockets.a.get(), SHUT_WR), 0);
  EXPECT_EQ(splice_io::read_some(sockets.b.get(), buffer).status, Status::eof);
}

TEST_F(SpliceIoTest, InjectedFaultFailsExactlyTheNthCall) {
  auto sockets = make_socketpair();
  send_all(sockets.a.get(), "abcdef");
  std::array<std::byte, 2> buffer{};
  const unsigned long before = splice_io::calls_made();
  splice_io::inject_fault(2, ECONNRESET);
  EXPECT_EQ(splice_io::read_some(sockets.b.get(), buffer).status, Status::progress);
  const auto failed = splice_io::read_some(sockets.b.get(), buffer);
  EXPECT_EQ(failed.status, Status::error);
  EXPECT_EQ(failed.error, ECONNRESET);
  const auto after = splice_io::read_some(sockets.b.get(), buffer);
  EXPECT_EQ(after.status, Status::progress);
  EXPECT_EQ(after.bytes, 2u);  // the failed call consumed nothing
  EXPECT_EQ(splice_io::calls_made() - before, 3u);
}

TEST_F(SpliceIoTest, InjectedEinvalOnSpliceIsUnsupportedButOnReadIsError) {
  std::array<std::byte, 2> buffer{};
  splice_io::inject_fault(1, EINVAL);
  EXPECT_EQ(splice_io::splice_move(-1, -1, 1).status, Status::unsupported);
  splice_io::inject_fault(1, EINVAL);
  EXPECT_EQ(splice_io::read_some(-1, buffer).status, Status::error);
}

}  // namespace
}  // namespace spliceproxy
