// ossl: the TLS vocabulary shared by contexts, connections and sessions:
// TlsVersion, SslVerifyMode, SessionCacheMode, ShutdownResult and SslIoError.
#pragma once

#include <ossl/detail/flags.hpp>
#include <ossl/error.hpp>

#include <openssl/ssl.h>

#include <string>
#include <string_view>

namespace ossl {

/// A TLS protocol version, valued as on the wire. ossl never enables anything older
/// than TLS 1.2. A connection made from an adopted context may report another
/// value (e.g. 0x0302); it is kept as the underlying int.
enum class TlsVersion : int {
  Tls12 = 0x0303,  ///< TLS 1.2 (TLS1_2_VERSION).
  Tls13 = 0x0304,  ///< TLS 1.3 (TLS1_3_VERSION).
};

/// Returns "TLSv1.2", "TLSv1.3", or "unknown (0x....)" style text for other values.
[[nodiscard]] OSSL_API std::string to_string(TlsVersion v);

/// Peer verification mode: SSL_VERIFY_* bits. Combine with operator|.
class SslVerifyMode : public detail::BitFlags<SslVerifyMode, int> {
 public:
  using BitFlags::BitFlags;
  static const SslVerifyMode NONE;  ///< Do not verify the peer (servers: do not ask).
  static const SslVerifyMode PEER;  ///< Verify the peer's certificate if sent.
  static const SslVerifyMode FAIL_IF_NO_PEER_CERT;  ///< Servers: fail when the client sends none.
  static const SslVerifyMode CLIENT_ONCE;           ///< Servers: do not ask again on renegotiation.
  static const SslVerifyMode POST_HANDSHAKE;        ///< Servers: TLS 1.3 post-handshake auth.
};
inline constexpr SslVerifyMode SslVerifyMode::NONE{SSL_VERIFY_NONE};
inline constexpr SslVerifyMode SslVerifyMode::PEER{SSL_VERIFY_PEER};
inline constexpr SslVerifyMode SslVerifyMode::FAIL_IF_NO_PEER_CERT{SSL_VERIFY_FAIL_IF_NO_PEER_CERT};
inline constexpr SslVerifyMode SslVerifyMode::CLIENT_ONCE{SSL_VERIFY_CLIENT_ONCE};
inline constexpr SslVerifyMode SslVerifyMode::POST_HANDSHAKE{SSL_VERIFY_POST_HANDSHAKE};

/// Session cache behaviour: SSL_SESS_CACHE_* bits. Combine with operator|.
class SessionCacheMode : public detail::BitFlags<SessionCacheMode, long> {
 public:
  using BitFlags::BitFlags;
  static const SessionCacheMode OFF;            ///< No caching at all.
  static const SessionCacheMode CLIENT;         ///< Cache client sessions.
  static const SessionCacheMode SERVER;         ///< Cache server sessions (OpenSSL's default).
  static const SessionCacheMode BOTH;           ///< CLIENT | SERVER.
  static const SessionCacheMode NO_AUTO_CLEAR;  ///< Do not flush expired sessions automatically.
  static const SessionCacheMode NO_INTERNAL_LOOKUP;  ///< Do not look up the internal cache.
  static const SessionCacheMode NO_INTERNAL_STORE;   ///< Do not store in the internal cache.
  static const SessionCacheMode NO_INTERNAL;         ///< NO_INTERNAL_LOOKUP | NO_INTERNAL_STORE.
};
inline constexpr SessionCacheMode SessionCacheMode::OFF{SSL_SESS_CACHE_OFF};
inline constexpr SessionCacheMode SessionCacheMode::CLIENT{SSL_SESS_CACHE_CLIENT};
inline constexpr SessionCacheMode SessionCacheMode::SERVER{SSL_SESS_CACHE_SERVER};
inline constexpr SessionCacheMode SessionCacheMode::BOTH{SSL_SESS_CACHE_BOTH};
inline constexpr SessionCacheMode SessionCacheMode::NO_AUTO_CLEAR{SSL_SESS_CACHE_NO_AUTO_CLEAR};
inline constexpr SessionCacheMode SessionCacheMode::NO_INTERNAL_LOOKUP{
    SSL_SESS_CACHE_NO_INTERNAL_LOOKUP};
inline constexpr SessionCacheMode SessionCacheMode::NO_INTERNAL_STORE{
    SSL_SESS_CACHE_NO_INTERNAL_STORE};
inline constexpr SessionCacheMode SessionCacheMode::NO_INTERNAL{SSL_SESS_CACHE_NO_INTERNAL};

/// Outcome of a successful Ssl::shutdown().
enum class ShutdownResult {
  Sent,      ///< Our close_notify is sent; the peer's has not arrived yet: call again.
  Complete,  ///< Both close_notify alerts are exchanged.
};

/// The failure of a TLS I/O call (handshake, read, write), typed after
/// SSL_get_error(). Retry outcomes (WantRead, WantWrite) carry no records; Ssl and
/// Syscall carry the drained ErrorStack.
class OSSL_API SslIoError {
 public:
  /// What an I/O call ended with, one per SSL_get_error() outcome.
  enum class Kind {
    WantRead,    ///< Non-blocking: the transport has no data yet; retry after it is readable.
    WantWrite,   ///< Non-blocking: the transport is full; retry after it is writable.
    ZeroReturn,  ///< The peer closed the TLS connection cleanly (close_notify).
    Syscall,     ///< The transport failed (see sys_errno()); the connection is dead.
    Ssl,         ///< A protocol or verification failure; the connection is dead.
    Other,       ///< Any other SSL_get_error() code (see ssl_error()).
  };

  /// An Other error with no records (what a default-constructed Result error holds).
  SslIoError() noexcept = default;
  /// Makes an error of `kind` with its records, SSL_get_error() code and errno.
  SslIoError(Kind kind, ErrorStack stack = {}, int ssl_error = 0, int sys_errno = 0)
      : kind_(kind), stack_(std::move(stack)), ssl_error_(ssl_error), errno_(sys_errno) {}

  /// Returns what happened.
  [[nodiscard]] Kind kind() const noexcept { return kind_; }
  /// Returns the drained OpenSSL records (empty for WantRead/WantWrite/ZeroReturn).
  [[nodiscard]] const ErrorStack& stack() const noexcept { return stack_; }
  /// Returns the raw SSL_get_error() code.
  [[nodiscard]] int ssl_error() const noexcept { return ssl_error_; }
  /// Returns errno as it was right after the failed call (Syscall only, else 0).
  [[nodiscard]] int sys_errno() const noexcept { return errno_; }

  /// Returns true for WantRead and WantWrite: nothing failed, retry later.
  [[nodiscard]] bool would_block() const noexcept {
    return kind_ == Kind::WantRead || kind_ == Kind::WantWrite;
  }

  /// Returns true when the peer's transport ended without a close_notify: the data
  /// may have been cut short by an attacker or a crash. Distinct from ZeroReturn,
  /// a clean close. (Kind::Ssl with SSL_R_UNEXPECTED_EOF_WHILE_READING.)
  [[nodiscard]] bool truncated() const noexcept;

  /// Formats the kind and, when present, the records: "Ssl: SSL routines: ...".
  [[nodiscard]] std::string to_string() const;

  /// Compares the kind, so that `err == SslIoError::Kind::WantRead` reads naturally.
  friend bool operator==(const SslIoError& e, Kind k) noexcept { return e.kind_ == k; }

 private:
  Kind kind_ = Kind::Other;
  ErrorStack stack_;
  int ssl_error_ = 0;
  int errno_ = 0;
};

/// Returns the name of `kind`: "WantRead", "WantWrite", "ZeroReturn", ...
[[nodiscard]] OSSL_API std::string_view to_string(SslIoError::Kind kind) noexcept;

/// ADL hook for Result<T, SslIoError>::value(): the stack with the kind as context.
[[nodiscard]] OSSL_API ErrorStack to_error_stack(const SslIoError& e);

}  // namespace ossl
