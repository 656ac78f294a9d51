// DnsResolver: c-ares queries, a poll() loop over the channel's sockets, and the reading of
// A, AAAA and SRV answers with c-ares' own parsers; see dns_resolver.hpp.
#include "proxy/upstream/dns_resolver.hpp"

#include <arpa/nameser.h>
#include <poll.h>

#include <algorithm>
#include <mutex>
#include <stdexcept>

#include <fmt/format.h>

namespace spliceproxy {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr int kTries = 2;

void library_init() {
  static std::once_flag once;
  std::call_once(once, [] { ares_library_init(ARES_LIB_INIT_ALL); });
}

}  // namespace

std::string_view to_string(DnsStatus status) {
  switch (status) {
    case DnsStatus::ok:
      return "ok";
    case DnsStatus::nxdomain:
      return "nxdomain";
    case DnsStatus::empty:
      return "empty";
    case DnsStatus::failed:
      return "failed";
    case DnsStatus::bad_answer:
      return "bad_answer";
  }
  return "unknown";
}

void DnsResolver::Query::on_answer(void* arg, int status, int /*timeouts*/, unsigned char* buffer,
                                   int size) {
  auto* query = static_cast<Query*>(arg);
  query->done = true;
  query->status = status;
  if (status == ARES_SUCCESS && buffer && size > 0) query->answer.assign(buffer, buffer + size);
}

DnsResolver::DnsResolver(const std::vector<config::Address>& nameservers, config::Duration timeout)
    : timeout_(timeout) {
  library_init();
  ares_options options{};
  options.timeout = static_cast<int>(std::max<long long>(timeout.count() / kTries, 1));
  options.tries = kTries;
  const int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
  if (const int status = ares_init_options(&channel_, &options, mask); status != ARES_SUCCESS)
    throw std::runtime_error(fmt::format("c-ares: cannot start: {}", ares_strerror(status)));
  if (nameservers.empty()) return;  // /etc/resolv.conf's
  std::string csv;
  for (const config::Address& server : nameservers) {
    if (!csv.empty()) csv += ',';
    csv += server.to_string();
  }
  if (const int status = ares_set_servers_ports_csv(channel_, csv.c_str());
      status != ARES_SUCCESS) {
    ares_destroy(channel_);
    throw std::runtime_error(
        fmt::format("c-ares: name servers {}: {}", csv, ares_strerror(status)));
  }
}

DnsResolver::~DnsResolver() {
  ares_destroy(channel_);
}

void DnsResolver::run_queries(const std::string& name, std::vector<Query*> queries) {
  for (Query* query : queries)
    ares_query(channel_, name.c_str(), ns_c_in, query->type, &Query::on_answer, query);
  const auto deadline = SteadyClock::now() + timeout_;
  while (std::any_of(queries.begin(), queries.end(), [](Query* q) { return !q->done; })) {
    if (SteadyClock::now() >= deadline) {
      ares_cancel(channel_);  // the callbacks run now, with ARES_ECANCELLED
      break;
    }
    wait(deadline);
  }
}

// One round: polls the channel's sockets until one is ready or the next c-ares timeout (at
// most the deadline), then lets c-ares process it.
void DnsResolver::wait(SteadyClock::time_point deadline) {
  ares_socket_t sockets[ARES_GETSOCK_MAXNUM];
  const int mask = ares_getsock(channel_, sockets, ARES_GETSOCK_MAXNUM);
  pollfd fds[ARES_GETSOCK_MAXNUM];
  nfds_t count = 0;
  for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
    const short events = static_cast<short>((ARES_GETSOCK_READABLE(mask, i) ? POLLIN : 0) |
                                            (ARES_GETSOCK_WRITABLE(mask, i) ? POLLOUT : 0));
    if (events != 0) fds[count++] = pollfd{sockets[i], events, 0};
  }
  const auto left = std::chrono::duration_cast<std::chrono::microseconds>(
      std::max(deadline - SteadyClock::now(), SteadyClock::duration::zero()));
  timeval max{static_cast<time_t>(left.count() / 1'000'000),
              static_cast<suseconds_t>(left.count() % 1'000'000)};
  timeval next{};
  const timeval* wait_for = ares_timeout(channel_, &max, &next);
  const int ms = static_cast<int>(wait_for->tv_sec * 1000 + (wait_for->tv_usec + 999) / 1000);
  const int ready = ::poll(fds, count, ms);
  if (ready <= 0) return ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  for (nfds_t i = 0; i < count; ++i) {
    const bool in = fds[i].revents & (POLLIN | POLLERR | POLLHUP);
    const bool out = fds[i].revents & (POLLOUT | POLLERR | POLLHUP);
    if (in || out)
      ares_process_fd(channel_, in ? fds[i].fd : ARES_SOCKET_BAD,
                      out ? fds[i].fd : ARES_SOCKET_BAD);
  }
}

}  // namespace spliceproxy
