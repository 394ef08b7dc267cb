// ossl: SslCtx, the reference-counted SSL_CTX: the configuration (versions, ciphers,
// certificates, trust, sessions) that connections are made from. Including it also
// brings in Ssl (<ossl/ssl.hpp>), which new_ssl() returns.
#pragma once

#include <ossl/alpn.hpp>
#include <ossl/crl.hpp>
#include <ossl/detail/handle.hpp>
#include <ossl/keylog.hpp>
#include <ossl/pkey.hpp>
#include <ossl/result.hpp>
#include <ossl/ocsp.hpp>
#include <ossl/session_cache.hpp>
#include <ossl/session_store.hpp>
#include <ossl/sni.hpp>
#include <ossl/ticket_keys.hpp>
#include <ossl/tls.hpp>
#include <ossl/x509.hpp>

#include <openssl/ssl.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
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
}  // namespace detail

class Ssl;

/// Reference-counted owner of an SSL_CTX: the configuration (versions, ciphers,
/// certificates, trust) that connections are made from. Copies share one context
/// (SSL_CTX_up_ref).
///
/// Thread safety: new_ssl() and the const accessors may run on several threads at
/// once. The setters of the callback features (ALPN selection, SNI certificates, key
/// log) swap immutable snapshots, so once a feature was configured they may run while
/// other threads handshake; the first configuration of each feature, and every other
/// setter, must happen before the context is shared (OpenSSL reads those fields
/// unlocked). Configure first, then share.
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
  /// Replaces the CRLs a client checks server certificates against, on a live context
  /// too: handshakes in flight finish with the list they started with, later ones use
  /// the new list, and sessions verified under the old list no longer resume. They are
  /// consulted only when CRL checking is on (SslCtxBuilder<Client>::crl(), or the
  /// X509_V_FLAG_CRL_CHECK flags on a context of your own); OpenSSL prefers a valid
  /// CRL from this list to any in the trust store. An empty list removes them.
  /// (X509_STORE_CTX_set0_crls in ossl's certificate verification callback)
  [[nodiscard]] Result<void> set_crls(std::vector<X509Crl> crls);

  /// Turns the session cache off. Stateless TLS tickets are still issued; use
  /// set_num_tickets(0) to stop those too. An attached client session cache keeps its
  /// bits (see set_session_cache_mode()); detach it with set_client_session_cache(nullptr).
  /// (SSL_CTX_set_session_cache_mode(OFF), i.e. SSL_CTX_ctrl(SSL_CTRL_SET_SESS_CACHE_MODE))
  void disable_session_cache() noexcept;
  /// Sets the session cache mode. While a client session cache is attached,
  /// SSL_SESS_CACHE_CLIENT and SSL_SESS_CACHE_NO_INTERNAL_STORE stay set: they are how
  /// the cache is fed. (SSL_CTX_set_session_cache_mode, i.e.
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
  /// Sets how long the sessions this context makes from now on may be resumed (a
  /// TLS 1.3 ticket's lifetime, and how long a SessionStore keeps a session); at least
  /// one second, anything else is an error naming it. Sessions made before keep theirs.
  /// OpenSSL's default is SSL_get_default_timeout() (7200 s in OpenSSL 3).
  /// (SSL_CTX_set_timeout)
  [[nodiscard]] Result<void> set_session_timeout(std::chrono::seconds timeout);
  /// Returns the timeout given to new sessions. (SSL_CTX_get_timeout)
  [[nodiscard]] std::chrono::seconds session_timeout() const noexcept;

  /// Server: takes TLS 1.3 early data (0-RTT) of up to `max_bytes` per connection from
  /// clients resuming a session it issued after this call (each ticket says how much);
  /// 0 (the default) takes none. Anti-replay is on: each ticket carries early data once.
  /// Without a session store that is OpenSSL's (tickets become single-use entries of
  /// this context's cache: one process); with one, the store's take() (fleet-wide).
  /// Shared ticket keys make tickets every server accepts, so early data under them is
  /// refused here unless danger_allow_early_data_replay() was called. Clients still
  /// read nothing early without Ssl::read_early_data(). Safe while handshakes run.
  /// (SSL_CTX_set_max_early_data, SSL_CTX_set_recv_max_early_data)
  [[nodiscard]] Result<void> set_max_early_data(std::uint32_t max_bytes);
  /// Returns the early data limit (0: none taken). (SSL_CTX_get_max_early_data)
  [[nodiscard]] std::uint32_t max_early_data() const noexcept;
  /// Turns OpenSSL's anti-replay off: stateless tickets (and shared ticket keys) carry
  /// early data, which an attacker can then replay to this server, or any server with
  /// the same keys, as often as the ticket lives. Only for early data that is harmless
  /// to repeat. A session store keeps tickets single-use regardless.
  /// (SSL_OP_NO_ANTI_REPLAY)
  [[nodiscard]] Result<void> danger_allow_early_data_replay();
  /// Sets how many TLS 1.3 tickets a server sends after a handshake.
  /// (SSL_CTX_set_num_tickets)
  [[nodiscard]] Result<void> set_num_tickets(std::size_t count);
  /// Returns how many TLS 1.3 tickets a server sends. (SSL_CTX_get_num_tickets)
  [[nodiscard]] std::size_t num_tickets() const noexcept;
  /// Encrypts this server's session tickets (TLS 1.2 and TLS 1.3) with `keys` instead of
  /// the random key OpenSSL draws per context, so that servers given the same keys
  /// resume each other's sessions. The first key encrypts new tickets; every key
  /// decrypts. A ticket under an older key resumes and is replaced by one under the
  /// first (a TLS 1.3 resumption always gets a new ticket: its tickets are used once); a
  /// ticket whose key is not in the list gets a full handshake, never a failed
  /// one. Replacing the list (rotation: a new key first, the previous ones after it for
  /// as long as their tickets should resume) is safe while handshakes run; the callback
  /// is installed by the first call, which belongs to the configuration phase. An empty
  /// list or two keys with one name is an error. (SSL_CTX_set_tlsext_ticket_key_evp_cb)
  [[nodiscard]] Result<void> set_ticket_keys(std::vector<TicketKey> keys);
  /// Makes this server context resume through `store`: every session it makes is put
  /// there, and a session a client offers is looked up there, so that the contexts
  /// sharing the store (an SNI table's, a reloaded context and the one it replaces,
  /// server processes sharing a Redis) resume each other's sessions. Tickets are turned
  /// off (SSL_OP_NO_TICKET): TLS 1.2 resumes by session ID, and TLS 1.3 sends stateful
  /// tickets (the session ID; each is used once: the lookup takes it out of the store).
  /// The context's own cache is bypassed (SSL_SESS_CACHE_SERVER |
  /// SSL_SESS_CACHE_NO_INTERNAL, kept by set_session_cache_mode()). A session resumes
  /// only under the session id context it was made under (OpenSSL's check; the builder
  /// sets one), and only until its timeout (SSL_CTX_set_timeout), which also bounds how
  /// long the store keeps it. A store call that fails costs the client a full handshake,
  /// never a failed one; `on_error` is called with the reason and the failure is counted
  /// in session_store_stats(). Replacing the store is safe while handshakes run; the
  /// callbacks are installed by the first call, which belongs to the configuration phase.
  /// A null store detaches it (tickets and the context's cache come back). A context
  /// given ticket keys cannot take a store, nor the reverse: the call says so.
  /// (SSL_CTX_sess_set_new_cb, SSL_CTX_sess_set_get_cb, SSL_CTX_sess_set_remove_cb, owned
  /// by ossl)
  [[nodiscard]] Result<void> set_session_store(std::shared_ptr<SessionStore> store,
                                               SessionStoreErrorCallback on_error = nullptr);
  /// Returns the session store this context resumes through, null when none.
  [[nodiscard]] std::shared_ptr<SessionStore> session_store() const;
  /// Returns what the context has asked of its session store (zeros when it has none).
  [[nodiscard]] SessionStoreStats session_store_stats() const;

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
  /// Replacing the ALPN configuration of a live context is safe (a new snapshot;
  /// handshakes in flight finish with the one they loaded). (SSL_CTX_set_alpn_select_cb)
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
  /// Once the context has one SNI certificate, adding more is safe while handshakes run
  /// (a new snapshot of the table). (SSL_CTX_set_tlsext_servername_callback; per
  /// connection SSL_certs_clear,
  /// SSL_use_certificate, SSL_use_PrivateKey, SSL_set1_chain)
  [[nodiscard]] Result<void> add_sni_certificate(std::string_view name, const X509& cert,
                                                 const Pkey<Private>& key,
                                                 std::span<const X509> chain = {});
  /// Sets what happens when a client names a host no SNI certificate is for.
  /// Default: UnknownServerName::UseDefault. (the servername callback's
  /// SSL_TLSEXT_ERR_OK, or SSL_TLSEXT_ERR_ALERT_FATAL with SSL_AD_UNRECOGNIZED_NAME)
  [[nodiscard]] Result<void> set_sni_unknown_name(UnknownServerName policy);

  /// Staples `der`, a DER OCSP response (RFC 6960), to handshakes whose client asks
  /// (status_request) and that present the certificate it is for: the default one or
  /// an SNI certificate, found by the response's CertID (issuer name and key hashes,
  /// serial). Replaces that certificate's earlier staple; safe on a live context (a
  /// snapshot: handshakes in flight keep the one they loaded). Refused, with an error
  /// saying which: a response that is not "successful", that is for no certificate this
  /// context serves, whose nextUpdate has passed (stale) or whose thisUpdate is in the
  /// future, or that says "revoked" or "unknown". A staple that goes stale later is no
  /// longer sent. Set certificates (and SNI certificates) first. (SSL_CTX_set_tlsext_
  /// status_cb, SSL_set_tlsext_status_ocsp_resp, OCSP_resp_find_status,
  /// OCSP_check_validity)
  [[nodiscard]] Result<void> set_ocsp_response(std::span<const std::byte> der);
  /// Reads a DER OCSP response from a file (as `openssl ocsp -respout` writes it) and
  /// staples it as set_ocsp_response(); errors name the path.
  [[nodiscard]] Result<void> set_ocsp_response_file(std::string_view path);

  /// Warning: hands every connection's TLS secrets to `callback` (one line per secret,
  /// NSS key log format), so anyone with the lines can decrypt the traffic. For
  /// debugging with Wireshark only. An empty callback turns logging off (the callback
  /// OpenSSL calls stays and drops the lines). Replacing the receiver of a live context
  /// is safe. (SSL_CTX_set_keylog_callback)
  [[nodiscard]] Result<void> danger_set_keylog_callback(KeyLogCallback callback);

  /// Creates a client connection for `host` in one call, so that SNI and the
  /// certificate name check cannot be forgotten separately: new_ssl(),
  /// set_connect_state() and Ssl::set_peer_host(host, flags) (by default no partial
  /// wildcards, no subject CN fallback). Returns the first
  /// failing step's error (e.g. an empty host or one with a NUL).
  /// (SSL_new, SSL_set_connect_state, SSL_set_tlsext_host_name,
  /// X509_VERIFY_PARAM_set1_host)
  [[nodiscard]] Result<Ssl> new_ssl_for_host(
      std::string_view host, HostnameFlags flags = HostnameFlags::NO_PARTIAL_WILDCARDS |
                                                   HostnameFlags::NEVER_CHECK_SUBJECT) const;
  /// new_ssl_for_host() for a peer on `port`: with a client session cache attached
  /// (set_client_session_cache()), offers the newest session cached for this host and
  /// port that may resume here, and files the sessions the server sends under them.
  /// Port 0 is a key of its own ("no port given"), which the overload without a port
  /// uses. (SSL_new, SSL_set_connect_state, SSL_set_tlsext_host_name,
  /// X509_VERIFY_PARAM_set1_host, SSL_set_session)
  [[nodiscard]] Result<Ssl> new_ssl_for_host(
      std::string_view host, std::uint16_t port,
      HostnameFlags flags = HostnameFlags::NO_PARTIAL_WILDCARDS |
                            HostnameFlags::NEVER_CHECK_SUBJECT) const;

  /// Attaches a client session cache, shared: from now on OpenSSL's new-session
  /// callback files the sessions servers send under each connection's host and port,
  /// and new_ssl_for_host() offers them. Sets SSL_SESS_CACHE_CLIENT (the callback's
  /// feed) and SSL_SESS_CACHE_NO_INTERNAL_STORE (no second copy in OpenSSL's internal
  /// cache, which a client never reads); set_session_cache_mode() keeps both while a
  /// cache is attached. Null detaches it. The callback is installed by the first call,
  /// which belongs to the configuration phase; later calls only swap the cache, safe
  /// while handshakes run. (SSL_CTX_sess_set_new_cb, SSL_CTX_set_session_cache_mode)
  [[nodiscard]] Result<void> set_client_session_cache(std::shared_ptr<ClientSessionCache> cache);
  /// Returns the attached client session cache, null when none.
  [[nodiscard]] std::shared_ptr<ClientSessionCache> client_session_cache() const;

  /// Creates a connection from this context; it keeps the context alive.
  /// SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER is set on it, so a write retried after
  /// WantWrite may pass the same bytes from a moved buffer. (SSL_new)
  [[nodiscard]] Result<Ssl> new_ssl() const;

 private:
  friend class detail::Owner<SslCtx, SSL_CTX>;
  explicit SslCtx(SSL_CTX* p) noexcept : Owner(p) {}

  Result<void> use_private_key_impl(const Pkey<Private>& key);
};

}  // namespace ossl

// Ssl is what new_ssl() returns: it comes with SslCtx (either header first works).
#include <ossl/ssl.hpp>
