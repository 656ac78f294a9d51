// Admission: ACL, per-source limit and live session count; see admission.hpp.
#include "proxy/frontend/admission.hpp"

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

Admission::Verdict Admission::admit(const net::Endpoint& peer, AdmissionTicket& ticket) {
  std::uint8_t ip[16];
  const std::size_t size = net::ip_bytes(peer, ip);
  const std::uint64_t source = net::source_key(peer);
  const bool reserved = ticket.owner_.get() == this;
  if (!reserved) ticket.release();  // before taking our mutex: it takes the other's
  const std::lock_guard lock(mutex_);
  if (size != 0) {
    const auto in = [&](const config::Cidr& block) { return block.contains(ip, size); };
    if (std::any_of(listener_.deny.begin(), listener_.deny.end(), in)) return Verdict::denied;
    if (!listener_.allow.empty() &&
        std::none_of(listener_.allow.begin(), listener_.allow.end(), in))
      return Verdict::denied;
  }
  // Every session with an IP is counted by source, limit or not: a limit that a reload
  // switches on then counts the sessions already live.
  const bool by_source = size != 0 && source != 0;
  const std::size_t limit = listener_.max_connections_per_source;
  if (by_source && limit != 0) {
    const auto it = per_source_.find(source);
    if (it != per_source_.end() && it->second >= limit) return Verdict::source_limit;
  }
  if (!reserved) {
    if (full_locked()) return Verdict::full;
    ++live_;
    ticket = AdmissionTicket(shared_from_this(), 0);
  }
  if (by_source) {
    ++per_source_[source];
    ticket.source_ = source;
  }
  return Verdict::admitted;
}

bool Admission::reserve(AdmissionTicket& ticket) {
  ticket.release();
  const std::lock_guard lock(mutex_);
  if (full_locked()) return false;
  ++live_;
  ticket = AdmissionTicket(shared_from_this(), 0);
  return true;
}

bool Admission::full_locked() const {
  return listener_.max_connections != 0 && live_ >= listener_.max_connections;
}

bool Admission::full() const {
  const std::lock_guard lock(mutex_);
  return full_locked();
}

std::size_t Admission::live() const {
  const std::lock_guard lock(mutex_);
  return live_;
}

bool Admission::wait_for_room(std::function<void()> wake) {
  const std::lock_guard lock(mutex_);
  if (!full_locked()) return false;
  waiters_.push_back(std::move(wake));
  return true;
}

std::vector<std::function<void()>> Admission::take_waiters_if_room() {
  std::vector<std::function<void()>> woken;
  if (!full_locked()) woken.swap(waiters_);
  return woken;
}

void Admission::reconfigure(const config::Listener& listener) {
  std::vector<std::function<void()>> woken;
  {
    const std::lock_guard lock(mutex_);
    listener_ = listener;
    // Counts by source stay: a new per-source limit counts the sessions already live.
    woken = take_waiters_if_room();
  }
  for (auto& wake : woken)
    wake();
}

// `source` is 0 when the session was not counted per source.
void Admission::release(std::uint64_t source) {
  std::vector<std::function<void()>> woken;
  {
    const std::lock_guard lock(mutex_);
    --live_;
    if (source != 0) {
      const auto it = per_source_.find(source);
      if (it != per_source_.end() && --it->second == 0) per_source_.erase(it);
    }
    if (!waiters_.empty()) woken = take_waiters_if_room();
  }
  for (auto& wake : woken)
    wake();
}

}  // namespace spliceproxy
