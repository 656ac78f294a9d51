// RedisServer: a redis-server the test starts on 127.0.0.1 at a port it picks, with no
// persistence, killed (by pid) when the object goes; and redis-cli run against it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "test/integration/harness.hpp"

namespace spliceproxy::test {

// True when redis-server, redis-cli and redis-benchmark are installed (tools/deps.sh --test).
bool have_redis();

class RedisServer {
 public:
  // Starts redis-server with its files in `dir` and waits (deadline) until it answers PING;
  // throws std::runtime_error with its log if it does not.
  explicit RedisServer(const std::string& dir);
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  std::uint16_t port() const { return port_; }
  // redis-cli -p PORT ARGS...: its stdout, or throws if it fails.
  std::string cli(const std::vector<std::string>& args) const;
  std::uint64_t dbsize() const;
  // INFO commandstats as command name -> calls.
  std::map<std::string, std::uint64_t> command_calls() const;

 private:
  bool start(const std::string& dir);

  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
  std::string log_;
};

}  // namespace spliceproxy::test
