// Real TLS on both sides of the proxy for the TLS routing tests: self-signed certificates made
// with `openssl req`, `openssl s_server` backends (each with its own certificate), and
// `openssl s_client` / `curl` clients. The proxy never sees a key: it routes by the hello.
//
//   s_client -servername X ──▶ spliceproxy (tls_routes) ──▶ s_server with CN=<backend>
//
// Every process is a child of the test, killed by its pid and reaped; every wait has a deadline.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "test/integration/harness.hpp"

namespace spliceproxy::test {

// A temporary directory, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Makes NAME.crt and NAME.key (P-256, CN=NAME, one day) in `dir`; throws if openssl fails.
void make_certificate(const TempDir& dir, const std::string& name);

// `openssl s_server` on 127.0.0.1 (a port it picks), with the certificate NAME of `dir`;
// `args` are added (e.g. -WWW, which serves the files of `dir`, its working directory).
class OpenSslServer {
 public:
  OpenSslServer(const TempDir& dir, const std::string& name, std::vector<std::string> args = {});
  ~OpenSslServer();
  OpenSslServer(const OpenSslServer&) = delete;
  OpenSslServer& operator=(const OpenSslServer&) = delete;
  std::uint16_t port() const { return port_; }

 private:
  pid_t pid_ = -1;
  Fd pidfd_;
  Fd out_;
  Fd err_;
  std::uint16_t port_ = 0;
};

// Runs `openssl s_client` against 127.0.0.1:port with `server_name` (empty: -noservername) and
// `alpn` (empty: none); returns the CN of the certificate the server showed, or "" (with the
// output in `details`) when no handshake completed.
std::string peer_common_name(std::uint16_t port, const std::string& server_name,
                             const std::string& alpn = "", std::string* details = nullptr);

}  // namespace spliceproxy::test
