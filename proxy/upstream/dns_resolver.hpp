// DnsResolver: DNS lookups through c-ares, for service discovery. One c-ares channel, used by
// one thread at a time (the discovery thread, or the control thread at start and reload): a
// lookup sends its queries and waits on the channel's sockets with poll() until every answer
// is in or the lookup's deadline passes. It never runs on a worker's event loop.
//
//   lookup_addresses(host, port) ── A + AAAA ──▶ one record per address, TTL = the smallest
//   lookup_srv(name) ── SRV ──▶ records of the lowest priority ── A + AAAA of each target ──▶
//                               one record per target address, with the SRV port and weight
//
// Names are looked up as written (no search list). Answers are capped at kMaxRecords: a bigger
// one is refused as a bad answer rather than cut at an arbitrary record.
#pragma once

#include <ares.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "proxy/base/net.hpp"

namespace spliceproxy {

// What a lookup came to. `failed`: no usable answer (timeout, SERVFAIL, refused, connection
// refused); `nxdomain`: the name does not exist; `empty`: it has no record of the type asked;
// `bad_answer`: a reply that does not parse, or too many records.
enum class DnsStatus { ok, nxdomain, empty, failed, bad_answer };
std::string_view to_string(DnsStatus status);

struct DnsRecord {
  net::Endpoint endpoint;
  unsigned weight = 0;  // SRV weight; 0 for A/AAAA
};

struct DnsAnswer {
  DnsStatus status = DnsStatus::failed;
  std::string error;  // what failed, for the log (empty when ok)
  std::vector<DnsRecord> records;
  std::chrono::seconds ttl{0};  // the smallest TTL of the address records
};

class DnsResolver {
 public:
  static constexpr std::size_t kMaxRecords = 256;

  // A channel asking `nameservers` (IP and port each; empty: /etc/resolv.conf's), each lookup
  // within `timeout`. Throws std::runtime_error when c-ares cannot start.
  DnsResolver(const std::vector<config::Address>& nameservers, config::Duration timeout);
  ~DnsResolver();
  DnsResolver(const DnsResolver&) = delete;
  DnsResolver& operator=(const DnsResolver&) = delete;

  // The A and AAAA addresses of `host`, each with `port`.
  DnsAnswer lookup_addresses(const std::string& host, std::uint16_t port);
  // The SRV records of `name` of the lowest priority, each target looked up as above.
  DnsAnswer lookup_srv(const std::string& name);

 private:
  // One query of one type, answered (or given up) by c-ares' callback.
  struct Query {
    explicit Query(int query_type) : type(query_type) {}
    int type = 0;
    bool done = false;
    int status = ARES_ETIMEOUT;
    std::vector<unsigned char> answer;  // the raw reply when status is ARES_SUCCESS

    static void on_answer(void* arg, int status, int timeouts, unsigned char* buffer, int size);
  };
  // Sends one query per type and waits for them all (or the deadline).
  void run_queries(const std::string& name, std::vector<Query*> queries);
  void wait(std::chrono::steady_clock::time_point deadline);

  ares_channel channel_ = nullptr;
  config::Duration timeout_;
};

}  // namespace spliceproxy
