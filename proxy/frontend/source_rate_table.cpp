// SourceRateTable: the LRU of per-source buckets; see source_rate_table.hpp.
#include "proxy/frontend/source_rate_table.hpp"

namespace spliceproxy {

bool SourceRateTable::try_take(std::uint64_t source, TokenClock::time_point now) {
  if (const auto it = index_.find(source); it != index_.end()) {
    order_.splice(order_.begin(), order_, it->second);  // most recently seen now
    return it->second->bucket.try_take(1, now);
  }
  if (order_.size() >= capacity_) {
    index_.erase(order_.back().source);
    order_.pop_back();
  }
  order_.push_front(Entry{source, TokenBucket(rate_, now)});
  index_.emplace(source, order_.begin());
  return order_.front().bucket.try_take(1, now);
}

}  // namespace spliceproxy
