// TLS test peers: temp dirs, certificates, s_server children, s_client runs.
#include "test/integration/tls_servers.hpp"

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>

#include "test/integration/child_process.hpp"
#include "test/integration/haproxy_process.hpp"

namespace spliceproxy::test {

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "spliceproxy-tls-XXXXXX");
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

void make_certificate(const TempDir& dir, const std::string& name) {
  const CommandResult r =
      run_command({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                   "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=" + name,
                   "-keyout", dir.file(name + ".key"), "-out", dir.file(name + ".crt")},
                  20s);
  if (r.exit_code != 0) throw std::runtime_error("openssl req failed: " + r.err);
}

OpenSslServer::OpenSslServer(const TempDir& dir, const std::string& name,
                             std::vector<std::string> args) {
  // -quiet keeps s_server from printing per connection (nobody reads its pipes), and with it
  // its "ACCEPT host:port" line: so a port free a moment ago, and a wait until it listens.
  port_ = free_loopback_port();
  // s_server -WWW serves files relative to its working directory.
  std::string command = "cd '" + dir.path() + "' && exec /usr/bin/openssl s_server -accept " +
                        "127.0.0.1:" + std::to_string(port_) + " -cert " + name + ".crt -key " +
                        name + ".key -quiet";
  for (const auto& arg : args)
    command += " " + arg;
  Child child = spawn_child({"/bin/sh", "-c", command});
  pid_ = child.pid;
  pidfd_ = std::move(child.pidfd);
  out_ = std::move(child.out);
  err_ = std::move(child.err);
  std::string out, err;
  const bool up = run_until(
      [&] {
        drain(out_.get(), out);
        drain(err_.get(), err);
        return tcp_listening(port_);
      },
      Clock::now() + 20s);
  if (!up) {
    kill_and_reap(pid_);
    pid_ = -1;
    throw std::runtime_error("s_server did not start: " + out + err);
  }
}

OpenSslServer::~OpenSslServer() {
  if (pid_ > 0) kill_and_reap(pid_);
}

std::string peer_common_name(std::uint16_t port, const std::string& server_name,
                             const std::string& alpn, std::string* details) {
  std::vector<std::string> argv = {"/usr/bin/openssl", "s_client", "-connect",
                                   "127.0.0.1:" + std::to_string(port)};
  if (server_name.empty()) {
    argv.push_back("-noservername");
  } else {
    argv.insert(argv.end(), {"-servername", server_name});
  }
  if (!alpn.empty()) argv.insert(argv.end(), {"-alpn", alpn});
  // stdin is /dev/null: s_client completes the handshake, prints the peer, then closes.
  const CommandResult r = run_command(argv, 20s);
  if (details) *details = r.out + r.err;
  const std::string marker = "subject=CN = ";
  const std::size_t at = r.out.find(marker);
  if (at == std::string::npos) return "";
  const std::size_t end = r.out.find('\n', at);
  return r.out.substr(at + marker.size(), end - at - marker.size());
}

}  // namespace spliceproxy::test
