// DnsResolver: A/AAAA and SRV lookups, their answers read with c-ares' parsers and combined
// into one DnsAnswer; see dns_resolver.hpp.
#include <arpa/nameser.h>

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "proxy/upstream/dns_resolver.hpp"

namespace spliceproxy {
namespace {

constexpr unsigned kMaxSrvWeight = 256;  // a server's weight is 1..256

DnsStatus classify_status(int status) {
  switch (status) {
    case ARES_SUCCESS:
      return DnsStatus::ok;
    case ARES_ENOTFOUND:
      return DnsStatus::nxdomain;
    case ARES_ENODATA:
      return DnsStatus::empty;
    case ARES_EBADRESP:
    case ARES_EFORMERR:
    case ARES_EBADNAME:
      return DnsStatus::bad_answer;
    default:  // ETIMEOUT, ESERVFAIL, EREFUSED, ECONNREFUSED, ECANCELLED, ...
      return DnsStatus::failed;
  }
}

DnsAnswer failure(DnsStatus status, std::string error) {
  DnsAnswer answer;
  answer.status = status;
  answer.error = std::move(error);
  return answer;
}

void add_ttl(DnsAnswer& answer, int ttl) {
  const std::chrono::seconds seconds(std::max(ttl, 0));
  answer.ttl = answer.records.empty() ? seconds : std::min(answer.ttl, seconds);
}

// The A (or AAAA) records of one reply appended to `answer`. Returns c-ares' status.
int read_addresses(int type, const std::vector<unsigned char>& reply, std::uint16_t port,
                   DnsAnswer& answer, bool& too_many) {
  constexpr int kRoom = static_cast<int>(DnsResolver::kMaxRecords) + 1;
  int count = kRoom;
  if (type == ns_t_a) {
    auto addresses = std::make_unique<ares_addrttl[]>(kRoom);
    const int status = ares_parse_a_reply(reply.data(), static_cast<int>(reply.size()), nullptr,
                                          addresses.get(), &count);
    if (status != ARES_SUCCESS) return status;
    for (int i = 0; i < count && i < kRoom - 1; ++i) {
      boost::asio::ip::address_v4::bytes_type bytes;
      std::memcpy(bytes.data(), &addresses[i].ipaddr, 4);
      add_ttl(answer, addresses[i].ttl);
      answer.records.push_back(
          {net::Endpoint(boost::asio::ip::tcp::endpoint(boost::asio::ip::address_v4(bytes), port)),
           0});
    }
  } else {
    auto addresses = std::make_unique<ares_addr6ttl[]>(kRoom);
    const int status = ares_parse_aaaa_reply(reply.data(), static_cast<int>(reply.size()), nullptr,
                                             addresses.get(), &count);
    if (status != ARES_SUCCESS) return status;
    for (int i = 0; i < count && i < kRoom - 1; ++i) {
      boost::asio::ip::address_v6::bytes_type bytes;
      std::memcpy(bytes.data(), &addresses[i].ip6addr, 16);
      add_ttl(answer, addresses[i].ttl);
      answer.records.push_back(
          {net::Endpoint(boost::asio::ip::tcp::endpoint(boost::asio::ip::address_v6(bytes), port)),
           0});
    }
  }
  too_many = too_many || count >= kRoom;
  return ARES_SUCCESS;
}

}  // namespace

// Both families are asked. A failure of either fails the lookup (a half answer would drop the
// other family's servers); records of either make it ok; nxdomain only when both say so.
DnsAnswer DnsResolver::lookup_addresses(const std::string& host, std::uint16_t port) {
  Query a(ns_t_a), aaaa(ns_t_aaaa);
  run_queries(host, {&a, &aaaa});
  DnsAnswer answer;
  bool too_many = false;
  unsigned nxdomain = 0;
  for (Query* query : {&a, &aaaa}) {
    int status = query->status;
    if (status == ARES_SUCCESS)
      status = read_addresses(query->type, query->answer, port, answer, too_many);
    const DnsStatus kind = classify_status(status);
    const char* type = query->type == ns_t_a ? "A" : "AAAA";
    if (kind == DnsStatus::failed || kind == DnsStatus::bad_answer)
      return failure(kind, fmt::format("{} {}: {}", type, host, ares_strerror(status)));
    if (kind == DnsStatus::nxdomain) ++nxdomain;
  }
  if (too_many || answer.records.size() > kMaxRecords) {
    return failure(DnsStatus::bad_answer,
                   fmt::format("{}: more than {} addresses", host, kMaxRecords));
  }
  if (!answer.records.empty()) {
    answer.status = DnsStatus::ok;
    return answer;
  }
  return failure(nxdomain == 2 ? DnsStatus::nxdomain : DnsStatus::empty,
                 fmt::format("{}: {}", host, nxdomain == 2 ? "no such name" : "no address"));
}

DnsAnswer DnsResolver::lookup_srv(const std::string& name) {
  Query srv(ns_t_srv);
  run_queries(name, {&srv});
  ares_srv_reply* list = nullptr;
  int status = srv.status;
  if (status == ARES_SUCCESS)
    status = ares_parse_srv_reply(srv.answer.data(), static_cast<int>(srv.answer.size()), &list);
  const std::unique_ptr<ares_srv_reply, decltype(&ares_free_data)> owned(list, &ares_free_data);
  if (status != ARES_SUCCESS)
    return failure(classify_status(status), fmt::format("SRV {}: {}", name, ares_strerror(status)));
  std::vector<const ares_srv_reply*> records;
  for (const ares_srv_reply* r = list; r; r = r->next)
    records.push_back(r);
  if (records.size() > kMaxRecords)
    return failure(DnsStatus::bad_answer,
                   fmt::format("SRV {}: more than {} records", name, kMaxRecords));
  if (records.empty()) return failure(DnsStatus::empty, fmt::format("SRV {}: no record", name));
  const unsigned short lowest =
      (*std::min_element(records.begin(), records.end(), [](auto* a, auto* b) {
        return a->priority < b->priority;
      }))->priority;
  DnsAnswer answer;
  for (const ares_srv_reply* r : records) {
    if (r->priority != lowest || r->port == 0) continue;
    DnsAnswer target = lookup_addresses(r->host, r->port);
    if (target.status == DnsStatus::failed || target.status == DnsStatus::bad_answer)
      return failure(target.status, fmt::format("SRV {} target {}", name, target.error));
    const unsigned weight = std::clamp<unsigned>(r->weight, 1, kMaxSrvWeight);
    for (DnsRecord& record : target.records) {
      if (answer.records.size() == kMaxRecords)
        return failure(DnsStatus::bad_answer,
                       fmt::format("SRV {}: more than {} servers", name, kMaxRecords));
      answer.ttl = answer.records.empty() ? target.ttl : std::min(answer.ttl, target.ttl);
      answer.records.push_back({record.endpoint, weight});
    }
  }
  answer.status = answer.records.empty() ? DnsStatus::empty : DnsStatus::ok;
  if (answer.records.empty()) answer.error = fmt::format("SRV {}: no target has an address", name);
  return answer;
}

}  // namespace spliceproxy
