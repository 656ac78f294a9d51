// Session: one accepted client, its backend connection and the two Channels between them.
//
//                 ┌──────────── to_backend_ (client_to_backend) ───────────┐
//   client_ ──────┤                                                        ├────── backend_
//                 └──────────── to_client_  (backend_to_client) ───────────┘
//
//   connecting ──connected──▶ forwarding ──both channels done──▶ closed (completed)
//        │                        │
//        └─ refused / timeout ─▶ closed        a channel failed / idle timeout ─▶ closed
//
// One timer per session, re-armed to the nearest deadline (connect, then idle). A failed
// channel aborts both sockets with RST, so a reset on one side reaches the other as a reset.
// The Worker's registry owns the session; pending handlers hold it alive too; stop() is
// idempotent.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <memory>
#include <optional>

#include "config/config.hpp"
#include "proxy/mirror_tap.hpp"
#include "proxy/net.hpp"
#include "proxy/splice_channel.hpp"
#include "proxy/stats.hpp"

namespace spliceproxy {

class Worker;

class Session : public std::enable_shared_from_this<Session>, private ChannelObserver {
 public:
  Session(Worker& worker, config::ConfigPtr config, const config::Listener& listener, Socket client,
          std::uint64_t id);

  // Connects to `server` within the connect timeout, then forwards both directions.
  void start(const net::Endpoint& server);

  // Closes both sockets (with RST unless the session completed), cancels the timer and
  // leaves the worker's registry. Safe to call more than once.
  void stop(CloseReason reason);

  std::uint64_t id() const { return id_; }

 private:
  void on_connect(const boost::system::error_code& ec);
  void arm_timer(Clock::time_point deadline);
  void on_timer(const boost::system::error_code& ec);
  void on_channel_end(SpliceChannel& channel) override;
  CloseReason reason_for_failure(const SpliceChannel& channel) const;
  ChannelMode channel_mode() const;
  void open_mirror();

  Worker& worker_;
  config::ConfigPtr config_;  // the snapshot this session started with
  const config::Listener& listener_;
  Socket client_;
  Socket backend_;
  boost::asio::steady_timer timer_;
  std::uint64_t id_;
  std::string backend_name_;
  std::unique_ptr<MirrorTap> mirror_;  // chosen at accept; null when not mirrored
  std::optional<SpliceChannel> to_backend_;
  std::optional<SpliceChannel> to_client_;
  Clock::time_point started_ = Clock::now();
  Clock::time_point connected_at_{};
  bool connected_ = false;
  bool stopped_ = false;
  int error_ = 0;  // errno of the failure that ended the session, for the log
};

}  // namespace spliceproxy
