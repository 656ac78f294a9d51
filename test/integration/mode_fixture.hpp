// The fixture the engine's integration suites share: each test runs once per data path mode
// (the parameter: "splice", "copy" or "auto"), starts its own proxy, and ends by stopping it and
// expecting a clean exit (status 0: no crash, no sanitizer report). When a test fails, the
// proxy's stderr is printed with it.
#pragma once

#include <gtest/gtest.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "test/integration/harness.hpp"

namespace spliceproxy::test {

class ProxyModeTest : public ::testing::TestWithParam<std::string> {
 protected:
  // Starts the proxy with these listeners in the test's mode; waits for all of them.
  ProxyProcess& start_proxy(const std::vector<ListenerConfig>& listeners) {
    ProxyOptions options;
    options.listeners.clear();
    for (const auto& listener : listeners)
      options.listeners.push_back(listener.name);
    proxy_ = std::make_unique<ProxyProcess>(proxy_yaml(GetParam(), listeners), options);
    return *proxy_;
  }

  void TearDown() override {
    if (!proxy_) return;
    const int status = proxy_->stop();
    EXPECT_EQ(status, 0) << "spliceproxy did not exit cleanly";
    if (HasFailure()) {
      const std::string err = proxy_->stderr_text();
      constexpr std::size_t kTail = 8192;
      std::cerr << "---- spliceproxy stderr (last " << kTail << " bytes) ----\n"
                << (err.size() > kTail ? err.substr(err.size() - kTail) : err)
                << "---- end of spliceproxy stderr ----\n";
    }
  }

  std::unique_ptr<ProxyProcess> proxy_;
};

// Names instances after the mode: ForwardingTest.Name/splice, ForwardingTest.Name/copy.
inline std::string mode_name(const ::testing::TestParamInfo<std::string>& info) {
  return info.param;
}

}  // namespace spliceproxy::test
