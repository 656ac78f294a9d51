// Child processes for the harness: fork/exec with stdout and stderr on pipes, and waits on a
// pidfd with a deadline (no sleeps). Used by run_command and ProxyProcess (harness.hpp).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "test/integration/harness.hpp"

namespace spliceproxy::test {

// A started child: its pid, a pidfd to wait on, and the read ends of its stdout and stderr.
struct Child {
  pid_t pid = -1;
  Fd pidfd;
  Fd out;
  Fd err;
};

// Starts argv (argv[0] is a path) with stdin on /dev/null, stdout and stderr on pipes whose read
// ends are nonblocking, and none of the test's other descriptors. The child is SIGKILLed if the
// calling thread dies first (PR_SET_PDEATHSIG), so call it from the test's own thread.
// `fd_limit`, when not 0, becomes the child's RLIMIT_NOFILE, soft and hard (set before exec,
// so the child cannot raise it back).
Child spawn_child(const std::vector<std::string>& argv, unsigned fd_limit = 0);

// Waits until the child exits or `deadline` passes; reaps it and returns its status on exit
// (exit code, or 128+N for signal N).
std::optional<int> wait_exit(pid_t pid, int pidfd, Clock::time_point deadline);

// SIGKILLs the child we started (by pid) and reaps it.
void kill_and_reap(pid_t pid);

// Appends what is readable on the nonblocking `fd` to `text`; false once the write end closed.
bool drain(int fd, std::string& text);

}  // namespace spliceproxy::test
