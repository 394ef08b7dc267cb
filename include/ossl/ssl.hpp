// ossl: Ssl, the move-only SSL: one TLS connection made from an SslCtx
// (<ossl/context.hpp>, included here).
#pragma once

#include <ossl/alpn.hpp>
#include <ossl/bio.hpp>
#include <ossl/context.hpp>
#include <ossl/detail/handle.hpp>
#include <ossl/early_data.hpp>
#include <ossl/pkey.hpp>
#include <ossl/result.hpp>
#include <ossl/session.hpp>
#include <ossl/tls.hpp>
#include <ossl/verify.hpp>
#include <ossl/x509.hpp>

#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ossl {

namespace detail {
/// How Handle frees an SSL.
template <>
struct HandleTraits<SSL> {
  /// Releases one reference (SSL_free).
  static void free(SSL* p) noexcept { SSL_free(p); }
};
}  // namespace detail

/// Which close_notify alerts a connection has sent and received. (SSL_get_shutdown)
struct ShutdownState {
  bool sent = false;      ///< This side sent close_notify (SSL_SENT_SHUTDOWN).
  bool received = false;  ///< The peer's close_notify arrived (SSL_RECEIVED_SHUTDOWN).
  /// Returns true when both fields are equal.
  friend bool operator==(const ShutdownState&, const ShutdownState&) = default;
};

/// Move-only owner of one TLS connection (SSL). Exclusive ownership: move it between
/// threads freely, but never use one Ssl from two threads at once.
///
/// Every I/O call empties the thread's error queue first (only when something is
/// queued) and returns a typed SslIoError; after a Syscall or Ssl error the
/// connection is dead and shutdown() refuses to send close_notify.
class OSSL_API Ssl : public detail::Owner<Ssl, SSL> {
 public:
  /// The type name that error messages start with ("Name::method: ...").
  static constexpr const char* kName = "Ssl";

  /// An empty Ssl (operator bool is false; methods return an "empty Ssl" error).
  Ssl() noexcept = default;
  ///@{
  /// Takes over `other`'s connection (freeing the one held before, without a
  /// close_notify); `other` is left empty.
  Ssl(Ssl&& other) noexcept = default;
  Ssl& operator=(Ssl&& other) noexcept = default;
  ///@}
  Ssl(const Ssl&) = delete;
  Ssl& operator=(const Ssl&) = delete;
  /// Frees the connection (SSL_free) without sending close_notify: call shutdown()
  /// first for a clean close (an unclosed session is not resumable).
  ~Ssl() = default;

  /// Attaches one BIO for both directions (e.g. a BIO pair half); the Ssl now owns
  /// it and `bio` is left empty. On an empty Ssl nothing happens and `bio` keeps its
  /// BIO. (SSL_set_bio with rbio == wbio: one reference is transferred)
  void set_bio_duplex(Bio&& bio) noexcept;
  /// Attaches separate read and write BIOs; the Ssl owns both and the arguments are
  /// left empty. On an empty Ssl nothing happens. (SSL_set_bio)
  void set_bio(Bio&& rbio, Bio&& wbio) noexcept;

  /// Attaches a connected socket for both directions: OpenSSL wraps it in a socket BIO
  /// that does not close it, so the caller still owns `fd` and closes it after the
  /// Ssl. Blocking or non-blocking as the socket is. A negative fd is an error.
  /// (SSL_set_fd)
  [[nodiscard]] Result<void> set_fd(int fd);

  /// Sets the SNI host name sent in the ClientHello. Empty names, names over 255
  /// bytes, embedded NULs and IP literals (forbidden in SNI by RFC 6066) are errors.
  /// (SSL_set_tlsext_host_name, i.e. SSL_ctrl(SSL_CTRL_SET_TLSEXT_HOSTNAME))
  [[nodiscard]] Result<void> set_hostname(std::string_view hostname);
  /// Returns the SNI name: the one set (client) or received (server); nullopt when
  /// none. (SSL_get_servername)
  [[nodiscard]] std::optional<std::string_view> hostname() const noexcept;

  /// Makes this connection's verification require that the peer certificate match
  /// `host`: a DNS name (checked against SANs) or an IP literal (checked against IP
  /// SANs). Verification must be on (SslVerifyMode::PEER) for this to matter.
  /// The name or IP replaces any inherited from the context. (X509_VERIFY_PARAM_set1_host
  /// on SSL_get0_param, or X509_VERIFY_PARAM_set1_ip_asc for IP literals)
  [[nodiscard]] Result<void> set_verify_hostname(std::string_view host);
  /// Prepares a client connection for `host`: sends SNI for a DNS name (never for an
  /// IP literal, which RFC 6066 forbids), and requires the certificate to match the
  /// name (or, for an IP literal, an IP SAN) under `flags`; by default no partial
  /// wildcards and no fallback to the subject CN (RFC 9525: the name must be in a
  /// subjectAltName). Verification must be on.
  /// (SSL_set_tlsext_host_name, SSL_set_hostflags, X509_VERIFY_PARAM_set1_host /
  /// X509_VERIFY_PARAM_set1_ip_asc)
  [[nodiscard]] Result<void> set_peer_host(
      std::string_view host, HostnameFlags flags = HostnameFlags::NO_PARTIAL_WILDCARDS |
                                                   HostnameFlags::NEVER_CHECK_SUBJECT);
  /// Sets the protocols this connection offers, in wire format (validated first).
  /// (SSL_set_alpn_protos, which returns 0 on success)
  [[nodiscard]] Result<void> set_alpn_protos(std::span<const std::byte> wire);
  /// Sets the matching flags for set_verify_hostname(). (SSL_set_hostflags)
  void set_verify_hostname_flags(HostnameFlags flags) noexcept;
  /// Sets how this connection verifies its peer; the verify callback (the context's,
  /// copied at creation) stays. (SSL_set_verify with SSL_get_verify_callback)
  void set_verify(SslVerifyMode mode) noexcept;

  /// Sets this connection's lowest version. (SSL_set_min_proto_version, i.e.
  /// SSL_ctrl(SSL_CTRL_SET_MIN_PROTO_VERSION))
  [[nodiscard]] Result<void> set_min_proto_version(TlsVersion version);
  /// Sets this connection's highest version. (SSL_set_max_proto_version, i.e.
  /// SSL_ctrl(SSL_CTRL_SET_MAX_PROTO_VERSION))
  [[nodiscard]] Result<void> set_max_proto_version(TlsVersion version);

  /// Makes this connection a client for do_handshake(). (SSL_set_connect_state)
  void set_connect_state() noexcept;
  /// Makes this connection a server for do_handshake(). (SSL_set_accept_state)
  void set_accept_state() noexcept;

  /// Runs the client handshake until done or it would block. (SSL_connect)
  [[nodiscard]] Result<void, SslIoError> connect();
  /// Runs the server handshake until done or it would block. (SSL_accept)
  [[nodiscard]] Result<void, SslIoError> accept();
  /// Runs the handshake in the role set before. (SSL_do_handshake)
  [[nodiscard]] Result<void, SslIoError> do_handshake();

  /// Reads decrypted bytes into `buf` and returns how many (at least 1). An empty
  /// `buf` returns 0 at once. Errors: WantRead/WantWrite (retry), ZeroReturn (clean
  /// close), Ssl (truncated() if the transport ended without close_notify), Syscall.
  /// (SSL_read_ex)
  [[nodiscard]] Result<std::size_t, SslIoError> read(std::span<std::byte> buf);
  /// Overload of read() for char buffers.
  [[nodiscard]] Result<std::size_t, SslIoError> read(std::span<char> buf);
  /// Overload of read() for unsigned char buffers.
  [[nodiscard]] Result<std::size_t, SslIoError> read(std::span<unsigned char> buf);

  /// Encrypts and sends all of `buf` and returns its size; an empty `buf` returns 0 at
  /// once. After WantWrite, call again with the same bytes (they may have moved: every
  /// Ssl has SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER, whether SslCtx::new_ssl() made it or
  /// adopt() / share() took it over from raw code). (SSL_write_ex)
  [[nodiscard]] Result<std::size_t, SslIoError> write(std::span<const std::byte> buf);
  /// Overload of write() for text.
  [[nodiscard]] Result<std::size_t, SslIoError> write(std::string_view text);
  /// Overload of write() for unsigned char buffers.
  [[nodiscard]] Result<std::size_t, SslIoError> write(std::span<const unsigned char> buf);

  /// Client, TLS 1.3 resumption: sends `buf` as early data (0-RTT), before the
  /// handshake, under the session offered with set_session() (or picked by
  /// new_ssl_for_host()), and returns its size. Call it before connect()/do_handshake(),
  /// as often as needed, then finish the handshake and ask early_data_status(): on
  /// Rejected the server never saw the bytes and they must be sent again with write().
  /// Fails, saying why, when no session is offered, when the offered one no longer
  /// binds to this connection, or when it allows no early data (a TLS 1.2 session, a
  /// server that does not take early data), or when `buf` exceeds what it allows.
  /// Early data can be replayed by an attacker: send only what is safe to repeat.
  /// (SSL_write_early_data, SSL_SESSION_get_max_early_data)
  [[nodiscard]] Result<std::size_t, SslIoError> write_early_data(std::span<const std::byte> buf);
  /// Overload of write_early_data() for text.
  [[nodiscard]] Result<std::size_t, SslIoError> write_early_data(std::string_view text);

  /// Server whose context takes early data (SslCtx::set_max_early_data()): reads the
  /// client's early data into `buf`, before the handshake completes. Call it first on
  /// a new connection (in accept state) until it returns `finished`, then
  /// do_handshake()/accept(); read() returns only what comes after the handshake and
  /// fails if called before `finished`. A server that never calls it rejects early data.
  /// The bytes may be a replay from another connection (under another ticket, or on
  /// another server not sharing this one's store): act only on requests that are safe
  /// to repeat. (SSL_read_early_data)
  [[nodiscard]] Result<EarlyDataRead, SslIoError> read_early_data(std::span<std::byte> buf);
  /// Overload of read_early_data() for char buffers.
  [[nodiscard]] Result<EarlyDataRead, SslIoError> read_early_data(std::span<char> buf);

  /// Whether early data was sent and accepted; final once the handshake is done.
  /// (SSL_get_early_data_status)
  [[nodiscard]] EarlyDataStatus early_data_status() const noexcept;

  /// Schedules a TLS 1.3 key update, sent with the next write (or a do_handshake());
  /// with `request_peer_update` the peer updates its keys too. TLS 1.2 has no key
  /// update (ossl never renegotiates): an error there. (SSL_key_update)
  [[nodiscard]] Result<void> key_update(bool request_peer_update);

  /// Sends close_notify (returns Sent) and, on a later call once the peer's
  /// close_notify arrived, returns Complete. Errors: WantWrite when the transport cannot
  /// take close_notify yet (call again when it is writable); Other, with nothing sent
  /// and the connection left as it was, before the handshake completed or after a
  /// fatal error (OpenSSL forbids close_notify then); Ssl/Syscall when sending fails.
  /// Use io::shutdown() to also wait for the peer. (SSL_shutdown)
  [[nodiscard]] Result<ShutdownResult, SslIoError> shutdown();
  /// Returns which close_notify alerts were sent and received. (SSL_get_shutdown)
  [[nodiscard]] ShutdownState shutdown_state() const noexcept;
  /// Returns true once an I/O call failed with an error OpenSSL treats as fatal (Ssl or
  /// Syscall; not a write after shutdown() nor a shutdown() before the handshake, which
  /// are the caller's mistakes). ossl's own record: OpenSSL has no getter for it.
  [[nodiscard]] bool has_fatal_error() const noexcept { return fatal_; }

  /// Returns the peer's leaf certificate, shared; nullopt before the handshake or when
  /// the peer sent none. (SSL_get0_peer_certificate + X509_up_ref)
  [[nodiscard]] std::optional<X509> peer_certificate() const;
  /// Returns the peer's chain as sent, each certificate shared; nullopt before the
  /// handshake or without a peer certificate. On a server OpenSSL omits the client's
  /// leaf: use peer_certificate() for it. (SSL_get_peer_cert_chain + X509_up_ref)
  [[nodiscard]] std::optional<std::vector<X509>> peer_cert_chain() const;

  /// Returns the current session with its own reference, to keep and resume later;
  /// nullopt when there is none. For TLS 1.3 it is resumable only after the client
  /// has read the server's tickets (a read that returns WantRead suffices). Freeing
  /// the Ssl without shutdown() makes OpenSSL mark the session not resumable, since
  /// the connection may have been cut. (SSL_get1_session)
  [[nodiscard]] std::optional<SslSession> get1_session() const;
  /// Returns the current session as a BorrowedSslSession, which holds a reference of
  /// its own: a TLS 1.3 client replaces its session whenever a read processes a
  /// NewSessionTicket, and the view stays valid after that (it then shows the session
  /// that was current when it was taken). nullopt when there is none.
  /// (SSL_get_session + SSL_SESSION_up_ref)
  [[nodiscard]] std::optional<BorrowedSslSession> session() const noexcept;
  /// Offers `session` for resumption on the next handshake (the Ssl takes its own
  /// reference), only where the session's authentication still holds: it must have
  /// been verified by a connection of this same context (in this process), with the
  /// same verification mode, host flags and host name or IP as this connection has now.
  /// So name the host first (new_ssl_for_host, set_peer_host), then offer the session.
  /// A session for another host, from another context (a danger_... one included), or
  /// with no such record (made by a context whose verify callback is not ossl's, or
  /// whose verification failed) is refused with an error saying which. If the host,
  /// mode or flags change after this call, the handshake withdraws the session and runs
  /// a full, verified handshake. A raw SSL_set_session() of such a session through
  /// native_handle() fails the handshake instead ("attempt to reuse session in
  /// different context"): the binding is the session id context, which OpenSSL's
  /// client compares on resumption. (SSL_set_session, SSL_set_session_id_context)
  [[nodiscard]] Result<void> set_session(const SslSession& session);
  /// Returns true when the handshake resumed a session. (SSL_session_reused)
  [[nodiscard]] bool session_reused() const noexcept;

  /// Fills `out` with keying material derived from the connection's secrets under
  /// `label` and, when given, `context` (RFC 5705 for TLS 1.2, RFC 8446 section 7.5
  /// for TLS 1.3): both ends get the same bytes, nobody else can. In TLS 1.2 no
  /// context and an empty one give different bytes; in TLS 1.3 they are the same.
  /// Errors: before the handshake completes, an empty `out`, in TLS 1.2 a label the
  /// protocol uses itself ("master secret", "key expansion", ...), in TLS 1.3 a length
  /// HKDF cannot derive (over 255 hash lengths). (SSL_export_keying_material)
  [[nodiscard]] Result<void> export_keying_material(
      std::span<std::byte> out, std::string_view label,
      std::optional<std::span<const std::byte>> context = std::nullopt) const;

  /// Caps the plaintext in each record this connection sends at `bytes` (512 to
  /// 16384), overriding the context's limit. Anything outside that range is an error
  /// naming it, and so is a call after the handshake started (OpenSSL sized its write
  /// buffer then: a larger limit would make writes fail).
  /// (SSL_set_max_send_fragment, i.e. SSL_ctrl(SSL_CTRL_SET_MAX_SEND_FRAGMENT))
  [[nodiscard]] Result<void> set_max_send_fragment(std::size_t bytes);

  /// Returns the bytes decrypted and buffered, readable without blocking. (SSL_pending)
  [[nodiscard]] std::size_t pending() const noexcept;
  /// Returns the negotiated version. (SSL_version)
  [[nodiscard]] TlsVersion version() const noexcept;
  /// Returns the negotiated cipher suite's OpenSSL name, empty before the handshake.
  /// (SSL_get_current_cipher, SSL_CIPHER_get_name)
  [[nodiscard]] std::string_view cipher_name() const noexcept;
  /// Returns the negotiated key exchange group, e.g. "x25519", empty when unknown.
  /// (SSL_get_negotiated_group, i.e. SSL_ctrl(SSL_CTRL_GET_NEGOTIATED_GROUP);
  /// SSL_group_to_name)
  [[nodiscard]] std::string_view group_name() const noexcept;
  /// Returns the ALPN protocol agreed on, empty when none. (SSL_get0_alpn_selected)
  [[nodiscard]] std::string_view alpn_selected() const noexcept;
  /// Returns a copy of the DER OCSP response stapled on this connection: on a client,
  /// the one the server sent (ossl's client has checked it as its OcspPolicy says by
  /// the time the handshake succeeds); on a server, the one it sent. Empty when none was
  /// stapled, before the handshake, or when the client did not ask for one (the client
  /// builder asks unless ocsp_stapling(OcspPolicy::Off)). A copy, for logging or handing
  /// on: OpenSSL's own is freed with the connection. (SSL_get_tlsext_status_ocsp_resp)
  [[nodiscard]] std::vector<std::byte> ocsp_response() const;
  /// Returns the peer verification result: OpenSSL's code, whether a peer certificate
  /// was there to verify, and ossl's reason when one of its checks (pins, the hook, a CA
  /// leaf, a CN-only name) refused it. (SSL_get_verify_result, SSL_get0_peer_certificate)
  [[nodiscard]] VerifyResult verify_result() const noexcept;
  /// Returns true for a server connection. (SSL_is_server)
  [[nodiscard]] bool is_server() const noexcept;
  /// Returns true once the handshake has completed. (SSL_is_init_finished)
  [[nodiscard]] bool is_init_finished() const noexcept;
  /// Returns the context this connection was made from, shared. (SSL_get_SSL_CTX)
  [[nodiscard]] std::optional<SslCtx> ctx() const;

 private:
  friend class detail::Owner<Ssl, SSL>;
  friend class SslCtx;
  friend class TlsEngine;  // its zero-length write (a KeyUpdate answer) reports through io_error
  explicit Ssl(SSL* p) noexcept : Owner(p) {}
  // adopt() and share(): the mode write() documents holds on every Ssl, made by ossl or
  // taken over. (SSL_set_mode(SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER), additive)
  static void on_take_over(SSL* p) noexcept;
  Result<void, SslIoError> handshake_step(int (*step)(SSL*), const char* what);
  SslIoError io_error(int rc, const char* what);
  bool fatal_ = false;
  bool session_offered_ = false;     // set_session() was called: recheck before the handshake
  bool early_data_pending_ = false;  // read_early_data() returned data, not yet `finished`
};

}  // namespace ossl
