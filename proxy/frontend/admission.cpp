// Admission: ACL, per-source limit and live session count; see admission.hpp.
#include "proxy/frontend/admission.hpp"

#include <algorithm>
#include <utility>

#include "proxy/datapath/channel_throttle.hpp"

namespace spliceproxy {
namespace {

TokenRate token_rate(const config::Rate& rate) {
  return {.tokens = rate.count, .period = rate.period, .burst = rate.burst};
}

}  // namespace

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

Admission::Admission(const config::Listener& listener) : listener_(listener) {
  rebuild_buckets(config::Listener{});
}

// Buckets for the limits that differ from `old`'s (all of them, at construction).
void Admission::rebuild_buckets(const config::Listener& old) {
  const auto now = TokenClock::now();
  const config::ConnectionRateLimit& rate = listener_.max_connection_rate;
  if (rate.listener != old.max_connection_rate.listener) {
    rate_.reset();
    if (rate.listener.limited()) rate_.emplace(token_rate(rate.listener), now);
  }
  if (rate.per_source != old.max_connection_rate.per_source) {
    per_source_rate_.reset();
    if (rate.per_source.limited()) per_source_rate_.emplace(token_rate(rate.per_source));
  }
  const config::BandwidthCaps& caps = listener_.bandwidth.listener;
  const std::uint64_t bytes[2] = {caps.client_to_backend, caps.backend_to_client};
  const std::uint64_t old_bytes[2] = {old.bandwidth.listener.client_to_backend,
                                      old.bandwidth.listener.backend_to_client};
  for (int i = 0; i < 2; ++i) {
    if (bytes[i] == old_bytes[i] && shared_bandwidth_[i]) continue;
    shared_bandwidth_[i] =
        bytes[i] ? std::make_shared<SharedTokenBucket>(ChannelThrottle::byte_rate(bytes[i]), now)
                 : nullptr;
  }
}

// The rate tokens of one admitted client: its source's first, then the listener's.
bool Admission::take_rate_tokens(std::uint64_t source, bool by_source) {
  if (!rate_ && !per_source_rate_) return true;
  const auto now = TokenClock::now();
  const bool wait = listener_.max_connection_rate.over_limit == config::OverLimit::wait;
  if (rate_ && !wait && rate_->available(now) == 0) return false;
  if (per_source_rate_ && by_source && !per_source_rate_->try_take(source, now)) return false;
  if (rate_) rate_->take(1, now);
  return true;
}

std::optional<TokenClock::time_point> Admission::rate_wait_until(TokenClock::time_point now) const {
  const std::lock_guard lock(mutex_);
  if (!rate_ || listener_.max_connection_rate.over_limit != config::OverLimit::wait)
    return std::nullopt;
  if (rate_->available(now) > 0) return std::nullopt;
  return rate_->when_available(1);
}

Admission::SharedBandwidth Admission::shared_bandwidth() const {
  const std::lock_guard lock(mutex_);
  return shared_bandwidth_;
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
  if (!reserved && full_locked()) return Verdict::full;
  if (!take_rate_tokens(source, by_source)) return Verdict::rate_limited;
  if (!reserved) {
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
    const config::Listener old = std::exchange(listener_, listener);
    rebuild_buckets(old);
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
