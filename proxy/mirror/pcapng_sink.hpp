// PcapngSink: turns a mirrored session into a synthesized TCP flow in pcapng (handshake, data
// segments with per-direction sequence and acknowledgement numbers, FIN or RST), and the two
// outputs it writes to: a file rotated by size, and a live stream to a TCP address.
//
// Lost bytes advance the sequence number of their direction without a segment, so a reader
// sees a jump ("previous segment not captured") exactly where the mirror fell behind. An
// output writes whole blocks or none: a failed write is rolled back (file) or ends the
// connection (stream); the block's payload is then discarded from the feed pipe and counted.
#pragma once

#include <chrono>
#include <span>
#include <string>
#include <unordered_map>

#include "config/config.hpp"
#include "proxy/mirror/mirror_sink.hpp"
#include "proxy/mirror/pcapng_format.hpp"

namespace spliceproxy {

class PcapngSink : public MirrorSink {
 public:
  using MirrorSink::MirrorSink;

 protected:
  // One block: `head`, then `payload` bytes moved from `pipe_fd`, then `tail`. Returns the
  // payload bytes taken from the pipe; whether the block made it is `written`.
  struct BlockResult {
    bool written = false;
    std::size_t consumed = 0;
  };
  virtual BlockResult put_block(std::span<const std::byte> head, int pipe_fd, std::size_t payload,
                                std::span<const std::byte> tail) = 0;

  void handle(const MirrorRecord& record, int pipe_fd) override;

 private:
  struct Flow {
    FlowEndpoint client;
    FlowEndpoint backend;
    std::array<std::uint32_t, 2> next_seq{};  // per direction
  };

  void data(Flow& flow, const MirrorRecord& record, int pipe_fd);
  void end(Flow& flow, const MirrorRecord& record);
  // Writes one segment of `flow` in `direction`; its payload (if any) comes from `pipe_fd`.
  void segment(Flow& flow, unsigned direction, std::uint8_t flags, std::size_t payload, int pipe_fd,
               std::int64_t time_us);

  std::unordered_map<std::uint64_t, Flow> flows_;
};

// `pcapng_file`: `path`, rotated to path.1 ... path.KEEP past `max_size`; files are 0640.
class PcapngFileSink final : public PcapngSink {
 public:
  PcapngFileSink(const config::Mirror& mirror, unsigned feeds, std::size_t pipe_size);
  ~PcapngFileSink() override;

 private:
  void open() override;
  BlockResult put_block(std::span<const std::byte> head, int pipe_fd, std::size_t payload,
                        std::span<const std::byte> tail) override;
  void rotate();

  config::Mirror config_;
  UniqueFd file_;
  loff_t offset_ = 0;
};

// `pcapng_tcp`: the capture as a live stream to `address`; every connection starts a new
// section. Reconnects with exponential back-off; what arrives while disconnected is dropped.
class PcapngTcpSink final : public PcapngSink {
 public:
  PcapngTcpSink(const config::Mirror& mirror, unsigned feeds, std::size_t pipe_size);
  ~PcapngTcpSink() override;

 private:
  void tick() override;
  BlockResult put_block(std::span<const std::byte> head, int pipe_fd, std::size_t payload,
                        std::span<const std::byte> tail) override;
  void disconnect(int error);

  config::Mirror config_;
  UniqueFd socket_;
  std::chrono::milliseconds backoff_{0};
  std::chrono::steady_clock::time_point next_attempt_{};
  std::chrono::steady_clock::time_point connected_at_{};
};

}  // namespace spliceproxy
