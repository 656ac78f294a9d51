// DnsServer: dnsmasq as a child of the test; see dns_server.hpp.
#include "test/integration/dns_server.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "test/integration/child_process.hpp"

namespace spliceproxy::test {
namespace {

constexpr const char* kDnsmasq = "/usr/sbin/dnsmasq";

// A UDP port of 127.0.0.1 free now (and its TCP twin: dnsmasq binds both).
std::uint16_t free_port() {
  for (int attempt = 0; attempt < 20; ++attempt) {
    Fd udp(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(udp.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) continue;
    getsockname(udp.get(), reinterpret_cast<sockaddr*>(&addr), &len);
    Fd tcp(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (bind(tcp.get(), reinterpret_cast<sockaddr*>(&addr), len) == 0) return ntohs(addr.sin_port);
  }
  throw std::runtime_error("no free port for dnsmasq");
}

std::size_t occurrences(const std::string& text, const std::string& needle) {
  std::size_t count = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    ++count;
  return count;
}

}  // namespace

bool DnsServer::installed() {
  return ::access(kDnsmasq, X_OK) == 0;
}

DnsServer::DnsServer(const std::vector<std::string>& hosts_lines,
                     const std::vector<std::string>& srv_records) {
  char dir[] = "/tmp/spliceproxy-dns-XXXXXX";
  if (!mkdtemp(dir)) throw std::runtime_error("mkdtemp");
  dir_ = dir;
  hosts_path_ = dir_ + "/hosts";
  write_hosts(hosts_lines);
  port_ = free_port();
  std::vector<std::string> argv = {kDnsmasq,
                                   "--keep-in-foreground",
                                   "--conf-file=/dev/null",
                                   "--log-facility=-",
                                   "--bind-interfaces",
                                   "--listen-address=127.0.0.1",
                                   "--port=" + std::to_string(port_),
                                   "--no-resolv",
                                   "--no-hosts",
                                   "--local=/test/",
                                   "--addn-hosts=" + hosts_path_,
                                   "--local-ttl=1",
                                   "--pid-file=" + dir_ + "/pid",
                                   "--user=root",
                                   "--group=root"};
  for (const std::string& srv : srv_records)
    argv.push_back("--srv-host=" + srv);
  Child child = spawn_child(argv);
  pid_ = child.pid;
  pidfd_ = std::move(child.pidfd);
  out_ = std::move(child.out);
  err_ = std::move(child.err);
  if (!wait_for_log("started", 1, Clock::now() + 10s))
    throw std::runtime_error("dnsmasq did not start: " + log_);
  reads_ = occurrences(log_, hosts_path_);
}

DnsServer::~DnsServer() {
  if (pid_ > 0) kill_and_reap(pid_);
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

void DnsServer::write_hosts(const std::vector<std::string>& lines) {
  const std::string temp = hosts_path_ + ".new";
  {
    std::ofstream out(temp, std::ios::trunc);
    for (const std::string& line : lines)
      out << line << "\n";
  }
  std::filesystem::rename(temp, hosts_path_);
}

void DnsServer::set_hosts(const std::vector<std::string>& lines) {
  write_hosts(lines);
  ::kill(pid_, SIGHUP);
  if (!wait_for_log(hosts_path_, reads_ + 1, Clock::now() + 10s))
    throw std::runtime_error("dnsmasq did not read " + hosts_path_ + " again: " + log_);
  reads_ = occurrences(log_, hosts_path_);
}

void DnsServer::pause() {
  ::kill(pid_, SIGSTOP);
  paused_ = true;
}

void DnsServer::resume() {
  ::kill(pid_, SIGCONT);
  paused_ = false;
}

bool DnsServer::wait_for_log(const std::string& needle, std::size_t count,
                             Clock::time_point deadline) {
  return run_until(
      [&] {
        if (out_.valid()) drain(out_.get(), log_);
        if (err_.valid()) drain(err_.get(), log_);
        return occurrences(log_, needle) >= count;
      },
      deadline);
}

}  // namespace spliceproxy::test
