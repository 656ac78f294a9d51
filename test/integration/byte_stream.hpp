// Deterministic byte streams and SHA-256, to send data that both ends of a test can name
// by a seed and to compare what crossed a connection by digest.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace spliceproxy::test {

inline constexpr std::uint64_t kKiB = 1024;
inline constexpr std::uint64_t kMiB = 1024 * kKiB;

// splitmix64: a fast, seeded, well-mixed 64-bit sequence.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next();
  // Uniform in [lo, hi] (modulo bias is irrelevant here).
  std::uint64_t uniform(std::uint64_t lo, std::uint64_t hi);
  // Log-uniform in [1, max]: as many tiny writes as large ones.
  std::uint64_t log_uniform(std::uint64_t max);

 private:
  std::uint64_t state_;
};

// An endless deterministic byte stream; `fill` hands out its next bytes.
class ByteStream {
 public:
  explicit ByteStream(std::uint64_t seed) : rng_(seed) {}
  void fill(std::span<std::uint8_t> out);

 private:
  SplitMix64 rng_;
  std::uint64_t word_ = 0;
  unsigned word_left_ = 0;  // bytes of word_ not handed out yet, lowest first
};

// Incremental SHA-256 (OpenSSL EVP).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::span<const std::uint8_t> bytes);
  // Lowercase hex of the digest; call once.
  std::string hex_digest();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// SHA-256 of the first `bytes` bytes of ByteStream(seed).
std::string stream_sha256(std::uint64_t seed, std::uint64_t bytes);

}  // namespace spliceproxy::test
