// Deterministic byte streams and SHA-256 for integration tests. See byte_stream.hpp.
#include "test/integration/byte_stream.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace spliceproxy::test {

std::uint64_t SplitMix64::next() {
  std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t SplitMix64::uniform(std::uint64_t lo, std::uint64_t hi) {
  return lo + next() % (hi - lo + 1);
}

std::uint64_t SplitMix64::log_uniform(std::uint64_t max) {
  const int bits = 64 - __builtin_clzll(max);
  const std::uint64_t top = std::min<std::uint64_t>(max, 1ULL << uniform(0, bits - 1));
  return uniform(1, top);
}

void ByteStream::fill(std::span<std::uint8_t> out) {
  std::size_t i = 0;
  for (; i < out.size() && word_left_ > 0; ++i, --word_left_, word_ >>= 8) {
    out[i] = static_cast<std::uint8_t>(word_);
  }
  for (; i + 8 <= out.size(); i += 8) {
    const std::uint64_t word = rng_.next();
    std::memcpy(out.data() + i, &word, 8);  // little-endian: the same order as the tail below
  }
  if (i == out.size()) return;
  word_ = rng_.next();
  for (word_left_ = 8; i < out.size(); ++i, --word_left_, word_ >>= 8) {
    out[i] = static_cast<std::uint8_t>(word_);
  }
}

struct Sha256::Impl {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Impl() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  if (impl_->ctx == nullptr || EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("EVP_DigestInit_ex(sha256) failed");
  }
}

Sha256::~Sha256() = default;

void Sha256::update(std::span<const std::uint8_t> bytes) {
  EVP_DigestUpdate(impl_->ctx, bytes.data(), bytes.size());
}

std::string Sha256::hex_digest() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(impl_->ctx, digest, &len);
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned i = 0; i < len; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 0xf];
  }
  return hex;
}

std::string stream_sha256(std::uint64_t seed, std::uint64_t bytes) {
  ByteStream stream(seed);
  Sha256 hash;
  std::vector<std::uint8_t> buffer(256 * kKiB);
  while (bytes > 0) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(bytes, buffer.size()));
    stream.fill(std::span(buffer.data(), n));
    hash.update(std::span(buffer.data(), n));
    bytes -= n;
  }
  return hash.hex_digest();
}

}  // namespace spliceproxy::test
