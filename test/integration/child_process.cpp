// Child processes for the harness: fork/exec with output on pipes, waits on a pidfd with a
// deadline, and run_command built on them. See child_process.hpp.
#include "test/integration/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <system_error>

namespace spliceproxy::test {
namespace {

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

// Runs in the forked child: only async-signal-safe calls until exec.
[[noreturn]] void exec_child(char* const* argv, int out_w, int err_w, pid_t parent,
                             unsigned fd_limit) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test process
  if (getppid() != parent) _exit(127);
  const rlimit limit{fd_limit, fd_limit};
  if (fd_limit != 0 && setrlimit(RLIMIT_NOFILE, &limit) != 0) _exit(127);
  int null_fd = open("/dev/null", O_RDONLY);
  if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(out_w, 1) < 0 || dup2(err_w, 2) < 0) _exit(127);
  // Test sockets must not leak into the proxy: a copy held there would keep connections open.
  syscall(SYS_close_range, 3U, ~0U, 0U);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigaction(SIGPIPE, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execv(argv[0], argv);
  static const char kMessage[] = "exec failed\n";
  (void)!write(2, kMessage, sizeof kMessage - 1);
  _exit(127);
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

Child spawn_child(const std::vector<std::string>& args, unsigned fd_limit) {
  std::vector<char*> argv;
  for (const auto& arg : args)
    argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  int out_pipe[2];
  int err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) throw_errno("pipe2");
  if (pipe2(err_pipe, O_CLOEXEC) != 0) throw_errno("pipe2");
  Child child;
  child.out.reset(out_pipe[0]);
  child.err.reset(err_pipe[0]);
  fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);  // the read ends only: a separate file description
  fcntl(err_pipe[0], F_SETFL, O_NONBLOCK);
  Fd out_w(out_pipe[1]);
  Fd err_w(err_pipe[1]);
  const pid_t parent = getpid();
  child.pid = fork();
  if (child.pid < 0) throw_errno("fork");
  if (child.pid == 0) exec_child(argv.data(), out_w.get(), err_w.get(), parent, fd_limit);
  child.pidfd.reset(static_cast<int>(syscall(SYS_pidfd_open, child.pid, 0)));
  if (!child.pidfd.valid()) throw_errno("pidfd_open");
  return child;
}

std::optional<int> wait_exit(pid_t pid, int pidfd, Clock::time_point deadline) {
  for (;;) {
    int status = 0;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return decode_status(status);
    if (r < 0 && errno != EINTR) throw_errno("waitpid");
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{pidfd, POLLIN, 0};
    poll(&p, 1, static_cast<int>(left.count()));
  }
}

void kill_and_reap(pid_t pid) {
  kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

bool drain(int fd, std::string& text) {
  std::array<char, 16384> buf;
  for (;;) {
    const ssize_t n = read(fd, buf.data(), buf.size());
    if (n > 0) {
      text.append(buf.data(), static_cast<std::size_t>(n));
    } else if (n == 0) {
      return false;
    } else if (errno != EINTR) {
      return errno == EAGAIN;
    }
  }
}

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  Child child = spawn_child(argv);
  CommandResult result{-1, {}, {}};
  bool out_open = true;
  bool err_open = true;
  while (out_open || err_open) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    pollfd fds[2] = {{out_open ? child.out.get() : -1, POLLIN, 0},
                     {err_open ? child.err.get() : -1, POLLIN, 0}};
    if (poll(fds, 2, static_cast<int>(left.count())) < 0 && errno != EINTR) throw_errno("poll");
    if (fds[0].revents != 0) out_open = drain(child.out.get(), result.out);
    if (fds[1].revents != 0) err_open = drain(child.err.get(), result.err);
  }
  if (auto status = wait_exit(child.pid, child.pidfd.get(), deadline)) {
    result.exit_code = *status;
  } else {
    kill_and_reap(child.pid);
    result.err += "\n[run_command: killed after " + std::to_string(timeout.count()) + " ms]\n";
  }
  return result;
}

}  // namespace spliceproxy::test
