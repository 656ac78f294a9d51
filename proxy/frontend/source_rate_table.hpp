// SourceRateTable: a connection-rate bucket per client IP, for max_connection_rate.per_source.
//
// Bounded: it holds at most `capacity` sources, least recently seen evicted first (an LRU: a
// list in use order and a map into it), so a flood of new addresses cannot grow memory past
// capacity × about 100 bytes. An evicted source comes back with a full bucket: a flood of more
// than `capacity` addresses can give a limited source a fresh burst, never more than that.
// Not thread-safe: its Admission's mutex guards it.
#pragma once

#include <cstdint>
#include <list>
#include <unordered_map>

#include "proxy/base/token_bucket.hpp"

namespace spliceproxy {

class SourceRateTable {
 public:
  static constexpr std::size_t kDefaultCapacity = 16384;

  explicit SourceRateTable(const TokenRate& rate, std::size_t capacity = kDefaultCapacity)
      : rate_(rate), capacity_(capacity) {}

  // Takes one token from `source`'s bucket (a new source starts full); false when it has none.
  bool try_take(std::uint64_t source, TokenClock::time_point now);
  std::size_t size() const { return order_.size(); }

 private:
  struct Entry {
    std::uint64_t source;
    TokenBucket bucket;
  };

  TokenRate rate_;
  std::size_t capacity_;
  std::list<Entry> order_;  // most recently seen first
  std::unordered_map<std::uint64_t, std::list<Entry>::iterator> index_;
};

}  // namespace spliceproxy
