// Listener: one configured listener's acceptor on one worker. Accepts clients, reads their
// PROXY protocol header when the listener asks for one (ProxyHeaderReader), checks them
// against the listener's Admission (allow/deny, per-source limit, max_connections, all global
// across workers) and starts a Session on the backend's pool. Nothing on the accept side stops
// the proxy: accept errors are logged at most once per second and retried, after a pause when
// the process is out of descriptors, so EMFILE never spins. At max_connections it stops
// accepting (clients wait in the backlog) until a session ends on any worker. Over a
// max_connection_rate with over_limit wait, it stops accepting until a token is due (a timer).
//
// The listening socket is in the worker's poller: on readiness, accept4 (non-blocking,
// close-on-exec: no other call) takes clients until EAGAIN, at most kAcceptBatch per round so
// that one busy listener leaves the worker's other sockets their turn (the rest are taken in the
// next round, which does not block).
//
//   accept ──(PROXY header read, if asked, ──▶ Admission::admit ──admitted──▶ Session
//             while holding a place)                   │ full (another worker took the last
//                                                      ▼ place since this one looked)
//              parked_: these clients wait, accepted but not served, until room is made
//
// Threads: created, used and closed on its worker's thread only (the control thread posts).
// A closed Listener may be destroyed at once: the readers' clients it closed call nothing back,
// a wake-up from another worker holds only a weak reference, and a posted one a strong one.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "proxy/base/net.hpp"
#include "proxy/datapath/splice_channel.hpp"
#include "proxy/datapath/unique_fd.hpp"
#include "proxy/frontend/admission.hpp"
#include "proxy/frontend/client_hello_reader.hpp"
#include "proxy/frontend/proxy_header_reader.hpp"
#include "proxy/ops/session_record.hpp"
#include "proxy/session.hpp"

namespace spliceproxy {

class Worker;
class UpstreamPool;

// What a listener's acceptors route new clients with, for one config generation. Immutable;
// a reload hands the acceptors a new one. Sessions keep the config snapshot and pool they
// started with.
struct ListenerRoute {
  config::ConfigPtr config;
  const config::Listener* listener = nullptr;  // points into *config
  std::shared_ptr<UpstreamPool> pool;
  std::shared_ptr<Admission> admission;  // the same object across reloads of one listener
  // With tls_routes: the pool of each rule, in order, and of not_tls (null: close them).
  std::vector<std::shared_ptr<UpstreamPool>> tls_pools = {};
  std::shared_ptr<UpstreamPool> not_tls_pool = {};
};

class Listener : public std::enable_shared_from_this<Listener>, private EdgePoller::Waiter {
 public:
  // Clients accepted per round at most (HAProxy's tune.maxaccept has the same default).
  static constexpr unsigned kAcceptBatch = 64;

  // `fd`: a bound, listening socket (bind_listen_sockets) this acceptor takes over.
  Listener(Worker& worker, std::shared_ptr<const ListenerRoute> route, UniqueFd fd);
  ~Listener();

  // Starts accepting: the first client is taken even at max_connections (and parked).
  void start() {
    if (socket_) accept_some();
  }
  // Closes the listening descriptor (not the Unix socket file: see remove_socket_file) and
  // drops a parked client; live sessions are not touched. Idempotent.
  void close();
  // Routes the next clients with `route` (a reload that kept this listener).
  void set_route(std::shared_ptr<const ListenerRoute> route);

  const std::string& name() const { return route_->listener->name; }

 private:
  void on_ready(bool writable) override;
  // Accepts up to kAcceptBatch clients, while may_accept() allows.
  void accept_some();
  // Starts on a client just accepted; false when it was parked (see admit).
  bool on_accept(UniqueFd client, const net::Endpoint& peer);
  void log_accept_error(int error);
  // Hands a client to a reader (PROXY header, TLS hello): on Asio's reactor from here on.
  Socket to_asio(UniqueFd client);
  // Takes a client back from a reader, out of Asio's reactor.
  UniqueFd from_asio(Socket& client);
  // Admits `client` (from `addresses.peer`: the socket's, or its PROXY header's) or closes it;
  // false when the listener is full and the client was parked instead. `place`: the client's
  // reserved place in max_connections, if any (see Admission::reserve). `accepted`: when it
  // was accepted, for the access log line of a client refused here.
  bool admit(UniqueFd client, const net::ClientAddresses& addresses, Clock::time_point accepted,
             AdmissionTicket place = {});
  // Starts a Session on `pool` for an admitted client (`tls`: how its hello routed it).
  void start_session(UniqueFd client, const net::ClientAddresses& addresses, AdmissionTicket ticket,
                     std::shared_ptr<UpstreamPool> pool, SessionTls tls = {});
  // listener_tls.cpp: routes a client by its hello (or its lack of TLS), or closes it.
  void on_client_hello(UniqueFd client, const net::ClientAddresses& addresses,
                       AdmissionTicket ticket, Clock::time_point accepted,
                       const tls::Result& hello);
  void make_hello_reader(const config::Listener& listener);
  // Counts a client refused by `verdict`; returns its close reason.
  CloseReason refuse(Admission::Verdict verdict);
  void park(UniqueFd client, const net::ClientAddresses& addresses, Clock::time_point accepted);
  // A client closed before a session began (denied, over its source's limit, a bad PROXY
  // header): its access log line, as a session's, with no server and no byte.
  void report_rejected(const net::ClientAddresses& addresses, Clock::time_point accepted,
                       CloseReason reason, ClosedBy closed_by);
  // Waits for room in the Admission; true if it was full (a wake-up is then due).
  bool wait_for_room();
  void on_room();
  // Accepts again at `when` (after an out-of-descriptors error), through continue_accepting.
  void accept_after(Clock::time_point when);
  // Whether the next client may be accepted now: not at max_connections (then waits for
  // room), nor while the worker's accepting is paused for lack of descriptors, nor over the
  // connection rate (then a timer calls continue_accepting again).
  bool may_accept();
  // Accepts clients if may_accept().
  void continue_accepting();

  Worker& worker_;
  std::shared_ptr<const ListenerRoute> route_;
  UniqueFd socket_;  // the listening socket; closed by close()
  int family_ = AF_UNSPEC;
  EdgePoller::Id watch_ = 0;  // socket_ in the worker's poller
  Timer pause_timer_;
  // The header reader, created when the route first asks for PROXY protocol; kept (for the
  // clients it reads) if a reload switches it off.
  std::unique_ptr<ProxyHeaderReader> header_reader_;
  // The hello reader, created when the route first asks for tls_routes; kept likewise.
  std::unique_ptr<ClientHelloReader> hello_reader_;
  struct Parked {
    UniqueFd client;
    net::ClientAddresses addresses;
    Clock::time_point accepted;
  };
  std::deque<Parked> parked_;  // accepted while full, waiting for room, oldest first
  bool waiting_for_room_ = false;
  bool accepting_ = false;  // a wait for readiness, or the timer of a pause, is pending
  Clock::time_point last_error_log_{};
  unsigned long errors_since_log_ = 0;
};

}  // namespace spliceproxy
