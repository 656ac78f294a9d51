// FlowTable: flows, directions, gaps and retransmissions from hand-made segments.
#include "tools/capture/flow_table.hpp"

#include <gtest/gtest.h>

#include <string>

namespace spliceproxy::capture {
namespace {

constexpr const char* kClient = "127.0.0.1:40000";
constexpr const char* kBackend = "127.0.0.1:80";

// A segment from `src` to `dst` carrying `text` (whose first `held` bytes the file holds,
// all of them when held is npos).
Segment segment(const char* src, const char* dst, std::uint32_t seq, std::uint8_t flags,
                const std::string& text = "", std::size_t held = std::string::npos) {
  static std::string storage;  // each segment is added before the next is made
  storage = text;
  Segment s;
  s.src = src;
  s.dst = dst;
  s.seq = seq;
  s.flags = flags;
  s.wire_size = text.size();
  s.payload = {reinterpret_cast<const std::uint8_t*>(storage.data()),
               std::min(held, storage.size())};
  return s;
}

void handshake(FlowTable& table) {
  table.add(segment(kClient, kBackend, 1000, tcp_flag::syn));
  table.add(segment(kBackend, kClient, 5000, tcp_flag::syn | tcp_flag::ack));
  table.add(segment(kClient, kBackend, 1001, tcp_flag::ack));
}

TEST(FlowTableTest, SequenceJumpIsAGapAndContiguousStopsThere) {
  FlowTable table;
  handshake(table);
  EXPECT_TRUE(table.add(segment(kClient, kBackend, 1001, tcp_flag::ack, "abc")).contiguous);
  EXPECT_TRUE(table.add(segment(kClient, kBackend, 1004, tcp_flag::ack, "de")).contiguous);
  const auto placed = table.add(segment(kClient, kBackend, 1010, tcp_flag::ack, "xyz"));
  EXPECT_FALSE(placed.contiguous);
  EXPECT_EQ(placed.payload.size(), 3u);
  ASSERT_EQ(table.flows().size(), 1u);
  const Flow& flow = table.flows()[0];
  EXPECT_EQ(flow.client, kClient);
  EXPECT_TRUE(flow.start_captured());
  EXPECT_EQ(flow.dir[kClientToBackend].bytes, 8u);
  EXPECT_EQ(flow.dir[kClientToBackend].gaps, 1u);
  EXPECT_EQ(flow.dir[kClientToBackend].contiguous, 5u);
  EXPECT_TRUE(flow.dir[kBackendToClient].complete());
}

TEST(FlowTableTest, FinPastTheBytesSeenIsAGapAtTheTail) {
  FlowTable table;
  handshake(table);
  table.add(segment(kClient, kBackend, 1001, tcp_flag::ack, "abc"));
  table.add(segment(kClient, kBackend, 1010, tcp_flag::fin | tcp_flag::ack));
  table.add(segment(kBackend, kClient, 5001, tcp_flag::fin | tcp_flag::ack));
  const Flow& flow = table.flows()[0];
  EXPECT_EQ(flow.dir[kClientToBackend].gaps, 1u);
  EXPECT_EQ(flow.dir[kClientToBackend].contiguous, 3u);
  EXPECT_EQ(flow.dir[kBackendToClient].gaps, 0u) << "a FIN right after the last byte is no gap";
}

TEST(FlowTableTest, RetransmissionAddsOnlyItsNewBytes) {
  FlowTable table;
  handshake(table);
  table.add(segment(kBackend, kClient, 5001, tcp_flag::ack, "hello"));
  EXPECT_TRUE(table.add(segment(kBackend, kClient, 5001, tcp_flag::ack, "hello")).payload.empty());
  const auto placed = table.add(segment(kBackend, kClient, 5004, tcp_flag::ack, "lo world"));
  EXPECT_EQ(std::string(placed.payload.begin(), placed.payload.end()), " world");
  EXPECT_EQ(table.flows()[0].dir[kBackendToClient].contiguous, 11u);
  EXPECT_EQ(table.flows()[0].dir[kBackendToClient].gaps, 0u);
}

TEST(FlowTableTest, PacketHoldingLessThanItCarriedLeavesAGap) {
  FlowTable table;
  handshake(table);
  table.add(segment(kClient, kBackend, 1001, tcp_flag::ack, "abcdef", 2));
  table.add(segment(kClient, kBackend, 1007, tcp_flag::ack, "gh"));
  const FlowDirection& d = table.flows()[0].dir[kClientToBackend];
  EXPECT_EQ(d.contiguous, 2u);
  EXPECT_EQ(d.gaps, 1u);
  EXPECT_EQ(d.bytes, 4u);
}

TEST(FlowTableTest, FlowWithoutSynHasNoCapturedStart) {
  FlowTable table;
  const auto placed = table.add(segment(kClient, kBackend, 77, tcp_flag::ack, "mid"));
  EXPECT_FALSE(placed.contiguous);
  const Flow& flow = table.flows()[0];
  EXPECT_FALSE(flow.start_captured());
  EXPECT_EQ(flow.client, kClient) << "the sender of the first packet";
  EXPECT_EQ(flow.dir[kClientToBackend].contiguous, 0u);
}

TEST(FlowTableTest, SynAckSeenFirstMakesItsReceiverTheClient) {
  FlowTable table;
  table.add(segment(kBackend, kClient, 5000, tcp_flag::syn | tcp_flag::ack));
  EXPECT_EQ(table.flows()[0].client, kClient);
  EXPECT_EQ(table.flows()[0].backend, kBackend);
}

TEST(FlowTableTest, NewSynOnAClosedAddressPairStartsANewFlow) {
  FlowTable table;
  handshake(table);
  table.add(segment(kClient, kBackend, 1001, tcp_flag::fin | tcp_flag::ack));
  handshake(table);
  const auto placed = table.add(segment(kClient, kBackend, 1001, tcp_flag::ack, "again"));
  ASSERT_EQ(table.flows().size(), 2u);
  EXPECT_EQ(placed.flow, 1u);
  EXPECT_TRUE(placed.contiguous);
  EXPECT_TRUE(table.flows()[0].fin);
  EXPECT_FALSE(table.flows()[1].fin);
}

}  // namespace
}  // namespace spliceproxy::capture
