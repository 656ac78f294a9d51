// MirrorSink: the handoff queue and the sink thread's loop.
#include "proxy/mirror/mirror_sink.hpp"

#include <fcntl.h>

#include <chrono>
#include <stdexcept>

#include "proxy/base/log.hpp"

namespace spliceproxy {
namespace {

constexpr auto kTick = std::chrono::milliseconds(50);

// A pipe as large as the kernel grants up to `wanted`: F_SETPIPE_SZ refuses anything past
// pipe-max-size (without CAP_SYS_RESOURCE) rather than capping it, so halve until it fits.
std::optional<Pipe> largest_pipe(std::size_t wanted) {
  for (std::size_t size = wanted;; size /= 2) {
    auto pipe = Pipe::create(size);
    if (!pipe || pipe->capacity() >= size || size <= 64 * 1024) return pipe;
  }
}

}  // namespace

MirrorSink::MirrorSink(std::string name, unsigned workers, std::size_t pipe_size)
    : name_(std::move(name)),
      current_(workers),
      dev_null_(::open("/dev/null", O_WRONLY | O_CLOEXEC)) {
  if (!dev_null_) throw std::runtime_error("mirror " + name_ + ": cannot open /dev/null");
  for (unsigned i = 0; i < workers * kPipesPerWorker; ++i) {
    auto pipe = largest_pipe(pipe_size);
    if (!pipe) throw std::runtime_error("mirror " + name_ + ": cannot create its feed pipes");
    pipes_.push_back(std::make_unique<FeedPipe>(std::move(*pipe)));
  }
  staging_ = largest_pipe(pipe_size);
  if (!staging_) throw std::runtime_error("mirror " + name_ + ": cannot create its staging pipe");
  for (unsigned worker = 0; worker < workers; ++worker)
    current_[worker] = worker * kPipesPerWorker;
  queue_.reserve(kMaxQueuedData + 64);
}

MirrorSink::~MirrorSink() {
  stop();
}

void MirrorSink::start() {
  open();
  log::info("mirror {}: {} feed pipes of {} B per worker", name_, kPipesPerWorker,
            pipes_.front()->pipe.capacity());
  thread_ = std::thread([this] { run(); });
}

void MirrorSink::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  queued_.notify_one();
  if (thread_.joinable()) thread_.join();
}

unsigned MirrorSink::pick_pipe(unsigned worker, bool refused) {
  unsigned& current = current_[worker];
  if (!refused && pipes_[current]->records.load(std::memory_order_relaxed) < kRecordsPerPipe)
    return current;
  const unsigned first = worker * kPipesPerWorker;
  for (unsigned i = 1; i < kPipesPerWorker; ++i) {
    const unsigned candidate = first + (current - first + i) % kPipesPerWorker;
    if (pipes_[candidate]->records.load(std::memory_order_acquire) == 0) {
      current = candidate;
      break;
    }
  }
  return current;
}

bool MirrorSink::reserve_data() {
  if (queued_bytes_.load(std::memory_order_relaxed) >= kMaxQueuedBytes) return false;
  if (queued_data_.fetch_add(1, std::memory_order_relaxed) < kMaxQueuedData) return true;
  cancel_data();
  return false;
}

void MirrorSink::push(const MirrorRecord& record) {
  if (record.kind == MirrorRecord::Kind::data) {
    pipes_[record.feed]->records.fetch_add(1, std::memory_order_relaxed);
    queued_bytes_.fetch_add(std::uint64_t{record.skip} + record.bytes, std::memory_order_relaxed);
  }
  bool was_empty = false;
  {
    std::lock_guard lock(mutex_);
    was_empty = queue_.empty();
    queue_.push_back(record);
  }
  // The sink thread only sleeps on an empty queue; later pushes find it awake.
  if (was_empty) queued_.notify_one();
}

// Swap out everything queued, handle it without the lock, repeat; after stop(), finish
// the queue and return.
void MirrorSink::run() {
  std::vector<MirrorRecord> batch;
  batch.reserve(kMaxQueuedData + 64);
  for (;;) {
    bool last = false;
    {
      std::unique_lock lock(mutex_);
      queued_.wait_for(lock, kTick, [this] { return stopping_ || !queue_.empty(); });
      batch.swap(queue_);
      last = stopping_ && batch.empty();
    }
    for (const MirrorRecord& record : batch) {
      if (record.kind != MirrorRecord::Kind::data) {
        handle(record, -1);
        continue;
      }
      handle(stage(record), staging_->read_fd());
      queued_bytes_.fetch_sub(std::uint64_t{record.skip} + record.bytes, std::memory_order_relaxed);
      pipes_[record.feed]->records.fetch_sub(1, std::memory_order_release);
      cancel_data();
    }
    batch.clear();
    tick();
    if (last) break;
  }
  close();
}

MirrorRecord MirrorSink::stage(const MirrorRecord& record) {
  const int feed_fd = pipes_[record.feed]->pipe.read_fd();
  if (record.skip != 0) discard(feed_fd, record.skip);
  MirrorRecord staged = record;
  staged.bytes = 0;
  while (staged.bytes < record.bytes) {
    const ssize_t n = ::splice(feed_fd, nullptr, staging_->write_fd(), nullptr,
                               record.bytes - staged.bytes, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n <= 0) break;
    staged.bytes += static_cast<std::uint32_t>(n);
  }
  if (staged.bytes < record.bytes) {
    // Cannot happen: an empty staging pipe has as many slots as the feed pipe. Stay in step.
    log::error("mirror {}: staged {} of {} bytes", name_, staged.bytes, record.bytes);
    discard(feed_fd, record.bytes - staged.bytes);
    count_drop(record.bytes - staged.bytes);
  }
  return staged;
}

void MirrorSink::discard(int pipe_fd, std::size_t bytes) {
  while (bytes > 0) {
    const ssize_t n = ::splice(pipe_fd, nullptr, dev_null_.get(), nullptr, bytes, SPLICE_F_MOVE);
    if (n <= 0) {
      // Cannot happen with the bytes in the pipe; say so rather than spin.
      log::error("mirror {}: cannot discard {} bytes from its feed pipe", name_, bytes);
      return;
    }
    bytes -= static_cast<std::size_t>(n);
  }
}

void MirrorSink::count_drop(std::uint64_t bytes) {
  if (bytes == 0) return;
  counters_.dropped_bytes.fetch_add(bytes, std::memory_order_relaxed);
  counters_.gaps.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace spliceproxy
