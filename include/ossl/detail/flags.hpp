// ossl private machinery: typed bit flags (SslVerifyMode, HostnameFlags, ...).
#pragma once

namespace ossl::detail {

/// Base for a typed set of OpenSSL flag bits of integer type I. `D` inherits the
/// constructor (`using BitFlags::BitFlags;`) and defines its named constants.
template <class D, class I>
class BitFlags {
 public:
  /// The integer type OpenSSL uses for these bits.
  using bits_type = I;
  /// The empty set (no bits).
  constexpr BitFlags() noexcept = default;
  /// Wraps raw OpenSSL bits as they are; unknown bits are kept, not rejected.
  constexpr explicit BitFlags(I bits) noexcept : bits_(bits) {}

  /// Returns the raw OpenSSL bits.
  [[nodiscard]] constexpr I bits() const noexcept { return bits_; }
  /// Returns true when every bit of `o` is set here.
  [[nodiscard]] constexpr bool contains(D o) const noexcept {
    return (bits_ & o.bits()) == o.bits();
  }

  /// Returns the union of both sets (the reference API's `.or()`).
  friend constexpr D operator|(D a, D b) noexcept { return D(static_cast<I>(a.bits() | b.bits())); }
  /// Returns true when both sets hold the same bits.
  friend constexpr bool operator==(D a, D b) noexcept { return a.bits() == b.bits(); }

 private:
  I bits_ = 0;
};

}  // namespace ossl::detail
