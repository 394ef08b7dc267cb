// ossl: session ticket keys a server encrypts its tickets with (RFC 5077 tickets in TLS
// 1.2, stateless tickets in TLS 1.3), in nginx's ssl_session_ticket_key file format, so
// that several server processes given the same keys resume each other's sessions.
// src/ticket_keys.cpp owns the context's ticket key callback slot.
#pragma once

#include <ossl/detail/export.hpp>
#include <ossl/result.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ossl {

/// One session ticket key (a server context takes a list of them:
/// SslCtx::set_ticket_keys(), builder ticket_keys()): a 16-byte name (sent in the clear in each
/// ticket, to find the key again), an HMAC-SHA256 secret and an AES-CBC key. Two sizes, as nginx
/// reads them: 80 bytes (name, 32-byte HMAC secret, 32-byte AES-256 key) and 48 bytes (name,
/// 16-byte HMAC secret, 16-byte AES-128 key). The bytes are secret: anyone holding them
/// can decrypt every session (and so the traffic) of the tickets they made.
class OSSL_API TicketKey {
 public:
  /// Size of a key with AES-256 (what generate() makes).
  static constexpr std::size_t kSize = 80;
  /// Size of a key with AES-128 (nginx's older form).
  static constexpr std::size_t kSmallSize = 48;

  /// Draws a new 80-byte key from OpenSSL's CSPRNG. (RAND_priv_bytes)
  [[nodiscard]] static Result<TicketKey> generate();
  /// Takes a key of 80 or 48 bytes (nginx's layout); any other size is an error naming
  /// it.
  [[nodiscard]] static Result<TicketKey> from_bytes(std::span<const std::byte> bytes);
  /// Reads a key file: exactly 80 or 48 bytes, as `openssl rand 80 > file` writes and
  /// nginx's ssl_session_ticket_key reads. Errors name the path and the size found.
  [[nodiscard]] static Result<TicketKey> load_file(std::string_view path);
  /// Writes the key (owner read/write only, mode 0600; an existing file is replaced).
  [[nodiscard]] Result<void> write_file(std::string_view path) const;

  /// Returns the key's bytes in nginx's layout (80 or 48 bytes).
  [[nodiscard]] std::span<const std::byte> bytes() const noexcept {
    return std::span<const std::byte>(bytes_.data(), size_);
  }
  /// Returns the 16-byte name that tickets made with this key carry.
  [[nodiscard]] std::span<const std::byte, 16> name() const noexcept {
    return std::span<const std::byte, 16>(bytes_.data(), 16);
  }
  /// Returns the name as 32 hex digits, for logs (the name is not secret).
  [[nodiscard]] std::string name_hex() const;
  /// True for an 80-byte (AES-256) key.
  [[nodiscard]] bool aes256() const noexcept { return size_ == kSize; }

  /// Keys are equal when their bytes are (compared in constant time).
  friend OSSL_API bool operator==(const TicketKey& a, const TicketKey& b) noexcept;

  /// Copies the key (both copies hold the secret; each wipes its own).
  TicketKey(const TicketKey&) = default;
  /// Copies the key over this one.
  TicketKey& operator=(const TicketKey&) = default;
  /// Wipes the key's bytes. (OPENSSL_cleanse)
  ~TicketKey();

 private:
  TicketKey() = default;
  std::array<std::byte, kSize> bytes_{};
  std::size_t size_ = 0;
};

}  // namespace ossl
