// ossl: SslSession (reference-counted SSL_SESSION) and BorrowedSslSession (a view
// of a connection's current session that takes no reference).
#pragma once

#include <ossl/detail/handle.hpp>
#include <ossl/result.hpp>
#include <ossl/tls.hpp>

#include <openssl/ssl.h>

#include <chrono>
#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

namespace ossl {

namespace detail {
/// How Handle frees and shares an SSL_SESSION.
template <>
struct HandleTraits<SSL_SESSION> {
  /// Releases one reference (SSL_SESSION_free).
  static void free(SSL_SESSION* p) noexcept { SSL_SESSION_free(p); }
  /// Takes one more reference (SSL_SESSION_up_ref).
  // SSL_SESSION_up_ref is an atomic increment; it cannot fail on a valid session.
  static void up_ref(SSL_SESSION* p) noexcept { SSL_SESSION_up_ref(p); }
};
}  // namespace detail

class BorrowedSslSession;

/// Reference-counted owner of a TLS session, for resumption. Copies share one
/// session (SSL_SESSION_up_ref). A session is immutable once made: every accessor is
/// const and safe to call from several threads.
class OSSL_API SslSession : public detail::Owner<SslSession, SSL_SESSION> {
 public:
  /// The type name that error messages start with ("Name::method: ...").
  static constexpr const char* kName = "SslSession";
  /// The clock of time() and timeout points.
  using Clock = std::chrono::system_clock;

  /// An empty SslSession (operator bool is false; methods return an "empty SslSession" error).
  SslSession() noexcept = default;

  /// Parses a session serialised by to_der(), e.g. one a client persisted to disk.
  /// Trailing bytes are an error. (d2i_SSL_SESSION)
  [[nodiscard]] static Result<SslSession> from_der(std::span<const std::byte> der);

  /// Serialises the session (including its secret: store it as carefully as a key).
  /// (i2d_SSL_SESSION)
  [[nodiscard]] Result<std::vector<std::byte>> to_der() const;

  /// Returns the session id (may be empty for TLS 1.3 tickets); the view is valid while
  /// the session lives. (SSL_SESSION_get_id)
  [[nodiscard]] std::span<const std::byte> id() const noexcept;

  /// Returns the protocol version the session was made with.
  /// (SSL_SESSION_get_protocol_version)
  [[nodiscard]] TlsVersion protocol_version() const noexcept;

  /// Returns the cipher suite's OpenSSL name, empty when unknown.
  /// (SSL_SESSION_get0_cipher, SSL_CIPHER_get_name)
  [[nodiscard]] std::string_view cipher_name() const noexcept;

  /// Returns when the session was established. (SSL_SESSION_get_time)
  [[nodiscard]] Clock::time_point time() const noexcept;

  /// Returns how long after time() the session may be resumed. (SSL_SESSION_get_timeout)
  [[nodiscard]] std::chrono::seconds timeout() const noexcept;

  /// Returns true when the session can be offered for resumption: for TLS 1.3 only
  /// once the server's ticket has been read. (SSL_SESSION_is_resumable)
  [[nodiscard]] bool is_resumable() const noexcept;

  /// Returns true when the session carries a ticket. (SSL_SESSION_has_ticket)
  [[nodiscard]] bool has_ticket() const noexcept;

  /// Returns the server's ticket lifetime hint. (SSL_SESSION_get_ticket_lifetime_hint)
  [[nodiscard]] std::chrono::seconds ticket_lifetime_hint() const noexcept;

  /// Returns the ALPN protocol negotiated with the session, empty when none.
  /// (SSL_SESSION_get0_alpn_selected)
  [[nodiscard]] std::string_view alpn_selected() const noexcept;

  /// Returns the SNI host name recorded in the session; OpenSSL records it only when
  /// the server acknowledged SNI (which takes a servername callback: ossl servers
  /// with SNI certificates, SslCtx::add_sni_certificate(), acknowledge), else empty.
  /// (SSL_SESSION_get0_hostname)
  [[nodiscard]] std::string_view hostname() const noexcept;

 private:
  friend class detail::Owner<SslSession, SSL_SESSION>;
  friend class BorrowedSslSession;
  explicit SslSession(SSL_SESSION* p) noexcept : Owner(p) {}
};

/// A view of a connection's current session that holds no reference (SSL_get_session,
/// the get0 variant). It is valid only while the Ssl it came from lives and keeps that
/// session; copy it into an SslSession (`SslSession s = *borrowed;`, an up-ref) to keep
/// it longer.
class BorrowedSslSession {
 public:
  /// Wraps `p` without taking a reference. `p` must not be null.
  explicit BorrowedSslSession(SSL_SESSION* p) noexcept : s_(p) {}
  ///@{
  /// Copies the view; neither copy holds a reference.
  BorrowedSslSession(const BorrowedSslSession& o) noexcept : s_(o.s_.native_handle()) {}
  BorrowedSslSession& operator=(const BorrowedSslSession& o) noexcept {
    if (this != &o) {  // releasing first would lose the pointer on self-assignment
      release_view();
      s_ = SslSession(o.s_.native_handle());
    }
    return *this;
  }
  ///@}
  /// Drops the view; frees nothing.
  ~BorrowedSslSession() { release_view(); }

  /// Returns the session as a const SslSession (valid as long as the view).
  const SslSession& operator*() const noexcept { return s_; }
  /// Gives access to the session's accessors: `borrowed->protocol()`.
  const SslSession* operator->() const noexcept { return &s_; }

 private:
  // Gives the pointer back without SSL_SESSION_free: it was never ours to free.
  void release_view() noexcept { (void)s_.release(); }
  SslSession s_;
};

}  // namespace ossl
