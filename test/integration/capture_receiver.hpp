// CaptureReceiver: the far end of a `pcapng_tcp` mirror in tests. Accepts on 127.0.0.1 (one
// connection at a time, again after each one ends) and appends what it reads to a file that
// tshark then reads; it can read slowly, never read, or die after some bytes.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "test/integration/harness.hpp"

namespace spliceproxy::test {

struct ReceiverBehavior {
  std::uint64_t read_rate = 0;  // bytes per second; 0 = as fast as it comes
  bool never_read = false;      // accept, then never read
  std::uint64_t die_after = 0;  // close for good after this many bytes; 0 = never
};

class CaptureReceiver {
 public:
  CaptureReceiver(std::string path, ReceiverBehavior behavior = {});
  ~CaptureReceiver();
  CaptureReceiver(const CaptureReceiver&) = delete;
  CaptureReceiver& operator=(const CaptureReceiver&) = delete;

  std::uint16_t port() const { return port_; }
  const std::string& path() const { return path_; }
  // Waits until the current connection ended with EOF after at least one connection.
  bool wait_for_eof(Clock::time_point deadline) const;
  std::uint64_t bytes() const { return bytes_.load(); }
  int connections() const { return connections_.load(); }

 private:
  void run();
  void serve(Fd connection, Fd& file);

  std::string path_;
  ReceiverBehavior behavior_;
  Fd listener_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> dead_{false};
  std::atomic<bool> eof_{false};
  std::atomic<int> connections_{0};
  std::atomic<std::uint64_t> bytes_{0};
  std::thread thread_;
};

}  // namespace spliceproxy::test
