// RedisServer: start, PING until it answers, redis-cli, kill by pid.
#include "test/integration/redis_server.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "test/integration/child_process.hpp"

namespace spliceproxy::test {
namespace {

// A port free right now on 127.0.0.1 (the kernel's pick for port 0).
std::uint16_t free_port() {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), size) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &size) != 0)
    throw std::runtime_error("cannot pick a port");
  return ntohs(address.sin_port);
}

}  // namespace

bool have_redis() {
  for (const char* tool :
       {"/usr/bin/redis-server", "/usr/bin/redis-cli", "/usr/bin/redis-benchmark"})
    if (::access(tool, X_OK) != 0) return false;
  return true;
}

RedisServer::RedisServer(const std::string& dir) {
  // A port picked then freed can be taken by someone else before redis binds it: try again.
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (start(dir)) return;
  }
  throw std::runtime_error("redis-server did not start:\n" + log_);
}

bool RedisServer::start(const std::string& dir) {
  port_ = free_port();
  const std::string name = "redis-" + std::to_string(port_);
  const std::string log = dir + "/" + name + ".log";
  Child child = spawn_child({"/usr/bin/redis-server", "--bind", "127.0.0.1", "--port",
                             std::to_string(port_), "--save", "", "--appendonly", "no", "--dir",
                             dir, "--logfile", log, "--dbfilename", name + ".rdb"});
  pid_ = child.pid;
  std::optional<int> exited;
  const bool up = run_until(
      [&] {
        exited = wait_exit(pid_, child.pidfd.get(), Clock::now());
        if (exited) return true;
        const CommandResult ping = run_command(
            {"/usr/bin/redis-cli", "-h", "127.0.0.1", "-p", std::to_string(port_), "ping"}, 5s);
        return ping.out.find("PONG") != std::string::npos;
      },
      Clock::now() + 15s, 50ms);
  if (up && !exited) return true;
  std::ifstream in(log);
  log_ = std::string(std::istreambuf_iterator<char>(in), {});
  if (!exited) kill_and_reap(pid_);  // never signal a pid already reaped
  pid_ = -1;
  return false;
}

RedisServer::~RedisServer() {
  if (pid_ > 0) kill_and_reap(pid_);
}

std::string RedisServer::cli(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {"/usr/bin/redis-cli", "-h", "127.0.0.1", "-p",
                                   std::to_string(port_)};
  argv.insert(argv.end(), args.begin(), args.end());
  const CommandResult r = run_command(argv, 30s);
  if (r.exit_code != 0) throw std::runtime_error("redis-cli failed: " + r.err);
  return r.out;
}

std::uint64_t RedisServer::dbsize() const {
  return std::stoull(cli({"dbsize"}));
}

std::map<std::string, std::uint64_t> RedisServer::command_calls() const {
  // Lines like "cmdstat_set:calls=2000,usec=...".
  std::map<std::string, std::uint64_t> calls;
  std::istringstream in(cli({"info", "commandstats"}));
  for (std::string line; std::getline(in, line);) {
    const std::size_t colon = line.find(':');
    if (!line.starts_with("cmdstat_") || colon == std::string::npos) continue;
    const std::size_t value = line.find("calls=", colon);
    if (value == std::string::npos) continue;
    calls[line.substr(8, colon - 8)] = std::stoull(line.substr(value + 6));
  }
  return calls;
}

}  // namespace spliceproxy::test
