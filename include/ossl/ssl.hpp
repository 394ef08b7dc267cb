// ossl: SslCtx (reference-counted SSL_CTX, shared configuration) and Ssl (move-only
// SSL, one connection).
#pragma once

#include <ossl/alpn.hpp>
#include <ossl/bio.hpp>
#include <ossl/detail/handle.hpp>
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
/// How Handle frees and shares an SSL_CTX.
template <>
struct HandleTraits<SSL_CTX> {
  /// Releases one reference (SSL_CTX_free).
  static void free(SSL_CTX* p) noexcept { SSL_CTX_free(p); }
  /// Takes one more reference (SSL_CTX_up_ref).
  // SSL_CTX_up_ref is an atomic increment; it cannot fail on a valid context.
  static void up_ref(SSL_CTX* p) noexcept { SSL_CTX_up_ref(p); }
};
/// How Handle frees an SSL.
template <>
struct HandleTraits<SSL> {
  /// Releases one reference (SSL_free).
  static void free(SSL* p) noexcept { SSL_free(p); }
};
}  // namespace detail

class Ssl;

/// Receives one line of key log in the NSS key log format ("LABEL <client random>
/// <secret>", hex, no newline), as Wireshark reads from SSLKEYLOGFILE. Called on
/// handshake threads, possibly several at once. Must not throw (an exception is
/// swallowed: it cannot unwind through OpenSSL).
using KeyLogCallback = std::function<void(std::string_view line)>;

/// Returns a KeyLogCallback that appends each line to the file at `path` (created if
/// missing, mode 0600 on creation) under a mutex; the file stays open as long as a
/// copy of the callback exists. An unopenable path is an error naming it and errno.
/// Secrets in that file decrypt the recorded traffic: for debugging only.
/// (fopen(path, "a"), fputs, fflush)
[[nodiscard]] OSSL_API Result<KeyLogCallback> key_log_file(std::string_view path);

/// A server's ALPN choice: given the protocols the client offered (in its order),
/// returns one of them, or nullopt for "none acceptable". Must not throw.
using AlpnSelector =
    std::function<std::optional<std::string_view>(std::span<const std::string_view> offered)>;

/// Which close_notify alerts a connection has sent and received. (SSL_get_shutdown)
struct ShutdownState {
  bool sent = false;      ///< This side sent close_notify (SSL_SENT_SHUTDOWN).
  bool received = false;  ///< The peer's close_notify arrived (SSL_RECEIVED_SHUTDOWN).
  /// Returns true when both fields are equal.
  friend bool operator==(const ShutdownState&, const ShutdownState&) = default;
};

/// Reference-counted owner of an SSL_CTX: the configuration (versions, ciphers,
/// certificates, trust) that connections are made from. Copies share one context
/// (SSL_CTX_up_ref).
///
/// Thread safety: new_ssl() and the const accessors may run on several threads at
/// once; the setters must not run while other threads use the context (OpenSSL does
/// not lock them). Configure first, then share.
///
/// Warning: a context made here maps OpenSSL directly and verifies nothing until
/// set_verify(SslVerifyMode::PEER) is called. SslCtxBuilder makes secure contexts.
class OSSL_API SslCtx : public detail::Owner<SslCtx, SSL_CTX> {
 public:
  /// The type name that error messages start with ("Name::method: ...").
  static constexpr const char* kName = "SslCtx";

  /// An empty SslCtx (operator bool is false; methods return an "empty SslCtx" error).
  SslCtx() noexcept = default;

  /// Creates a context for either role with minimum version TLS 1.2. Returns the
  /// drained errors on failure. (SSL_CTX_new(TLS_method()))
  [[nodiscard]] static Result<SslCtx> create();
  /// Creates a client-only context with minimum version TLS 1.2.
  /// (SSL_CTX_new(TLS_client_method()))
  [[nodiscard]] static Result<SslCtx> new_client();
  /// Creates a server-only context with minimum version TLS 1.2.
  /// (SSL_CTX_new(TLS_server_method()))
  [[nodiscard]] static Result<SslCtx> new_server();

  /// Sets the lowest version the context negotiates. (SSL_CTX_set_min_proto_version,
  /// i.e. SSL_CTX_ctrl(SSL_CTRL_SET_MIN_PROTO_VERSION))
  [[nodiscard]] Result<void> set_min_proto_version(TlsVersion version);
  /// Sets the highest version the context negotiates. (SSL_CTX_set_max_proto_version,
  /// i.e. SSL_CTX_ctrl(SSL_CTRL_SET_MAX_PROTO_VERSION))
  [[nodiscard]] Result<void> set_max_proto_version(TlsVersion version);
  /// Returns the lowest version, or nullopt when unlimited.
  /// (SSL_CTX_get_min_proto_version, i.e. SSL_CTX_ctrl(SSL_CTRL_GET_MIN_PROTO_VERSION))
  [[nodiscard]] std::optional<TlsVersion> min_proto_version() const noexcept;
  /// Returns the highest version, or nullopt when unlimited.
  /// (SSL_CTX_get_max_proto_version, i.e. SSL_CTX_ctrl(SSL_CTRL_GET_MAX_PROTO_VERSION))
  [[nodiscard]] std::optional<TlsVersion> max_proto_version() const noexcept;

  /// Sets how peers are verified and nothing else: the verify callback stays as it is
  /// (ossl's verification policy on contexts ossl made, so a builder's rules survive;
  /// yours on an adopted context that has one). On an adopted context without a
  /// callback, ossl's policy takes the slot, which checks nothing beyond OpenSSL until
  /// configured. (SSL_CTX_set_verify with SSL_CTX_get_verify_callback)
  void set_verify(SslVerifyMode mode) noexcept;
  /// Returns the verification mode. (SSL_CTX_get_verify_mode)
  [[nodiscard]] SslVerifyMode verify_mode() const noexcept;
  /// Sets the longest chain accepted. (SSL_CTX_set_verify_depth)
  void set_verify_depth(int depth) noexcept;

  /// Sets the TLS 1.2 cipher list (OpenSSL names, colon-separated). An unknown or
  /// empty selection, or an embedded NUL, is an error. (SSL_CTX_set_cipher_list)
  [[nodiscard]] Result<void> set_cipher_list(std::string_view list);
  /// Sets the TLS 1.3 cipher suites, e.g. "TLS_AES_128_GCM_SHA256". An unknown name or
  /// embedded NUL is an error. (SSL_CTX_set_ciphersuites)
  [[nodiscard]] Result<void> set_ciphersuites(std::string_view list);
  /// Sets the key exchange groups, e.g. "X25519:P-256". (SSL_CTX_set1_groups_list,
  /// i.e. SSL_CTX_ctrl(SSL_CTRL_SET_GROUPS_LIST))
  [[nodiscard]] Result<void> set_groups_list(std::string_view list);

  /// Sets the certificate to present (the context takes its own reference).
  /// (SSL_CTX_use_certificate)
  [[nodiscard]] Result<void> use_certificate(const X509& cert);
  /// Sets the private key for the certificate (the context takes its own reference).
  /// (SSL_CTX_use_PrivateKey)
  template <KeyKind K>
  requires HasPrivate<K>
  [[nodiscard]] Result<void> use_private_key(const Pkey<K>& key) {
    return use_private_key_impl(key);
  }
  /// Returns an error unless the certificate and private key match.
  /// (SSL_CTX_check_private_key)
  [[nodiscard]] Result<void> check_private_key() const;
  /// Appends an intermediate to the chain sent after the certificate (the context
  /// takes its own reference). (SSL_CTX_add1_chain_cert, i.e.
  /// SSL_CTX_ctrl(SSL_CTRL_CHAIN_CERT, 1))
  [[nodiscard]] Result<void> add_chain_cert(const X509& cert);
  /// Returns the chain certificates set for the current certificate, each shared.
  /// (SSL_CTX_get0_chain_certs, i.e. SSL_CTX_ctrl(SSL_CTRL_GET_CHAIN_CERTS))
  [[nodiscard]] std::vector<X509> chain_certs() const;
  /// Returns the certificate set with use_certificate(), shared; nullopt when none.
  /// (SSL_CTX_get0_certificate)
  [[nodiscard]] std::optional<X509> certificate() const;

  /// Loads the system's default trust anchors. (SSL_CTX_set_default_verify_paths)
  [[nodiscard]] Result<void> set_default_verify_paths();
  /// Loads trust anchors from a PEM file; a missing or unreadable file is an error
  /// naming the path. (SSL_CTX_load_verify_file)
  [[nodiscard]] Result<void> load_verify_file(std::string_view path);
  /// Adds one trust anchor (the store takes its own reference).
  /// (X509_STORE_add_cert on SSL_CTX_get_cert_store)
  [[nodiscard]] Result<void> add_trusted_cert(const X509& cert);

  /// Turns the session cache off. Stateless TLS tickets are still issued; use
  /// set_num_tickets(0) to stop those too. (SSL_CTX_set_session_cache_mode(OFF), i.e.
  /// SSL_CTX_ctrl(SSL_CTRL_SET_SESS_CACHE_MODE))
  void disable_session_cache() noexcept;
  /// Sets the session cache mode. (SSL_CTX_set_session_cache_mode, i.e.
  /// SSL_CTX_ctrl(SSL_CTRL_SET_SESS_CACHE_MODE))
  void set_session_cache_mode(SessionCacheMode mode) noexcept;
  /// Returns the session cache mode. (SSL_CTX_get_session_cache_mode, i.e.
  /// SSL_CTX_ctrl(SSL_CTRL_GET_SESS_CACHE_MODE))
  [[nodiscard]] SessionCacheMode session_cache_mode() const noexcept;
  /// Sets the most sessions the internal cache holds (0 = unlimited).
  /// (SSL_CTX_sess_set_cache_size, i.e. SSL_CTX_ctrl(SSL_CTRL_SET_SESS_CACHE_SIZE))
  void set_session_cache_size(long size) noexcept;
  /// Returns the cache size limit. (SSL_CTX_sess_get_cache_size, i.e.
  /// SSL_CTX_ctrl(SSL_CTRL_GET_SESS_CACHE_SIZE))
  [[nodiscard]] long session_cache_size() const noexcept;
  /// Sets the session id context (at most 32 bytes) that servers bind sessions to;
  /// needed to resume sessions of verified clients. (SSL_CTX_set_session_id_context)
  [[nodiscard]] Result<void> set_session_id_context(std::span<const std::byte> context);
  /// Overload of set_session_id_context() for text.
  [[nodiscard]] Result<void> set_session_id_context(std::string_view context);
  /// Sets how many TLS 1.3 tickets a server sends after a handshake.
  /// (SSL_CTX_set_num_tickets)
  [[nodiscard]] Result<void> set_num_tickets(std::size_t count);
  /// Returns how many TLS 1.3 tickets a server sends. (SSL_CTX_get_num_tickets)
  [[nodiscard]] std::size_t num_tickets() const noexcept;

  /// Caps the plaintext in each record this side sends at `bytes` (512 to 16384; the
  /// default is 16384), e.g. to fit records into a small transport MTU. Anything
  /// outside that range is an error naming it. (SSL_CTX_set_max_send_fragment, i.e.
  /// SSL_CTX_ctrl(SSL_CTRL_SET_MAX_SEND_FRAGMENT))
  [[nodiscard]] Result<void> set_max_send_fragment(std::size_t bytes);

  /// Adds SSL_MODE_* bits and returns the new mode. (SSL_CTX_set_mode, i.e.
  /// SSL_CTX_ctrl(SSL_CTRL_MODE))
  long set_mode(long bits) noexcept;
  /// Returns the SSL_MODE_* bits. (SSL_CTX_get_mode, i.e. SSL_CTX_ctrl(SSL_CTRL_MODE, 0))
  [[nodiscard]] long mode() const noexcept;
  /// Adds SSL_OP_* bits and returns the new options. (SSL_CTX_set_options)
  std::uint64_t set_options(std::uint64_t bits) noexcept;
  /// Removes SSL_OP_* bits and returns the new options. (SSL_CTX_clear_options)
  std::uint64_t clear_options(std::uint64_t bits) noexcept;
  /// Returns the SSL_OP_* bits. (SSL_CTX_get_options)
  [[nodiscard]] std::uint64_t options() const noexcept;

  /// Sets the protocols a client offers, in wire format (see alpn_encode()); the
  /// buffer is validated first, so a bad length prefix is an error naming its offset.
  /// (SSL_CTX_set_alpn_protos, which returns 0 on success)
  [[nodiscard]] Result<void> set_alpn_protos(std::span<const std::byte> wire);

  /// Makes a server pick ALPN by its own preference: `wire` (wire format) in order,
  /// the first protocol the client also offers wins. When the client offers ALPN but
  /// nothing matches, `on_mismatch` fails the handshake (no_application_protocol) or
  /// continues without ALPN; a client that offers nothing is never refused. The list
  /// lives with the context. (SSL_CTX_set_alpn_select_cb + SSL_select_next_proto)
  [[nodiscard]] Result<void> set_alpn_server_protocols(
      std::span<const std::byte> wire, AlpnMismatch on_mismatch = AlpnMismatch::Fail);

  /// Makes a server pick ALPN with `selector`; a returned name the client did not
  /// offer fails the handshake; nullopt is a mismatch handled as `on_mismatch` says.
  /// The selector lives with the context and may run on several threads at once.
  /// (SSL_CTX_set_alpn_select_cb)
  [[nodiscard]] Result<void> set_alpn_select_callback(
      AlpnSelector selector, AlpnMismatch on_mismatch = AlpnMismatch::Fail);

  /// Makes a server present `cert` (with `key` and the intermediates `chain`, leaf's
  /// issuer first) to clients whose SNI names `name` instead of the default
  /// certificate. `name` is a DNS name ("api.example.com") or a wildcard for one label
  /// ("*.example.com"), matched without regard to case; an exact name wins over a
  /// wildcard. The context keeps its own references. Errors: an empty, malformed or
  /// IP-literal name, a name given twice, an empty or mismatched certificate and key.
  /// Each connection whose name matches gets exactly this certificate (the default
  /// one is cleared from it, whatever its key type). Servers with SNI certificates
  /// acknowledge SNI, so their sessions record the name (SslSession::hostname()).
  /// Not thread-safe against handshakes in flight, like every setter.
  /// (SSL_CTX_set_tlsext_servername_callback; per connection SSL_certs_clear,
  /// SSL_use_certificate, SSL_use_PrivateKey, SSL_set1_chain)
  [[nodiscard]] Result<void> add_sni_certificate(std::string_view name, const X509& cert,
                                                 const Pkey<Private>& key,
                                                 std::span<const X509> chain = {});
  /// Sets what happens when a client names a host no SNI certificate is for.
  /// Default: UnknownServerName::UseDefault. (the servername callback's
  /// SSL_TLSEXT_ERR_OK, or SSL_TLSEXT_ERR_ALERT_FATAL with SSL_AD_UNRECOGNIZED_NAME)
  [[nodiscard]] Result<void> set_sni_unknown_name(UnknownServerName policy);

  /// Warning: hands every connection's TLS secrets to `callback` (one line per secret,
  /// NSS key log format), so anyone with the lines can decrypt the traffic. For
  /// debugging with Wireshark only. An empty callback turns logging off.
  /// (SSL_CTX_set_keylog_callback)
  [[nodiscard]] Result<void> danger_set_keylog_callback(KeyLogCallback callback);

  /// Creates a client connection for `host` in one call, so that SNI and the
  /// certificate name check cannot be forgotten separately: new_ssl(),
  /// set_connect_state() and Ssl::set_peer_host(host, flags). Returns the first
  /// failing step's error (e.g. an empty host or one with a NUL).
  /// (SSL_new, SSL_set_connect_state, SSL_set_tlsext_host_name,
  /// X509_VERIFY_PARAM_set1_host)
  [[nodiscard]] Result<Ssl> new_ssl_for_host(
      std::string_view host, HostnameFlags flags = HostnameFlags::NO_PARTIAL_WILDCARDS) const;

  /// Creates a connection from this context; it keeps the context alive.
  /// SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER is set on it, so a write retried after
  /// WantWrite may pass the same bytes from a moved buffer. (SSL_new)
  [[nodiscard]] Result<Ssl> new_ssl() const;

 private:
  friend class detail::Owner<SslCtx, SSL_CTX>;
  explicit SslCtx(SSL_CTX* p) noexcept : Owner(p) {}
  Result<void> use_private_key_impl(const Pkey<Private>& key);
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
  /// name (or, for an IP literal, an IP SAN) under `flags`. Verification must be on.
  /// (SSL_set_tlsext_host_name, SSL_set_hostflags, X509_VERIFY_PARAM_set1_host /
  /// X509_VERIFY_PARAM_set1_ip_asc)
  [[nodiscard]] Result<void> set_peer_host(
      std::string_view host, HostnameFlags flags = HostnameFlags::NO_PARTIAL_WILDCARDS);
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
  /// once. After WantWrite, call again with the same bytes (they may have moved).
  /// (SSL_write_ex)
  [[nodiscard]] Result<std::size_t, SslIoError> write(std::span<const std::byte> buf);
  /// Overload of write() for text.
  [[nodiscard]] Result<std::size_t, SslIoError> write(std::string_view text);
  /// Overload of write() for unsigned char buffers.
  [[nodiscard]] Result<std::size_t, SslIoError> write(std::span<const unsigned char> buf);

  /// Schedules a TLS 1.3 key update, sent with the next write (or a do_handshake());
  /// with `request_peer_update` the peer updates its keys too. TLS 1.2 has no key
  /// update (ossl never renegotiates): an error there. (SSL_key_update)
  [[nodiscard]] Result<void> key_update(bool request_peer_update);

  /// Sends close_notify (returns Sent) and, on a later call once the peer's
  /// close_notify arrived, returns Complete. Refused with an error after a fatal error
  /// on the connection (OpenSSL forbids close_notify then), before the handshake, or
  /// when the transport would block writing. (SSL_shutdown)
  [[nodiscard]] Result<ShutdownResult> shutdown();
  /// Returns which close_notify alerts were sent and received. (SSL_get_shutdown)
  [[nodiscard]] ShutdownState shutdown_state() const noexcept;
  /// Returns true once an I/O call failed with Ssl or Syscall on this connection
  /// (ossl's own record: OpenSSL has no getter for it).
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
  /// Returns the peer verification result: OpenSSL's code and whether a peer
  /// certificate was there to verify. (SSL_get_verify_result, SSL_get0_peer_certificate)
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
  explicit Ssl(SSL* p) noexcept : Owner(p) {}
  Result<void, SslIoError> handshake_step(int (*step)(SSL*), const char* what);
  SslIoError io_error(int rc, const char* what);
  bool fatal_ = false;
  bool session_offered_ = false;  // set_session() was called: recheck before the handshake
};

}  // namespace ossl
