// Listener, routing by the TLS ClientHello (listeners[].tls_routes): once a client is admitted,
// its hello is read without being consumed (ClientHelloReader), the first matching rule picks
// the backend (tls_router.hpp), and the Session starts on that backend's pool, forwarding the
// hello first like any other byte. Balancing, retries, PROXY headers and mirrors then work as
// for any session.
#include "proxy/frontend/tls_router.hpp"
#include "proxy/listener.hpp"
#include "proxy/worker.hpp"

namespace spliceproxy {

void Listener::make_hello_reader(const config::Listener& listener) {
  if (hello_reader_) return hello_reader_->configure(listener);
  if (listener.tls_routes.empty()) return;
  // The reader lives as long as this Listener, whose handlers hold it alive.
  hello_reader_ = std::make_unique<ClientHelloReader>(
      worker_.io(), listener, worker_.stats(),
      [this](Socket client, const net::ClientAddresses& addresses, AdmissionTicket place,
             Clock::time_point accepted, const tls::Result& hello) {
        on_client_hello(from_asio(client), addresses, std::move(place), accepted, hello);
      },
      [this](const net::ClientAddresses& addresses, Clock::time_point accepted, CloseReason reason,
             bool by_client) {
        report_rejected(addresses, accepted, reason,
                        by_client ? ClosedBy::client : ClosedBy::proxy);
      });
}

void Listener::on_client_hello(UniqueFd client, const net::ClientAddresses& addresses,
                               AdmissionTicket ticket, Clock::time_point accepted,
                               const tls::Result& hello) {
  const ListenerRoute& route = *route_;
  const auto& rules = route.listener->tls_routes;
  if (hello.status == tls::Result::Status::not_tls) {
    if (route.not_tls_pool && !rules.empty())
      return start_session(std::move(client), addresses, std::move(ticket), route.not_tls_pool,
                           SessionTls{std::nullopt, "not_tls"});
    worker_.stats().count_close(CloseReason::not_tls);
    splice_io::close_with_reset(client);
    ticket.release();
    return report_rejected(addresses, accepted, CloseReason::not_tls, ClosedBy::proxy);
  }
  SessionTls routed;
  if (hello.has_server_name) routed.sni = std::string(hello.server_name.view());
  // A reload may have changed the rules since the hello was read: the current ones decide.
  const auto rule = match_tls_route(rules, hello);
  std::shared_ptr<UpstreamPool> pool = route.pool;
  routed.route = "default";
  if (rule && *rule < route.tls_pools.size()) {
    pool = route.tls_pools[*rule];
    routed.route = rules[*rule].name;
  }
  start_session(std::move(client), addresses, std::move(ticket), std::move(pool),
                std::move(routed));
}

}  // namespace spliceproxy
