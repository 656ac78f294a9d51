// Admission: ACL, per-source limit and live session count; see admission.hpp.
#include "proxy/admission.hpp"

#include <algorithm>

namespace spliceproxy {

AdmissionTicket& AdmissionTicket::operator=(AdmissionTicket&& other) noexcept {
  if (this != &other) {
    release();
    owner_ = std::move(other.owner_);
    source_ = other.source_;
  }
  return *this;
}

void AdmissionTicket::release() {
  if (!owner_) return;
  auto owner = std::move(owner_);
  owner_.reset();
  owner->release(source_);
}

Admission::Verdict Admission::check(const net::Endpoint& peer) const {
  std::uint8_t ip[16];
  const std::size_t size = net::ip_bytes(peer, ip);
  if (size != 0) {
    const auto in = [&](const config::Cidr& block) { return block.contains(ip, size); };
    if (std::any_of(listener_.deny.begin(), listener_.deny.end(), in)) return Verdict::denied;
    if (!listener_.allow.empty() &&
        std::none_of(listener_.allow.begin(), listener_.allow.end(), in))
      return Verdict::denied;
  }
  const std::size_t limit = listener_.max_connections_per_source;
  if (limit != 0 && size != 0) {
    const auto it = per_source_.find(net::source_key(peer));
    if (it != per_source_.end() && it->second >= limit) return Verdict::source_limit;
  }
  return Verdict::admitted;
}

AdmissionTicket Admission::admit(const net::Endpoint& peer) {
  const std::uint64_t source = net::source_key(peer);
  ++live_;
  if (listener_.max_connections_per_source != 0 && source != 0) ++per_source_[source];
  return AdmissionTicket(shared_from_this(), source);
}

void Admission::release(std::uint64_t source) {
  const bool was_full = full();
  --live_;
  if (listener_.max_connections_per_source != 0 && source != 0) {
    const auto it = per_source_.find(source);
    if (it != per_source_.end() && --it->second == 0) per_source_.erase(it);
  }
  if (was_full && !full() && on_room_) on_room_();
}

}  // namespace spliceproxy
