// ossl: SslCtxBuilder<Client> / SslCtxBuilder<Server>, typestate builders that make
// secure contexts. A step that belongs to the other role does not compile.
#pragma once

#include <ossl/alpn.hpp>
#include <ossl/crl.hpp>
#include <ossl/ocsp.hpp>
#include <ossl/pkcs12.hpp>
#include <ossl/pkey.hpp>
#include <ossl/result.hpp>
#include <ossl/session_cache.hpp>
#include <ossl/ssl.hpp>
#include <ossl/ticket_keys.hpp>
#include <ossl/tls.hpp>
#include <ossl/verify.hpp>
#include <ossl/x509.hpp>

#include <concepts>
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// OSSL_DETAIL_SERVER_ONLY(step) / OSSL_DETAIL_CLIENT_ONLY(step): inside SslCtxBuilder,
// declares the wrong role's `step(...)` as an unusable overload, so that calling it
// fails with a first line naming the step and its role instead of a list of
// unsatisfied constraints. A requires-expression naming the step stays false on the
// wrong role (a deleted function, and clang's `unavailable`, make the call ill-formed
// without a hard error). clang gets `unavailable` (it prints the message; it would
// prefer `= delete` to it and print none); g++ 12 has no message for a deleted
// function, so the result type carries it. #undef'd at the end of this header.
/// @cond OSSL_DETAIL_MACROS
// clang-format off
#if defined(__clang__)
#define OSSL_DETAIL_ROLE_STEP(step, role, other, builder)                                  \
  __attribute__((unavailable(#step "() is a " #role "-only step; call it on " builder)))   \
  ::ossl::role_mismatch::role##_only_step step(auto&&...) const& requires k##other
#else
#define OSSL_DETAIL_ROLE_STEP(step, role, other, builder)                                  \
  ::ossl::role_mismatch::role##_only_step step(auto&&...) const& requires k##other = delete
#endif
// clang-format on
#define OSSL_DETAIL_SERVER_ONLY(step) \
  OSSL_DETAIL_ROLE_STEP(step, server, Client, "SslCtxBuilder<Server>")
#define OSSL_DETAIL_CLIENT_ONLY(step) \
  OSSL_DETAIL_ROLE_STEP(step, client, Server, "SslCtxBuilder<Client>")
/// @endcond

namespace ossl {

/// Role tag: a builder for client contexts.
struct OSSL_API Client {};
/// Role tag: a builder for server contexts.
struct OSSL_API Server {};

/// Satisfied by the role tags Client and Server.
template <class R>
concept Role = std::same_as<R, Client> || std::same_as<R, Server>;

/// The result types of a step called on the wrong role's builder. They exist so that the
/// compiler's error names the mistake: g++ 12 says "use of deleted function
/// 'ossl::role_mismatch::server_only_step ossl::SslCtxBuilder<R>::certificate(...)
/// [... R = ossl::Client]'", clang 16 says "'certificate' is unavailable:
/// certificate() is a server-only step; call it on SslCtxBuilder<Server>". Never
/// returned: no such call compiles.
namespace role_mismatch {
/// What a server-only step "returns" on SslCtxBuilder<Client>: it does not compile.
struct server_only_step {};
/// What a client-only step "returns" on SslCtxBuilder<Server>: it does not compile.
struct client_only_step {};
}  // namespace role_mismatch

/// Builds an SslCtx for role R, secure by default, one OpenSSL call per step.
///
/// Defaults (each can be changed by a step; see docs/builders.md):
/// - both: TLS 1.2 minimum; OpenSSL security level 2 (set, not inherited from the
///   system's configuration); no TLS 1.2 renegotiation
///   (a server's HelloRequest is answered with a no_renegotiation warning).
/// - Client: peer verification on; the system trust store unless ca_cert() or
///   ca_bundle_file() gives CAs; hostname matching with NO_PARTIAL_WILDCARDS and never
///   through the subject CN (a certificate must name the host in a subjectAltName);
///   a leaf that is a CA certificate (CA:TRUE) is refused; every connection must name
///   the host it expects (SslCtx::new_ssl_for_host(), Ssl::set_peer_host(), or
///   verify_hostname() here), else its handshake fails. No pins, no CRLs, no hook
///   unless given (docs/verification.md lists every check in order).
/// - Server: TLS 1.2 suites with forward secrecy and AEAD only (ECDHE with AES-GCM or
///   ChaCha20-Poly1305: no static-RSA key exchange, no CBC); a session id context
///   ("ossl"), so sessions of verified clients resume; certificate(), private_key()
///   required and checked against each other at build().
///
/// Errors: the first failing step is kept, with its name ("SslCtxBuilder<Client>::
/// cipher_list") and OpenSSL's records; later steps do nothing; build() returns it.
///
/// Steps work on temporaries and on named builders. build() consumes the builder:
/// the SslCtx it returns is never touched by the builder again (changing an SSL_CTX
/// while connections are made from it on other threads is a data race; build a new
/// context to reconfigure). Move-only.
template <Role R>
class OSSL_API SslCtxBuilder {
  static constexpr bool kServer = std::same_as<R, Server>;
  static constexpr bool kClient = std::same_as<R, Client>;

 public:
  ///@{
  /// Moves the context under construction and any recorded error. The moved-from
  /// builder is spent: its later steps and build() return an error saying it was moved.
  SslCtxBuilder(SslCtxBuilder&&) noexcept = default;
  SslCtxBuilder& operator=(SslCtxBuilder&&) noexcept = default;
  ///@}
  SslCtxBuilder(const SslCtxBuilder&) = delete;
  SslCtxBuilder& operator=(const SslCtxBuilder&) = delete;
  /// Frees the context if build() was not called.
  ~SslCtxBuilder() = default;

  /// Starts a builder over a new context (TLS_client_method / TLS_server_method);
  /// a failure to allocate is kept like any other and returned by build().
  [[nodiscard]] static SslCtxBuilder create();

  // ------------------------------------------------------------------ both roles

  ///@{
  /// Lowest version to negotiate. Default: TLS 1.2. (SSL_CTX_set_min_proto_version)
  SslCtxBuilder& min_proto_version(TlsVersion version) &;
  SslCtxBuilder&& min_proto_version(TlsVersion version) && {
    return std::move(min_proto_version(version));
  }
  ///@}
  ///@{
  /// Highest version to negotiate. Default: the highest OpenSSL supports (TLS 1.3).
  /// (SSL_CTX_set_max_proto_version)
  SslCtxBuilder& max_proto_version(TlsVersion version) &;
  SslCtxBuilder&& max_proto_version(TlsVersion version) && {
    return std::move(max_proto_version(version));
  }
  ///@}
  ///@{
  /// TLS 1.2 cipher list, OpenSSL syntax. Default: servers, forward-secret AEAD suites
  /// only (ECDHE with AES-GCM or ChaCha20-Poly1305); clients, OpenSSL's.
  /// (SSL_CTX_set_cipher_list)
  SslCtxBuilder& cipher_list(std::string_view list) &;
  SslCtxBuilder&& cipher_list(std::string_view list) && { return std::move(cipher_list(list)); }
  ///@}
  ///@{
  /// TLS 1.3 cipher suites. Default: OpenSSL's (AES-GCM and ChaCha20-Poly1305).
  /// (SSL_CTX_set_ciphersuites)
  SslCtxBuilder& ciphersuites(std::string_view list) &;
  SslCtxBuilder&& ciphersuites(std::string_view list) && { return std::move(ciphersuites(list)); }
  ///@}
  ///@{
  /// Key exchange groups, e.g. "X25519:P-256". Default: OpenSSL's.
  /// (SSL_CTX_set1_groups_list)
  SslCtxBuilder& groups_list(std::string_view list) &;
  SslCtxBuilder&& groups_list(std::string_view list) && { return std::move(groups_list(list)); }
  ///@}
  ///@{
  /// Session cache mode; OFF (0) disables it. Default: SERVER.
  /// (SSL_CTX_set_session_cache_mode)
  SslCtxBuilder& session_cache_mode(SessionCacheMode mode) &;
  SslCtxBuilder&& session_cache_mode(SessionCacheMode mode) && {
    return std::move(session_cache_mode(mode));
  }
  ///@}
  ///@{
  /// Overload taking the raw SSL_SESS_CACHE_* bits (0 disables), as the reference.
  SslCtxBuilder& session_cache_mode(long mode) & {
    return session_cache_mode(SessionCacheMode(mode));
  }
  SslCtxBuilder&& session_cache_mode(long mode) && { return std::move(session_cache_mode(mode)); }
  ///@}
  ///@{
  /// ALPN list in wire format, validated (a bad length prefix is an error). Client:
  /// the protocols offered. Server: its preference order. Default: no ALPN.
  /// (SSL_CTX_set_alpn_protos / SSL_CTX_set_alpn_select_cb)
  SslCtxBuilder& alpn_protocols(std::span<const std::byte> wire) &;
  SslCtxBuilder&& alpn_protocols(std::span<const std::byte> wire) && {
    return std::move(alpn_protocols(wire));
  }
  ///@}
  ///@{
  /// Overload for a wire-format literal such as "\x02h2\x08http/1.1".
  SslCtxBuilder& alpn_protocols(std::string_view wire) &;
  SslCtxBuilder&& alpn_protocols(std::string_view wire) && {
    return std::move(alpn_protocols(wire));
  }
  ///@}
  ///@{
  /// ALPN list from names, encoded to wire format (see alpn_encode()); empty names,
  /// names over 255 bytes and lists over 65535 bytes are errors.
  /// (SSL_CTX_set_alpn_protos / SSL_CTX_set_alpn_select_cb)
  SslCtxBuilder& alpn_protos_list(std::span<const std::string_view> names) &;
  SslCtxBuilder&& alpn_protos_list(std::span<const std::string_view> names) && {
    return std::move(alpn_protos_list(names));
  }
  ///@}
  ///@{
  /// Overload for a braced list: alpn_protos_list({"h2", "http/1.1"}).
  SslCtxBuilder& alpn_protos_list(std::initializer_list<std::string_view> names) & {
    return alpn_protos_list(std::span<const std::string_view>(names.begin(), names.size()));
  }
  SslCtxBuilder&& alpn_protos_list(std::initializer_list<std::string_view> names) && {
    return std::move(alpn_protos_list(names));
  }
  ///@}
  ///@{
  /// Mozilla's "modern" configuration (Server Side TLS 5.7): TLS 1.3 only, suites
  /// TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256, groups
  /// X25519:P-256:P-384 with the post-quantum hybrid X25519MLKEM768 first where the
  /// linked OpenSSL has it (3.5 and later), client chooses the cipher.
  /// (SSL_CTX_set_min/max_proto_version,
  /// SSL_CTX_set_ciphersuites, SSL_CTX_set1_groups_list,
  /// SSL_CTX_clear_options(SSL_OP_CIPHER_SERVER_PREFERENCE))
  SslCtxBuilder& mozilla_modern() &;
  SslCtxBuilder&& mozilla_modern() && { return std::move(mozilla_modern()); }
  ///@}
  ///@{
  /// Mozilla's "intermediate" configuration (Server Side TLS 5.7, recommended for
  /// general-purpose servers): TLS 1.2 and 1.3, its forward-secret AEAD TLS 1.2 cipher
  /// list, the modern TLS 1.3 suites and groups (the hybrid first where available) plus
  /// ffdhe2048, client chooses the cipher; DHE uses ffdhe2048 (negotiated, RFC 7919, or
  /// the group matching the certificate). (SSL_CTX_set_min/max_proto_version,
  /// SSL_CTX_set_cipher_list, SSL_CTX_set_ciphersuites, SSL_CTX_set1_groups_list,
  /// SSL_CTX_set_dh_auto, SSL_CTX_clear_options(SSL_OP_CIPHER_SERVER_PREFERENCE))
  SslCtxBuilder& mozilla_intermediate() &;
  SslCtxBuilder&& mozilla_intermediate() && { return std::move(mozilla_intermediate()); }
  ///@}

  ///@{
  /// Caps the plaintext per record this side sends (512 to 16384). Default: 16384.
  /// (SSL_CTX_set_max_send_fragment)
  SslCtxBuilder& max_send_fragment(std::size_t bytes) &;
  SslCtxBuilder&& max_send_fragment(std::size_t bytes) && {
    return std::move(max_send_fragment(bytes));
  }
  ///@}

  ///@{
  /// Warning: hands every connection's TLS secrets to `callback` (NSS key log lines,
  /// e.g. from key_log_file()), so anyone with them can decrypt the traffic. For
  /// debugging with Wireshark only. (SSL_CTX_set_keylog_callback)
  SslCtxBuilder& danger_key_log(KeyLogCallback callback) &;
  SslCtxBuilder&& danger_key_log(KeyLogCallback callback) && {
    return std::move(danger_key_log(std::move(callback)));
  }
  ///@}

  ///@{
  /// Takes this side's identity from a PKCS#12 archive (the bytes of a .p12 / .pfx
  /// file): its certificate, private key and chain certificates. Server: the
  /// certificate presented to clients (instead of certificate() + private_key() +
  /// add_chain_cert()). Client: the certificate sent when a server asks. The archive
  /// must hold a key and its certificate; a wrong passphrase or a legacy cipher is an
  /// error naming the cause (see Pkcs12). (PKCS12_parse, SSL_CTX_use_certificate,
  /// SSL_CTX_use_PrivateKey, SSL_CTX_add1_chain_cert)
  SslCtxBuilder& identity_pkcs12(std::span<const std::byte> der, std::string_view passphrase) &;
  SslCtxBuilder&& identity_pkcs12(std::span<const std::byte> der, std::string_view passphrase) && {
    return std::move(identity_pkcs12(der, passphrase));
  }
  ///@}
  ///@{
  /// Loads this side's certificate and its chain from a PEM file: the leaf first, then
  /// the intermediates in order, as a `fullchain.pem` is written (the server's
  /// certificate presented to clients, or the client's sent when a server asks). It
  /// replaces a chain given before. Errors name the path and what the file holds instead
  /// ("holds a PRIVATE KEY block, not a certificate"). Pair it with private_key_file().
  /// (what SSL_CTX_use_certificate_chain_file does: SSL_CTX_use_certificate,
  /// SSL_CTX_clear_chain_certs, SSL_CTX_add1_chain_cert)
  SslCtxBuilder& certificate_chain_file(std::string_view path) &;
  SslCtxBuilder&& certificate_chain_file(std::string_view path) && {
    return std::move(certificate_chain_file(path));
  }
  ///@}
  ///@{
  /// Loads the private key of this side's certificate from a PEM file (PKCS#8 or a
  /// traditional RSA/EC key; other blocks in the file are skipped). An encrypted key
  /// needs the overload with its passphrase; a wrong one is an error that says so.
  /// Errors name the path and what the file holds instead ("holds a CERTIFICATE block,
  /// not a private key"). build() checks that the key matches the certificate.
  /// (Pkey<Private>::from_pem_file, SSL_CTX_use_PrivateKey)
  SslCtxBuilder& private_key_file(std::string_view path) &;
  SslCtxBuilder&& private_key_file(std::string_view path) && {
    return std::move(private_key_file(path));
  }
  SslCtxBuilder& private_key_file(std::string_view path, std::string_view passphrase) &;
  SslCtxBuilder&& private_key_file(std::string_view path, std::string_view passphrase) && {
    return std::move(private_key_file(path, passphrase));
  }
  ///@}

  ///@{
  /// Finishes the context and hands it over; the builder is spent afterwards (a later
  /// step or build() records an error). Returns the first failure instead, naming
  /// its step.
  [[nodiscard]] Result<SslCtx> build() &;
  [[nodiscard]] Result<SslCtx> build() && { return build(); }
  ///@}

  /// Returns the first failure so far, or null.
  [[nodiscard]] const ErrorStack* error() const noexcept { return error_ ? &*error_ : nullptr; }

  // ---------------------------------------------------------------- server only

  ///@{
  /// The leaf certificate to present. Required. (SSL_CTX_use_certificate)
  SslCtxBuilder& certificate(const X509& cert) & requires kServer;
  SslCtxBuilder&& certificate(const X509& cert) && requires kServer {
    return std::move(certificate(cert));
  }
  ///@}
  ///@{
  /// Appends an intermediate CA sent after the leaf. (SSL_CTX_add1_chain_cert)
  SslCtxBuilder& add_chain_cert(const X509& cert) & requires kServer;
  SslCtxBuilder&& add_chain_cert(const X509& cert) && requires kServer {
    return std::move(add_chain_cert(cert));
  }
  ///@}
  ///@{
  /// The private key of the certificate. Required. (SSL_CTX_use_PrivateKey)
  template <KeyKind K>
  requires kServer && HasPrivate<K> SslCtxBuilder& private_key(const Pkey<K>& key) & {
    return private_key_impl(key);
  }
  template <KeyKind K>
  requires kServer && HasPrivate<K> SslCtxBuilder && private_key(const Pkey<K>& key) && {
    return std::move(private_key_impl(key));
  }
  ///@}
  ///@{
  /// Checks that certificate and key match (build() checks again).
  /// (SSL_CTX_check_private_key)
  SslCtxBuilder& check_private_key() & requires kServer;
  SslCtxBuilder&& check_private_key() && requires kServer { return std::move(check_private_key()); }
  ///@}
  ///@{
  /// Asks clients for a certificate, verified against the CAs given with
  /// client_ca_cert()/client_ca_file() (at least one is required); `require` fails
  /// handshakes without one. Default: clients are not asked.
  /// (SSL_CTX_set_verify PEER [| FAIL_IF_NO_PEER_CERT])
  SslCtxBuilder& verify_client(bool require) & requires kServer;
  SslCtxBuilder&& verify_client(bool require) && requires kServer {
    return std::move(verify_client(require));
  }
  ///@}
  ///@{
  /// Trusts `cert` for client certificates and names it to clients.
  /// (X509_STORE_add_cert, SSL_CTX_add_client_CA)
  SslCtxBuilder& client_ca_cert(const X509& cert) & requires kServer;
  SslCtxBuilder&& client_ca_cert(const X509& cert) && requires kServer {
    return std::move(client_ca_cert(cert));
  }
  ///@}
  ///@{
  /// Trusts every certificate of a PEM file for client certificates and names them to
  /// clients. (SSL_CTX_load_verify_file, SSL_load_client_CA_file)
  SslCtxBuilder& client_ca_file(std::string_view path) & requires kServer;
  SslCtxBuilder&& client_ca_file(std::string_view path) && requires kServer {
    return std::move(client_ca_file(path));
  }
  ///@}
  ///@{
  /// Session id context (at most 32 bytes): a session resumes only on a server with the
  /// same context. Default: "ossl" for a server that does not verify clients; for one
  /// that does, a digest of the verification mode (request or require) and of the
  /// certificates trusted for clients, so that servers sharing sessions (a session
  /// store, ticket keys) but verifying clients differently never resume each other's
  /// sessions, while servers configured alike do. A context given here replaces that
  /// binding: give such servers different ones. (SSL_CTX_set_session_id_context)
  SslCtxBuilder& session_id_context(std::string_view context) & requires kServer;
  SslCtxBuilder&& session_id_context(std::string_view context) && requires kServer {
    return std::move(session_id_context(context));
  }
  ///@}
  ///@{
  /// TLS 1.3 tickets sent after each handshake. Default: 2. (SSL_CTX_set_num_tickets)
  SslCtxBuilder& num_tickets(std::size_t count) & requires kServer;
  SslCtxBuilder&& num_tickets(std::size_t count) && requires kServer {
    return std::move(num_tickets(count));
  }
  ///@}
  ///@{
  /// Session ticket keys shared with other servers (see SslCtx::set_ticket_keys()): the
  /// first encrypts, all decrypt. Default: OpenSSL's random key, private to this
  /// context. (SSL_CTX_set_tlsext_ticket_key_evp_cb, owned by ossl)
  SslCtxBuilder& ticket_keys(std::vector<TicketKey> keys) & requires kServer;
  SslCtxBuilder&& ticket_keys(std::vector<TicketKey> keys) && requires kServer {
    return std::move(ticket_keys(std::move(keys)));
  }
  ///@}
  ///@{
  /// ticket_keys() read from key files (80 or 48 bytes each, nginx's
  /// ssl_session_ticket_key format), the first file's key encrypting. Errors name the
  /// file. (TicketKey::load_file)
  SslCtxBuilder& ticket_key_files(std::span<const std::string> paths) & requires kServer;
  SslCtxBuilder&& ticket_key_files(std::span<const std::string> paths) && requires kServer {
    return std::move(ticket_key_files(paths));
  }
  ///@}
  ///@{
  /// Resumes through `store`, shared with other contexts or server processes (see
  /// SslCtx::set_session_store()): TLS 1.2 session IDs and TLS 1.3 stateful tickets,
  /// each TLS 1.3 ticket used once. `on_error` hears each failed store call (the
  /// handshake goes on, in full). Not with ticket_keys(). Default: OpenSSL's cache in
  /// the context and stateless tickets. (SSL_CTX_sess_set_new_cb,
  /// SSL_CTX_sess_set_get_cb, SSL_CTX_sess_set_remove_cb, owned by ossl)
  SslCtxBuilder& session_store(std::shared_ptr<SessionStore> store,
                               SessionStoreErrorCallback on_error = nullptr) &
      requires kServer;
  SslCtxBuilder&& session_store(std::shared_ptr<SessionStore> store,
                                SessionStoreErrorCallback on_error = nullptr) &&
      requires kServer {
    return std::move(session_store(std::move(store), std::move(on_error)));
  }
  ///@}
  ///@{
  /// Takes TLS 1.3 early data (0-RTT) of up to `max_bytes` per connection from resuming
  /// clients, read only through Ssl::read_early_data(); each ticket carries early data
  /// once (see SslCtx::set_max_early_data()). Not with ticket_keys() unless
  /// danger_allow_early_data_replay(). Default: no early data.
  /// (SSL_CTX_set_max_early_data, SSL_CTX_set_recv_max_early_data)
  SslCtxBuilder& early_data(std::uint32_t max_bytes) & requires kServer;
  SslCtxBuilder&& early_data(std::uint32_t max_bytes) && requires kServer {
    return std::move(early_data(max_bytes));
  }
  ///@}
  ///@{
  /// Lets early data come under tickets that can be replayed (stateless tickets, shared
  /// ticket keys): see SslCtx::danger_allow_early_data_replay(). (SSL_OP_NO_ANTI_REPLAY)
  SslCtxBuilder& danger_allow_early_data_replay() & requires kServer;
  SslCtxBuilder&& danger_allow_early_data_replay() && requires kServer {
    return std::move(danger_allow_early_data_replay());
  }
  ///@}
  ///@{
  /// What to do when a client's ALPN offer shares nothing with ours.
  /// Default: AlpnMismatch::Fail (no_application_protocol alert). (The select
  /// callback's SSL_TLSEXT_ERR_ALERT_FATAL / SSL_TLSEXT_ERR_NOACK)
  SslCtxBuilder& alpn_on_mismatch(AlpnMismatch policy) & requires kServer;
  SslCtxBuilder&& alpn_on_mismatch(AlpnMismatch policy) && requires kServer {
    return std::move(alpn_on_mismatch(policy));
  }
  ///@}
  ///@{
  /// Picks ALPN with `selector` instead of the preference list (see AlpnSelector).
  /// (SSL_CTX_set_alpn_select_cb)
  SslCtxBuilder& alpn_select_callback(AlpnSelector selector) & requires kServer;
  SslCtxBuilder&& alpn_select_callback(AlpnSelector selector) && requires kServer {
    return std::move(alpn_select_callback(std::move(selector)));
  }
  ///@}

  ///@{
  /// Presents `cert` (with `key` and `chain`) instead of the default certificate to
  /// clients whose SNI names `name`: a DNS name or a one-label wildcard
  /// ("*.example.com"); an exact name wins. The default certificate() is still
  /// required, for clients that send no name (see SslCtx::add_sni_certificate()).
  /// (SSL_CTX_set_tlsext_servername_callback)
  template <KeyKind K>
  requires kServer && HasPrivate<K> SslCtxBuilder& sni_certificate(
      std::string_view name, const X509& cert, const Pkey<K>& key,
      std::span<const X509> chain = {}) & {
    return sni_certificate_impl(name, cert, key, chain);
  }
  template <KeyKind K>
  requires kServer && HasPrivate<K> SslCtxBuilder &&
      sni_certificate(std::string_view name, const X509& cert, const Pkey<K>& key,
                      std::span<const X509> chain = {}) && {
    return std::move(sni_certificate_impl(name, cert, key, chain));
  }
  ///@}
  ///@{
  /// What to do when a client names a host no sni_certificate() is for. Default:
  /// UnknownServerName::UseDefault (present the default certificate).
  /// (the servername callback's SSL_TLSEXT_ERR_OK or ALERT_FATAL, unrecognized_name)
  SslCtxBuilder& sni_unknown_name(UnknownServerName policy) & requires kServer;
  SslCtxBuilder&& sni_unknown_name(UnknownServerName policy) && requires kServer {
    return std::move(sni_unknown_name(policy));
  }
  ///@}

  ///@{
  /// Staples `der`, a DER OCSP response for the certificate (or an SNI certificate),
  /// to handshakes whose client asks; checked at build() as
  /// SslCtx::set_ocsp_response() checks it (which also replaces it later, on the live
  /// context). Default: no staple. (SSL_CTX_set_tlsext_status_cb)
  SslCtxBuilder& ocsp_response(std::span<const std::byte> der) & requires kServer;
  SslCtxBuilder&& ocsp_response(std::span<const std::byte> der) && requires kServer {
    return std::move(ocsp_response(der));
  }
  ///@}
  ///@{
  /// Reads the DER OCSP response to staple from a file (`openssl ocsp -respout`); errors
  /// name the path. (SSL_CTX_set_tlsext_status_cb)
  SslCtxBuilder& ocsp_response_file(std::string_view path) & requires kServer;
  SslCtxBuilder&& ocsp_response_file(std::string_view path) && requires kServer {
    return std::move(ocsp_response_file(path));
  }
  ///@}

  // ---------------------------------------------------------------- client only

  ///@{
  /// Loads the system trust store (also done by default when no CA is given).
  /// (SSL_CTX_set_default_verify_paths)
  SslCtxBuilder& default_ca_paths() & requires kClient;
  SslCtxBuilder&& default_ca_paths() && requires kClient { return std::move(default_ca_paths()); }
  ///@}
  ///@{
  /// Trusts the CA certificates of a PEM file (instead of the system store, unless
  /// default_ca_paths() is called too). (SSL_CTX_load_verify_file)
  SslCtxBuilder& ca_bundle_file(std::string_view path) & requires kClient;
  SslCtxBuilder&& ca_bundle_file(std::string_view path) && requires kClient {
    return std::move(ca_bundle_file(path));
  }
  ///@}
  ///@{
  /// Trusts one CA certificate (instead of the system store, unless
  /// default_ca_paths() is called too). (X509_STORE_add_cert)
  SslCtxBuilder& ca_cert(const X509& cert) & requires kClient;
  SslCtxBuilder&& ca_cert(const X509& cert) && requires kClient { return std::move(ca_cert(cert)); }
  ///@}
  ///@{
  /// Verifies the server's certificate. This is the default; the step exists for
  /// parity with the reference and undoes danger_accept_invalid_certs().
  /// (SSL_CTX_set_verify PEER)
  SslCtxBuilder& verify_peer() & requires kClient;
  SslCtxBuilder&& verify_peer() && requires kClient { return std::move(verify_peer()); }
  ///@}
  ///@{
  /// Requires every connection's server certificate to match `host` (a DNS name or an
  /// IP literal); for a context that talks to one server. Per connection, prefer
  /// SslCtx::new_ssl_for_host(). (X509_VERIFY_PARAM_set1_host / set1_ip_asc)
  SslCtxBuilder& verify_hostname(std::string_view host) & requires kClient;
  SslCtxBuilder&& verify_hostname(std::string_view host) && requires kClient {
    return std::move(verify_hostname(host));
  }
  ///@}
  ///@{
  /// Hostname matching flags for the context. Default: NO_PARTIAL_WILDCARDS |
  /// NEVER_CHECK_SUBJECT. Whatever the flags here or per connection, the subject CN is
  /// never matched unless danger_match_subject_common_name() is given.
  /// (X509_VERIFY_PARAM_set_hostflags)
  SslCtxBuilder& verify_hostname_flags(HostnameFlags flags) & requires kClient;
  SslCtxBuilder&& verify_hostname_flags(HostnameFlags flags) && requires kClient {
    return std::move(verify_hostname_flags(flags));
  }
  ///@}
  ///@{
  /// The client certificate to present when a server asks. (SSL_CTX_use_certificate)
  SslCtxBuilder& client_cert(const X509& cert) & requires kClient;
  SslCtxBuilder&& client_cert(const X509& cert) && requires kClient {
    return std::move(client_cert(cert));
  }
  ///@}
  ///@{
  /// An intermediate sent after the client certificate. (SSL_CTX_add1_chain_cert)
  SslCtxBuilder& client_chain_cert(const X509& cert) & requires kClient;
  SslCtxBuilder&& client_chain_cert(const X509& cert) && requires kClient {
    return std::move(client_chain_cert(cert));
  }
  ///@}
  ///@{
  /// The private key of the client certificate. (SSL_CTX_use_PrivateKey)
  template <KeyKind K>
  requires kClient && HasPrivate<K> SslCtxBuilder& client_key(const Pkey<K>& key) & {
    return private_key_impl(key);
  }
  template <KeyKind K>
  requires kClient && HasPrivate<K> SslCtxBuilder && client_key(const Pkey<K>& key) && {
    return std::move(private_key_impl(key));
  }
  ///@}
  ///@{
  /// Warning: turns off verification of the server's certificate: any certificate,
  /// from anyone, is accepted, and the connection can be intercepted. For tests
  /// against self-signed servers only. (SSL_CTX_set_verify NONE)
  SslCtxBuilder& danger_accept_invalid_certs() & requires kClient;
  SslCtxBuilder&& danger_accept_invalid_certs() && requires kClient {
    return std::move(danger_accept_invalid_certs());
  }
  ///@}
  ///@{
  /// Adds a CRL to the client's list and turns revocation checking on (of the leaf,
  /// unless crl_check() says Chain): a server certificate the CRL lists fails with
  /// X509_V_ERR_CERT_REVOKED and a reason naming the certificate, the CRL's revocation
  /// reason and date. With checking on, a certificate whose issuer has no CRL here, or
  /// whose CRL expired, fails too (OpenSSL's "unable to get certificate CRL", "CRL has
  /// expired"). SslCtx::set_crls() replaces the list on the built context. Default: no
  /// CRLs, no revocation check. (X509_STORE_CTX_set0_crls in ossl's certificate
  /// verification callback, X509_VERIFY_PARAM_set_flags X509_V_FLAG_CRL_CHECK)
  SslCtxBuilder& crl(const X509Crl& list) & requires kClient;
  SslCtxBuilder&& crl(const X509Crl& list) && requires kClient { return std::move(crl(list)); }
  ///@}
  ///@{
  /// Adds every CRL of a file (PEM, one or more; or one DER CRL), as crl(). Errors name
  /// the path. (X509Crl::load_file)
  SslCtxBuilder& crl_file(std::string_view path) & requires kClient;
  SslCtxBuilder&& crl_file(std::string_view path) && requires kClient {
    return std::move(crl_file(path));
  }
  ///@}
  ///@{
  /// Which certificates are checked against the CRLs: the leaf (the default once a CRL
  /// is given) or every certificate of the chain (each issuer then needs a CRL).
  /// build() fails when no CRL was given. (X509_V_FLAG_CRL_CHECK [| CRL_CHECK_ALL])
  SslCtxBuilder& crl_check(CrlCheck scope) & requires kClient;
  SslCtxBuilder&& crl_check(CrlCheck scope) && requires kClient {
    return std::move(crl_check(scope));
  }
  ///@}
  ///@{
  /// What to do with the OCSP response a server staples (see OcspPolicy): every policy
  /// asks for one (status_request) and requires and checks it for a must-staple
  /// certificate. Default: OcspPolicy::IfStapled. (SSL_CTX_set_tlsext_status_type,
  /// SSL_CTX_set_tlsext_status_cb, owned by ossl; OCSP_basic_verify,
  /// OCSP_resp_find_status, OCSP_check_validity)
  SslCtxBuilder& ocsp_stapling(OcspPolicy policy) & requires kClient;
  SslCtxBuilder&& ocsp_stapling(OcspPolicy policy) && requires kClient {
    return std::move(ocsp_stapling(policy));
  }
  ///@}
  ///@{
  /// Attaches a client session cache (shared: several contexts may use one): the
  /// sessions servers send are kept per host and port, and
  /// SslCtx::new_ssl_for_host(host, port) offers them, TLS 1.3 tickets once each. Null
  /// is an error. Default: no cache (resume by hand with Ssl::set_session()).
  /// (SslCtx::set_client_session_cache: SSL_CTX_sess_set_new_cb, owned by ossl)
  SslCtxBuilder& client_session_cache(std::shared_ptr<ClientSessionCache> cache) & requires kClient;
  SslCtxBuilder&& client_session_cache(std::shared_ptr<ClientSessionCache> cache) && requires
      kClient {
    return std::move(client_session_cache(std::move(cache)));
  }
  ///@}
  ///@{
  /// Pins a public key: the server's verified chain (leaf, intermediates or root) must
  /// contain a certificate whose SubjectPublicKeyInfo hashes (SHA-256) to one of the
  /// pins given. Call once per pin; give a backup pin for rotation. Checked only after
  /// OpenSSL verified the chain and name, so a pin never makes an untrusted chain
  /// trusted. A mismatch fails the handshake naming the pins and the chain's keys.
  /// Default: no pins. The text form is SpkiPin::from_base64()'s; a malformed pin is an
  /// error of this step. (SSL_CTX_set_cert_verify_callback, owned by ossl)
  SslCtxBuilder& pin_spki_sha256(std::string_view base64) & requires kClient;
  SslCtxBuilder&& pin_spki_sha256(std::string_view base64) && requires kClient {
    return std::move(pin_spki_sha256(base64));
  }
  ///@}
  ///@{
  /// Overload taking a parsed pin.
  SslCtxBuilder& pin_spki_sha256(const SpkiPin& pin) & requires kClient;
  SslCtxBuilder&& pin_spki_sha256(const SpkiPin& pin) && requires kClient {
    return std::move(pin_spki_sha256(pin));
  }
  ///@}
  ///@{
  /// Runs `hook` once per full handshake after every other check passed (see
  /// VerifyHook); its rejection fails the handshake with its reason, which
  /// Ssl::verify_result().message() also gives. One hook per context (a second call
  /// replaces the first). Default: none. (SSL_CTX_set_cert_verify_callback, owned by ossl)
  SslCtxBuilder& verify_hook(VerifyHook hook) & requires kClient;
  SslCtxBuilder&& verify_hook(VerifyHook hook) && requires kClient {
    return std::move(verify_hook(std::move(hook)));
  }
  ///@}
  ///@{
  /// Warning: lets a certificate that names the host only in its subject common name
  /// (no subjectAltName match) pass, as OpenSSL, curl and Python do and browsers
  /// (since 2017) and RFC 9525 do not. (Drops X509_CHECK_FLAG_NEVER_CHECK_SUBJECT.)
  SslCtxBuilder& danger_match_subject_common_name() & requires kClient;
  SslCtxBuilder&& danger_match_subject_common_name() && requires kClient {
    return std::move(danger_match_subject_common_name());
  }
  ///@}
  ///@{
  /// Warning: accepts a server certificate that is itself a CA (basicConstraints
  /// CA:TRUE), such as a self-signed certificate made with `openssl req -x509`
  /// defaults; Firefox and webpki refuse those.
  SslCtxBuilder& danger_accept_ca_as_leaf() & requires kClient;
  SslCtxBuilder&& danger_accept_ca_as_leaf() && requires kClient {
    return std::move(danger_accept_ca_as_leaf());
  }
  ///@}
  ///@{
  /// Warning: lets connections that name no host verify the chain only: any valid
  /// certificate for any name is accepted. (Removes ossl's hostname-required check,
  /// the verify callback given to SSL_CTX_set_verify.)
  SslCtxBuilder& danger_skip_hostname_verification() & requires kClient;
  SslCtxBuilder&& danger_skip_hostname_verification() && requires kClient {
    return std::move(danger_skip_hostname_verification());
  }
  ///@}

  /// @cond ROLE_MISMATCH
  // The other role's steps, unusable here (see OSSL_DETAIL_ROLE_STEP above): calling
  // one fails to compile with a message naming the step and its role.
  OSSL_DETAIL_SERVER_ONLY(add_chain_cert);
  OSSL_DETAIL_SERVER_ONLY(alpn_on_mismatch);
  OSSL_DETAIL_SERVER_ONLY(alpn_select_callback);
  OSSL_DETAIL_SERVER_ONLY(certificate);
  OSSL_DETAIL_SERVER_ONLY(check_private_key);
  OSSL_DETAIL_SERVER_ONLY(client_ca_cert);
  OSSL_DETAIL_SERVER_ONLY(client_ca_file);
  OSSL_DETAIL_SERVER_ONLY(danger_allow_early_data_replay);
  OSSL_DETAIL_SERVER_ONLY(early_data);
  OSSL_DETAIL_SERVER_ONLY(num_tickets);
  OSSL_DETAIL_SERVER_ONLY(ocsp_response);
  OSSL_DETAIL_SERVER_ONLY(ocsp_response_file);
  OSSL_DETAIL_SERVER_ONLY(private_key);
  OSSL_DETAIL_SERVER_ONLY(session_id_context);
  OSSL_DETAIL_SERVER_ONLY(session_store);
  OSSL_DETAIL_SERVER_ONLY(sni_certificate);
  OSSL_DETAIL_SERVER_ONLY(sni_unknown_name);
  OSSL_DETAIL_SERVER_ONLY(ticket_key_files);
  OSSL_DETAIL_SERVER_ONLY(ticket_keys);
  OSSL_DETAIL_SERVER_ONLY(verify_client);
  OSSL_DETAIL_CLIENT_ONLY(ca_bundle_file);
  OSSL_DETAIL_CLIENT_ONLY(ca_cert);
  OSSL_DETAIL_CLIENT_ONLY(client_cert);
  OSSL_DETAIL_CLIENT_ONLY(client_chain_cert);
  OSSL_DETAIL_CLIENT_ONLY(client_key);
  OSSL_DETAIL_CLIENT_ONLY(client_session_cache);
  OSSL_DETAIL_CLIENT_ONLY(crl);
  OSSL_DETAIL_CLIENT_ONLY(crl_check);
  OSSL_DETAIL_CLIENT_ONLY(crl_file);
  OSSL_DETAIL_CLIENT_ONLY(danger_accept_ca_as_leaf);
  OSSL_DETAIL_CLIENT_ONLY(danger_accept_invalid_certs);
  OSSL_DETAIL_CLIENT_ONLY(danger_match_subject_common_name);
  OSSL_DETAIL_CLIENT_ONLY(danger_skip_hostname_verification);
  OSSL_DETAIL_CLIENT_ONLY(default_ca_paths);
  OSSL_DETAIL_CLIENT_ONLY(ocsp_stapling);
  OSSL_DETAIL_CLIENT_ONLY(pin_spki_sha256);
  OSSL_DETAIL_CLIENT_ONLY(verify_hook);
  OSSL_DETAIL_CLIENT_ONLY(verify_hostname);
  OSSL_DETAIL_CLIENT_ONLY(verify_hostname_flags);
  OSSL_DETAIL_CLIENT_ONLY(verify_peer);
  /// @endcond

 private:
  SslCtxBuilder() = default;
  SslCtxBuilder& private_key_impl(const Pkey<Private>& key);
  SslCtxBuilder& private_key_file_impl(std::string_view path,
                                       std::optional<std::string_view> passphrase);
  SslCtxBuilder& sni_certificate_impl(std::string_view name, const X509& cert,
                                      const Pkey<Private>& key, std::span<const X509> chain);
  template <class F>
  SslCtxBuilder& step(const char* name, F&& run);
  void fail(const char* name, ErrorStack error);

  // Set in the source of a move (the defaulted moves keep every other member as is).
  struct MovedFrom {
    bool value = false;
    MovedFrom() = default;
    MovedFrom(const MovedFrom&) = delete;
    MovedFrom& operator=(const MovedFrom&) = delete;
    MovedFrom(MovedFrom&& o) noexcept : value(std::exchange(o.value, true)) {}
    MovedFrom& operator=(MovedFrom&& o) noexcept {
      if (this != &o) value = std::exchange(o.value, true);
      return *this;
    }
    ~MovedFrom() = default;
  };

  SslCtx ctx_;
  std::optional<ErrorStack> error_;
  MovedFrom moved_from_;
  bool built_ = false;
  bool has_cert_ = false;
  bool has_key_ = false;
  std::optional<std::vector<std::byte>> alpn_;
  // Client.
  bool verify_ = true;
  bool trust_given_ = false;
  bool default_paths_loaded_ = false;
  bool require_hostname_ = true;
  bool match_subject_cn_ = false;
  bool accept_ca_leaf_ = false;
  std::vector<SpkiPin> pins_;
  VerifyHook hook_;
  std::vector<X509Crl> crls_;
  OcspPolicy ocsp_policy_ = OcspPolicy::IfStapled;
  std::vector<std::vector<std::byte>> ocsp_responses_;
  std::optional<CrlCheck> crl_check_;
  // Server.
  bool verify_client_ = false;
  bool require_client_cert_ = false;
  bool client_cas_given_ = false;
  bool sid_ctx_set_ = false;
  AlpnMismatch alpn_mismatch_ = AlpnMismatch::Fail;
  AlpnSelector alpn_selector_;
};

extern template class SslCtxBuilder<Client>;
extern template class SslCtxBuilder<Server>;

}  // namespace ossl

#undef OSSL_DETAIL_SERVER_ONLY
#undef OSSL_DETAIL_CLIENT_ONLY
#undef OSSL_DETAIL_ROLE_STEP
