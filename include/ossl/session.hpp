// ossl: SslSession (reference-counted SSL_SESSION) and BorrowedSslSession (what
// Ssl::session() returns: a read-only handle on a connection's current session that
// holds a reference of its own, so it cannot dangle).
#pragma once

#include <ossl/detail/handle.hpp>
#include <ossl/result.hpp>
#include <ossl/tls.hpp>

#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
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

  /// Parses a session serialised by to_der(). Trailing bytes are an error. The session
  /// keeps its binding to what it was authenticated for (Ssl::set_session()), which is
  /// keyed per process: it resumes in the process that made it, not in another one.
  /// (d2i_SSL_SESSION)
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

  /// Returns when the session was established. (SSL_SESSION_get_time_ex where OpenSSL
  /// has it, 3.3 and later; SSL_SESSION_get_time before)
  [[nodiscard]] Clock::time_point time() const noexcept;

  /// Returns how long after time() the session may be resumed. (SSL_SESSION_get_timeout)
  [[nodiscard]] std::chrono::seconds timeout() const noexcept;

  /// Returns true when the session can be offered for resumption: for TLS 1.3 only
  /// once the server's ticket has been read. (SSL_SESSION_is_resumable)
  [[nodiscard]] bool is_resumable() const noexcept;

  /// Returns how many bytes of TLS 1.3 early data the server allows under this
  /// session (0: none; always 0 for TLS 1.2). (SSL_SESSION_get_max_early_data)
  [[nodiscard]] std::uint32_t max_early_data() const noexcept;

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

/// A read-only handle on a connection's session, as Ssl::session() returns it. It holds
/// a reference of its own (SSL_SESSION_up_ref): OpenSSL may replace a connection's
/// session at any read (a TLS 1.3 client does so for every NewSessionTicket), and C++
/// cannot stop a plain view from outliving it. The handle keeps the session it was
/// given; `SslSession s = *borrowed;` shares it (another up-ref) for keeping.
class BorrowedSslSession {
 public:
  /// Takes a reference of its own to `p` (SSL_SESSION_up_ref). `p` must not be null.
  explicit BorrowedSslSession(SSL_SESSION* p) noexcept : s_(up_ref(p)) {}

  /// Returns the session as a const SslSession (valid as long as this handle).
  const SslSession& operator*() const noexcept { return s_; }
  /// Gives access to the session's accessors: `borrowed->protocol_version()`.
  const SslSession* operator->() const noexcept { return &s_; }

 private:
  static SslSession up_ref(SSL_SESSION* p) noexcept {
    SSL_SESSION_up_ref(p);  // an atomic increment: cannot fail on a valid session
    return SslSession(p);
  }
  SslSession s_;
};

}  // namespace ossl
