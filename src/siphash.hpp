// Private to src/: SipHash-2-4 (Aumasson and Bernstein, 2012), a keyed pseudo-random
// function over byte strings. ossl uses it with a per-process random key to tag what a
// session was authenticated for (src/verify.cpp): without the key nobody can produce
// two inputs with the same tag. Streaming, no allocation.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace ossl::detail {

class SipHash24 {
 public:
  /// Starts a hash under the 128-bit key (k0, k1).
  SipHash24(std::uint64_t k0, std::uint64_t k1) noexcept
      : v0_(k0 ^ 0x736f6d6570736575ULL),
        v1_(k1 ^ 0x646f72616e646f6dULL),
        v2_(k0 ^ 0x6c7967656e657261ULL),
        v3_(k1 ^ 0x7465646279746573ULL) {}

  /// Absorbs `data`: whole little-endian words where it can, bytes around them.
  void update(std::span<const std::byte> data) noexcept {
    std::size_t i = 0;
    for (; i < data.size() && total_ % 8 != 0; ++i)
      absorb(data[i]);
    for (; data.size() - i >= 8; i += 8) {
      std::uint64_t word = 0;
      if constexpr (std::endian::native == std::endian::little) {
        std::memcpy(&word, data.data() + i, 8);  // one load
      } else {
        for (int k = 0; k < 8; ++k)
          word |= static_cast<std::uint64_t>(data[i + k]) << (8 * k);
      }
      compress(word);
      total_ += 8;
    }
    for (; i < data.size(); ++i)
      absorb(data[i]);
  }

  /// Returns the 64-bit hash of everything absorbed.
  [[nodiscard]] std::uint64_t finish() noexcept {
    const std::uint64_t last = tail_ | (static_cast<std::uint64_t>(total_ & 0xff) << 56);
    compress(last);
    v2_ ^= 0xff;
    for (int i = 0; i < 4; ++i)
      round();
    return v0_ ^ v1_ ^ v2_ ^ v3_;
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int b) noexcept { return (x << b) | (x >> (64 - b)); }
  void absorb(std::byte b) noexcept {
    tail_ |= static_cast<std::uint64_t>(b) << (8 * (total_ % 8));
    ++total_;
    if (total_ % 8 == 0) {
      compress(tail_);
      tail_ = 0;
    }
  }
  void round() noexcept {
    v0_ += v1_;
    v1_ = rotl(v1_, 13);
    v1_ ^= v0_;
    v0_ = rotl(v0_, 32);
    v2_ += v3_;
    v3_ = rotl(v3_, 16);
    v3_ ^= v2_;
    v0_ += v3_;
    v3_ = rotl(v3_, 21);
    v3_ ^= v0_;
    v2_ += v1_;
    v1_ = rotl(v1_, 17);
    v1_ ^= v2_;
    v2_ = rotl(v2_, 32);
  }
  void compress(std::uint64_t m) noexcept {
    v3_ ^= m;
    round();
    round();
    v0_ ^= m;
  }

  std::uint64_t v0_, v1_, v2_, v3_;
  std::uint64_t tail_ = 0;
  std::size_t total_ = 0;
};

}  // namespace ossl::detail
