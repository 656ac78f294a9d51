// listen_socket: binding the listening sockets of one configured listener, on the control
// thread, before any worker accepts on them (at start and on reload, so that a bind error
// changes nothing).
//
// TCP: one socket per worker, each with SO_REUSEPORT, so the kernel spreads new connections
// over the workers with no lock and no thundering herd. With port 0 the first socket picks the
// port and the others bind that same port.
// Unix: SO_REUSEPORT does not apply to Unix sockets, so one socket is bound and each worker gets
// a dup of it: every worker accepts from the same queue (all are woken, one wins; the others
// see EAGAIN and wait again). Serving a Unix listener from worker 0 alone would be simpler,
// but would leave it unserved while that worker is busy.
#pragma once

#include <string>
#include <vector>

#include "config/config.hpp"
#include "proxy/datapath/unique_fd.hpp"

namespace spliceproxy {

struct ListenSockets {
  std::vector<UniqueFd> fds;  // one listening descriptor per worker
  std::string address;        // the address bound, with the real port for port 0
};

// Binds and listens for `workers` workers. A Unix socket file left by an earlier run is
// replaced (only if it is a socket: never a symlink or a regular file, nor one a live server
// accepts on) and gets the configured mode. Throws std::runtime_error naming the listener and
// the failed step ("listener web: bind 127.0.0.1:8080: Address already in use"); nothing is
// left bound then.
ListenSockets bind_listen_sockets(const config::Listener& listener, unsigned workers);

// A Unix listener kept by a reload that changes only its `mode`: check_socket_file throws
// std::runtime_error naming the listener unless its path still holds a socket (never a symlink
// or another file); set_socket_file_mode checks the same and then gives it the new mode.
void check_socket_file(const config::Listener& listener);
void set_socket_file_mode(const config::Listener& listener);

// Removes the socket file of a Unix listener once its sockets are closed (only if the path
// still is a socket). Nothing for a TCP listener.
void remove_socket_file(const config::Listener& listener);

}  // namespace spliceproxy
