// CaptureFile and read_captures against the proxy's own pcapng writer (pcapng_format): what the
// mirror writes, libpcap reads back as the same flows, over IPv4 and IPv6, and a rotated
// capture (a second file without the handshake) reads as one flow whichever file comes first.
#include "tools/capture/capture_file.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "proxy/mirror/pcapng_format.hpp"
#include "tools/capture/capture_set.hpp"

namespace spliceproxy::capture {
namespace {

FlowEndpoint v4(std::uint8_t last, std::uint16_t port) {
  FlowEndpoint e;
  e.ip = {127, 0, 0, last};
  e.port = port;
  return e;
}

// Writes pcapng files the way PcapngSink does, payload bytes included.
class CaptureWriter {
 public:
  explicit CaptureWriter(const std::string& path) : out_(path, std::ios::binary) {
    const auto header = pcapng::section_header();
    out_.write(reinterpret_cast<const char*>(header.data()), header.size());
  }
  void segment(const FlowEndpoint& src, const FlowEndpoint& dst, std::uint32_t seq,
               std::uint8_t flags, const std::string& payload, std::int64_t time_us) {
    pcapng::Segment s{&src, &dst, seq, 0, flags, payload.size(), time_us};
    std::array<std::byte, pcapng::kMaxHead> head;
    std::array<std::byte, pcapng::kMaxTail> tail;
    out_.write(reinterpret_cast<const char*>(head.data()), pcapng::packet_head(s, head));
    out_ << payload;
    out_.write(reinterpret_cast<const char*>(tail.data()), pcapng::packet_tail(s, tail));
  }

 private:
  std::ofstream out_;
};

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "capture-file-test-" + std::to_string(::getpid()) + "-" + name;
}

TEST(CaptureFileTest, ReadsWhatTheMirrorWritesOverIpv4AndIpv6) {
  FlowEndpoint client = v4(1, 40000), backend = v4(2, 80);
  FlowEndpoint client6;
  client6.ipv6 = true;
  client6.ip[15] = 1;
  client6.port = 40001;
  FlowEndpoint backend6 = v4(2, 81);
  pcapng::unify_families(client6, backend6);
  const std::string path = temp_path("families.pcapng");
  {
    CaptureWriter w(path);
    w.segment(client, backend, 10, pcapng::tcp_flag::syn, "", 1'000'000);
    w.segment(client, backend, 11, pcapng::tcp_flag::ack, "ping", 1'000'100);
    w.segment(client6, backend6, 20, pcapng::tcp_flag::syn, "", 1'000'200);
    w.segment(backend6, client6, 30, pcapng::tcp_flag::syn | pcapng::tcp_flag::ack, "", 1'000'300);
    w.segment(backend6, client6, 31, pcapng::tcp_flag::ack, "pong!", 1'000'400);
  }
  FlowTable table;
  const CaptureStats stats = read_captures({path}, table);
  EXPECT_EQ(stats.packets, 5u);
  EXPECT_EQ(stats.skipped_packets, 0u);
  ASSERT_EQ(table.flows().size(), 2u);
  EXPECT_EQ(table.flows()[0].client, "127.0.0.1:40000");
  EXPECT_EQ(table.flows()[0].backend, "127.0.0.2:80");
  EXPECT_EQ(table.flows()[0].dir[kClientToBackend].contiguous, 4u);
  EXPECT_EQ(table.flows()[0].first_us, 1'000'000);
  EXPECT_EQ(table.flows()[1].client, "[::1]:40001");
  EXPECT_EQ(table.flows()[1].backend, "[::ffff:127.0.0.2]:81");
  EXPECT_EQ(table.flows()[1].dir[kBackendToClient].contiguous, 5u);
  std::remove(path.c_str());
}

TEST(CaptureFileTest, RotatedFilesReadAsOneFlowInAnyOrder) {
  const FlowEndpoint client = v4(1, 40000), backend = v4(2, 80);
  const std::string older = temp_path("cap.pcapng.1"), newer = temp_path("cap.pcapng");
  {
    CaptureWriter w(older);
    w.segment(client, backend, 10, pcapng::tcp_flag::syn, "", 2'000'000);
    w.segment(client, backend, 11, pcapng::tcp_flag::ack, "first ", 2'000'001);
  }
  {
    CaptureWriter w(newer);
    w.segment(client, backend, 17, pcapng::tcp_flag::ack, "second", 2'000'002);
  }
  FlowTable table;
  EXPECT_EQ(read_captures({newer, older}, table).files, 2u);
  ASSERT_EQ(table.flows().size(), 1u);
  EXPECT_TRUE(table.flows()[0].dir[kClientToBackend].complete());
  EXPECT_EQ(table.flows()[0].dir[kClientToBackend].contiguous, 12u);
  std::remove(older.c_str());
  std::remove(newer.c_str());
}

TEST(CaptureFileTest, NoCaptureIsAnErrorNamingTheFile) {
  const std::string path = temp_path("text.pcapng");
  std::ofstream(path) << "hello, not a capture\n";
  try {
    CaptureFile file(path);
    ADD_FAILURE() << "opened a text file";
  } catch (const CaptureError& error) {
    EXPECT_NE(std::string(error.what()).find(path + ": "), std::string::npos) << error.what();
  }
  std::remove(path.c_str());
}

}  // namespace
}  // namespace spliceproxy::capture
