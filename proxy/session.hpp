// Session: one accepted client, its backend connection and the two Channels between them.
//
//                 ┌──────────── to_backend_ (client_to_backend) ───────────┐
//   client_ ──────┤                                                        ├────── backend_
//                 └──────────── to_client_  (backend_to_client) ───────────┘
//
//   connecting ──connected──▶ forwarding ──both channels done──▶ closed (completed)
//     │    ▲                      │
//     │    └ refused / timeout,   └─ a channel failed / idle or half-closed timeout ─▶ closed
//     │      attempts left: next server (session_connect.cpp)
//     └─ refused / timeout, no attempt left ─▶ closed
//   queued (every server full, session_queue.cpp) ──slot──▶ connecting
//     └─ timeouts.queue ─▶ closed (queue_timeout)
//   forwarding ── timeouts.max_lifetime (+ jitter) ─▶ closed (max_lifetime)
//
// With backends[].proxy_protocol, "connected" first writes the PROXY header
// (session_proxy_protocol.cpp); one not out by the attempt's connect deadline closes the session.
//
// One timer per session (in the worker's TimerQueue), re-armed to the nearest deadline (connect
// attempt, then idle, or half-closed once one direction ended). A failed channel aborts both
// sockets with RST, so a reset on one side reaches the other as a reset.
// The session owns both descriptors; neither enters Asio's reactor. The backend socket is
// opened non-blocking and connected without blocking; the worker's EdgePoller says when the
// connect is done (writable), and SO_ERROR how it went. Each socket joins the poller once and
// stays in it until the session ends: the connect's wait, the PROXY header's and the channels'
// are all waits in it.
// The Worker's registry owns the session; pending handlers hold it alive too; stop() is
// idempotent.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "proxy/base/net.hpp"
#include "proxy/base/stats.hpp"
#include "proxy/datapath/splice_channel.hpp"
#include "proxy/datapath/timer_queue.hpp"
#include "proxy/datapath/unique_fd.hpp"
#include "proxy/frontend/admission.hpp"
#include "proxy/mirror/mirror_tap.hpp"
#include "proxy/ops/session_record.hpp"
#include "proxy/upstream/upstream_pool.hpp"

namespace spliceproxy {

class Worker;

// How a listener with tls_routes routed a session: the hello's server name (nullopt when it had
// none, or was no TLS) and the rule's name ("default", "not_tls").
struct SessionTls {
  std::optional<std::string> sni;
  std::string route;
};

// What a Listener hands a Session: the pool to connect through, the client's key for
// source_hash, the listener's count of this session (released when the session stops), and
// who the client is (from its socket, or from its PROXY protocol header).
struct SessionRoute {
  std::shared_ptr<UpstreamPool> pool;
  std::uint64_t source_key = 0;
  AdmissionTicket ticket;
  net::ClientAddresses client;
  Admission::SharedBandwidth shared_bandwidth = {};  // the listener's bandwidth caps, if any
  SessionTls tls = {};
};

class Session : public std::enable_shared_from_this<Session>,
                private ChannelObserver,
                private EdgePoller::Waiter {
 public:
  // `client`: the accepted, non-blocking client socket.
  Session(Worker& worker, config::ConfigPtr config, const config::Listener& listener,
          UniqueFd client, std::uint64_t id);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Connects to a server of the route's pool, each attempt within the connect timeout and
  // on another server, up to the backend's max_connect_attempts; then forwards both ways.
  void start(SessionRoute route);

  // Closes both sockets (with RST unless the session completed), cancels the timer and
  // leaves the worker's registry. Safe to call more than once.
  void stop(CloseReason reason);

  std::uint64_t id() const { return id_; }
  // The client's address for logs and captures: its PROXY protocol header's source when the
  // listener reads one, the socket's peer otherwise.
  const net::Endpoint& client_address() const { return route_.client.peer; }

 private:
  void connect_next();
  void connect_to(ServerRef server);
  // session_queue.cpp
  FirstPick pick_first();
  void wait_in_queue();
  void on_queue_slot(ServerRef server);
  void leave_queue();
  void on_queue_timeout();
  Clock::time_point lifetime_deadline() const;
  // Opens the backend socket and connects it: 0 when connected, EINPROGRESS while the
  // connect goes on, else the errno of the failure.
  int open_backend();
  // Waits in the poller for the connect in progress to finish (on_ready).
  void wait_for_connect();
  void on_connect(int error);
  // The poller: the connect is done, or the PROXY header may go on.
  void on_ready(bool writable) override;
  void on_attempt_failed(int error, CloseReason reason);
  void wait_for_descriptor();
  void release_server();
  bool half_closed() const;
  Clock::time_point idle_deadline() const;
  void arm_timer(Clock::time_point deadline);
  void on_timer();
  void on_channel_end(SpliceChannel& channel) override;
  CloseReason reason_for_failure(const SpliceChannel& channel) const;
  ChannelMode channel_mode() const;
  void open_mirror();
  // What the access log and the byte totals get when the session ends (session_report.cpp).
  SessionRecord record(CloseReason reason) const;
  void start_channels();
  // The channel's ChannelThrottle under the listener's bandwidth caps; null: uncapped.
  std::unique_ptr<ChannelThrottle> throttle_for(Direction direction);
  void forget_watches();
  // session_proxy_protocol.cpp: the backend's PROXY protocol header, before any payload.
  void send_proxy_header();
  void write_proxy_header();

  Worker& worker_;
  config::ConfigPtr config_;  // the snapshot this session started with
  const config::Listener& listener_;
  UniqueFd client_;
  UniqueFd backend_;
  Timer timer_;
  std::uint64_t id_;
  std::string backend_name_;
  SessionRoute route_;
  std::vector<ServerRef> tried_;  // servers of route_.pool tried, in order
  ServerRef server_;              // the server counted as in use by this session
  bool queued_ = false;           // waiting in the backend's queue (the timer runs its timeout)
  Clock::time_point queued_at_{};
  bool waiting_for_descriptor_ = false;     // the timer runs a descriptor pause, not a deadline
  std::unique_ptr<MirrorTap> mirror_;       // chosen at accept; null when not mirrored
  std::vector<std::uint8_t> proxy_header_;  // PROXY protocol header left to write to backend_
  ChannelWatches socket_watches_;  // {client, backend} in the worker's poller (0: not in it)
  std::optional<SpliceChannel> to_backend_;
  std::optional<SpliceChannel> to_client_;
  Clock::time_point started_ = Clock::now();
  Clock::time_point connected_at_{};
  Clock::time_point lifetime_deadline_ = Clock::time_point::max();
  bool connected_ = false;
  bool stopped_ = false;
  int error_ = 0;                        // errno of the failure that ended the session, for the log
  std::optional<Direction> first_done_;  // the direction that reached EOF first
};

}  // namespace spliceproxy
