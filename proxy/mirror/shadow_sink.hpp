// ShadowSink (`shadow`): per mirrored session, a connection to a shadow server that gets a raw
// copy of the client→backend bytes; what the shadow server answers is read and thrown away.
// A refused connection, a slow reader (no room within kSendWait) or a reset drops bytes for
// that session's copy only; the primary session never learns of it.
#pragma once

#include <chrono>
#include <unordered_map>

#include "config/config.hpp"
#include "proxy/mirror/mirror_sink.hpp"

namespace spliceproxy {

class ShadowSink final : public MirrorSink {
 public:
  ShadowSink(const config::Mirror& mirror, unsigned feeds, std::size_t pipe_size);
  ~ShadowSink() override;
  unsigned directions() const override { return 1u; }  // the client's bytes only

 private:
  struct Connection {
    UniqueFd socket;  // invalid once it failed: the rest of the session is dropped
    std::chrono::steady_clock::time_point closing_since{};
    bool closing = false;
  };

  void handle(const MirrorRecord& record, int pipe_fd) override;
  void tick() override;
  void close() override;
  UniqueFd connect_shadow() const;
  void send(Connection& connection, std::size_t bytes, int pipe_fd);
  // Reads and discards replies; false once the shadow server closed or failed.
  bool drain_replies(int socket);

  config::Mirror config_;
  std::unordered_map<std::uint64_t, Connection> connections_;
};

}  // namespace spliceproxy
