// Stats: one writer per Stats, readers on any thread. A reader summing while the writers count
// sees every counter whole and, once the writers are joined, the exact totals (TSan checks
// that the reads race with nothing).
#include "proxy/base/stats.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace spliceproxy {
namespace {

TEST(Stats, SumOfTwoWritersIsExactAndReadableWhileTheyCount) {
  constexpr std::uint64_t kAdds = 200000;
  std::vector<Stats> workers(2);
  std::atomic<bool> done{false};
  std::uint64_t last_seen = 0;
  bool went_backwards = false;
  std::thread reader([&] {
    while (!done.load()) {
      Stats sum;
      for (const Stats& worker : workers)
        sum += worker;
      const std::uint64_t now = sum.get(Counter::bytes_spliced_total);
      went_backwards = went_backwards || now < last_seen;
      last_seen = now;
    }
  });
  std::vector<std::thread> writers;
  for (Stats& worker : workers) {
    writers.emplace_back([&worker] {
      for (std::uint64_t i = 0; i < kAdds; ++i) {
        worker.add(Counter::bytes_spliced_total, 3);
        worker.count_close(CloseReason::completed);
      }
    });
  }
  for (auto& writer : writers)
    writer.join();
  done = true;
  reader.join();
  Stats sum;
  for (const Stats& worker : workers)
    sum += worker;
  EXPECT_EQ(sum.get(Counter::bytes_spliced_total), 2 * 3 * kAdds);
  EXPECT_EQ(sum.closed(CloseReason::completed), 2 * kAdds);
  EXPECT_FALSE(went_backwards) << "a sum read while counting went down";
}

TEST(Stats, CopyHoldsTheValuesAtTheTimeOfTheCopy) {
  Stats stats;
  stats.add(Counter::sessions_accepted_total, 5);
  const Stats copy = stats;
  stats.add(Counter::sessions_accepted_total);
  EXPECT_EQ(copy.get(Counter::sessions_accepted_total), 5u);
  EXPECT_EQ(stats.get(Counter::sessions_accepted_total), 6u);
  EXPECT_NE(copy.summary().find("sessions_accepted_total=5"), std::string::npos);
}

}  // namespace
}  // namespace spliceproxy
