// AccessLog: the JSON line and the writer thread.
#include "proxy/ops/access_log.hpp"

#include <algorithm>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <iterator>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

#include "config/json.hpp"
#include "proxy/base/log.hpp"

namespace spliceproxy {
namespace {

using config::append_json_string;

// RFC 3339 in UTC with milliseconds: 2026-11-22T12:00:00.123Z.
std::string rfc3339_ms(std::chrono::system_clock::time_point when) {
  using namespace std::chrono;
  const auto ms = duration_cast<milliseconds>(when.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
  return fmt::format("{}.{:03}Z", stamp, ms % 1000);
}

void field(std::string& out, std::string_view key, std::string_view value) {
  fmt::format_to(std::back_inserter(out), ",\"{}\":", key);
  append_json_string(out, value);
}

}  // namespace

std::string format_access_line(const SessionRecord& r) {
  std::string out = fmt::format("{{\"start\":\"{}\",\"duration_ms\":{},\"session\":{}",
                                rfc3339_ms(r.start), r.duration.count(), r.id);
  field(out, "client", r.client);
  out += ",\"server\":";
  if (r.server) {
    append_json_string(out, *r.server);
  } else {
    out += "null";
  }
  field(out, "listener", r.listener);
  field(out, "backend", r.backend);
  fmt::format_to(std::back_inserter(out),
                 ",\"bytes_client_to_backend\":{},\"bytes_backend_to_client\":{}",
                 r.bytes_client_to_backend, r.bytes_backend_to_client);
  field(out, "closed_by", to_string(r.closed_by));
  field(out, "termination", termination_code(r));
  field(out, "reason", to_string(r.reason));
  fmt::format_to(std::back_inserter(out),
                 ",\"connect_attempts\":{},\"mirror_dropped_bytes\":", r.connect_attempts);
  out += r.mirror_dropped_bytes ? std::to_string(*r.mirror_dropped_bytes) : "null";
  out += ",\"sni\":";
  if (r.sni) {
    append_json_string(out, *r.sni);
  } else {
    out += "null";
  }
  if (!r.tls_route.empty()) field(out, "tls_route", r.tls_route);
  return out + "}\n";
}

namespace {

int open_append(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
}

}  // namespace

AccessLog::AccessLog(const std::string& target) : target_(target) {
  if (target == "stdout") {
    fd_ = STDOUT_FILENO;
    return;
  }
  file_.reset(open_append(target));
  if (!file_) {
    throw std::runtime_error(fmt::format("access log: open {}: {}", target, std::strerror(errno)));
  }
  fd_ = file_.get();
}

AccessLog::~AccessLog() {
  stop();
}

void AccessLog::start() {
  thread_ = std::thread([this] { run(); });
}

void AccessLog::write(const SessionRecord& record) {
  const std::string line = format_access_line(record);
  const bool refused =
      record.reason == CloseReason::denied || record.reason == CloseReason::proxy_protocol_error;
  const std::size_t limit = refused ? kMaxBufferedRefused : kMaxBuffered;
  {
    const std::lock_guard lock(mutex_);
    if (buffer_.size() + line.size() > limit) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    buffer_ += line;
  }
  lines_.fetch_add(1, std::memory_order_relaxed);
  wake_.notify_one();
}

bool AccessLog::stop(std::chrono::milliseconds limit) {
  if (!thread_.joinable()) return true;
  std::unique_lock lock(mutex_);
  stopping_ = true;
  wake_.notify_one();
  if (!finished_cv_.wait_for(lock, limit, [this] { return finished_; })) {
    log::error("access log: output blocked for {} ms at exit; {} bytes of lines not written",
               limit.count(), buffer_.size());
    thread_.detach();
    return false;
  }
  lock.unlock();
  thread_.join();
  return true;
}

void AccessLog::reopen() {
  {
    const std::lock_guard lock(mutex_);
    reopen_ = true;
  }
  wake_.notify_one();
}

void AccessLog::run() {
  std::string batch;
  for (;;) {
    bool reopen = false;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || reopen_ || !buffer_.empty(); });
      reopen = std::exchange(reopen_, false);
      if (buffer_.empty() && stopping_) {  // everything written
        finished_ = true;
        finished_cv_.notify_all();
        return;
      }
      batch.swap(buffer_);
    }
    if (reopen) reopen_file();
    write_out(batch);
    batch.clear();
  }
}

void AccessLog::reopen_file() {
  if (!file_) return;
  UniqueFd fresh(open_append(target_));
  if (!fresh) {
    log::error("access log: reopen {}: {}; writing on to the old file", target_,
               std::strerror(errno));
    return;
  }
  file_ = std::move(fresh);
  fd_ = file_.get();
  write_failed_ = false;
  log::info("access log: reopened {}", target_);
}

void AccessLog::write_out(const std::string& data) {
  std::size_t done = 0;
  while (done < data.size() && !write_failed_) {
    const ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
    if (n >= 0) {
      done += static_cast<std::size_t>(n);
    } else if (errno == EAGAIN) {
      pollfd p{fd_, POLLOUT, 0};
      ::poll(&p, 1, -1);  // the writer thread may wait; workers never do
    } else if (errno != EINTR) {
      write_failed_ = true;
      log::error("access log: write failed: {}; further lines are discarded", std::strerror(errno));
    }
  }
  if (done < data.size()) {  // discarded after a failed write: dropped lines
    dropped_.fetch_add(
        std::count(data.begin() + static_cast<std::ptrdiff_t>(done), data.end(), '\n'),
        std::memory_order_relaxed);
  }
}

}  // namespace spliceproxy
