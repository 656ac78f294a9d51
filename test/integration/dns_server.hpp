// DnsServer: a real DNS server for the discovery tests — dnsmasq, started by the test on
// 127.0.0.1 and a free port, authoritative for `.test` (an unknown name there is NXDOMAIN),
// answering from a hosts file the test rewrites (then SIGHUP: dnsmasq reads it again) with a
// TTL of 1 s, and with SRV records given at start.
//
//   test ── set_hosts() ── hosts file + SIGHUP ──▶ dnsmasq ◀── A/AAAA/SRV ── spliceproxy
//
// Only the dnsmasq started here is ever signalled, by its pid; pause() (SIGSTOP) makes it stop
// answering, resume() (SIGCONT) brings it back.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "test/integration/harness.hpp"

namespace spliceproxy::test {

class DnsServer {
 public:
  // `srv_records`: dnsmasq --srv-host values, "_svc._tcp.x.test,target.test,port,prio,weight".
  explicit DnsServer(const std::vector<std::string>& hosts_lines,
                     const std::vector<std::string>& srv_records = {});
  ~DnsServer();
  DnsServer(const DnsServer&) = delete;
  DnsServer& operator=(const DnsServer&) = delete;

  static bool installed();
  std::uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // Rewrites the hosts file ("127.0.0.2 app.test" lines) and waits until dnsmasq read it.
  void set_hosts(const std::vector<std::string>& lines);
  void pause();
  void resume();

 private:
  bool wait_for_log(const std::string& needle, std::size_t count, Clock::time_point deadline);
  void write_hosts(const std::vector<std::string>& lines);

  std::string dir_;
  std::string hosts_path_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
  Fd pidfd_;
  Fd out_;
  Fd err_;
  std::string log_;
  std::size_t reads_ = 0;  // hosts file reads logged so far
  bool paused_ = false;
};

}  // namespace spliceproxy::test
