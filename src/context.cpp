// SslCtx: a context's configuration (versions, ciphers, certificates, trust, sessions,
// modes) and the connections made from it. The callback features live beside it:
// verify.cpp, alpn_select.cpp, sni.cpp, keylog.cpp, ocsp.cpp, session_cache.cpp; record
// sizes in record_size.cpp.
#include <ossl/context.hpp>

#include "ctrl.hpp"
#include "ctx_state.hpp"
#include "internal.hpp"
#include "verify_policy.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <iterator>
#include <limits>
#include <mutex>
#include <string>
#include <vector>

namespace ossl {

namespace {

std::optional<TlsVersion> version_or_none(long v) noexcept {
  if (v == 0) return std::nullopt;  // 0: no limit set
  return static_cast<TlsVersion>(v);
}

Result<SslCtx> new_ctx(const SSL_METHOD* method, const char* what) {
  auto raw = detail::check_ptr(SSL_CTX_new(method), what);
  if (!raw) return std::move(raw).error();
  auto ctx = SslCtx::adopt(*raw);
  if (!ctx) return ctx;
  if (auto ok = ctx->set_min_proto_version(TlsVersion::Tls12); !ok) return std::move(ok).error();
  ctx->set_mode(SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // ossl's verification policy owns the verify slot of every context it makes.
  if (auto ok = detail::own_verify_slot(ctx->native_handle(), what); !ok) {
    return std::move(ok).error();
  }
  return ctx;
}

}  // namespace

// ----------------------------------------------------------------------------- SslCtx

Result<SslCtx> SslCtx::create() {
  return new_ctx(TLS_method(), "SslCtx::create");
}
Result<SslCtx> SslCtx::new_client() {
  return new_ctx(TLS_client_method(), "SslCtx::new_client");
}
Result<SslCtx> SslCtx::new_server() {
  return new_ctx(TLS_server_method(), "SslCtx::new_server");
}

Result<void> SslCtx::set_min_proto_version(TlsVersion version) {
  if (!*this) return empty_error("set_min_proto_version");
  return detail::check_positive(
      detail::ctx_set_min_proto_version(native_handle(), static_cast<long>(version)),
      "SslCtx::set_min_proto_version");
}

Result<void> SslCtx::set_max_proto_version(TlsVersion version) {
  if (!*this) return empty_error("set_max_proto_version");
  return detail::check_positive(
      detail::ctx_set_max_proto_version(native_handle(), static_cast<long>(version)),
      "SslCtx::set_max_proto_version");
}

std::optional<TlsVersion> SslCtx::min_proto_version() const noexcept {
  if (!*this) return std::nullopt;
  return version_or_none(detail::ctx_get_min_proto_version(native_handle()));
}

std::optional<TlsVersion> SslCtx::max_proto_version() const noexcept {
  if (!*this) return std::nullopt;
  return version_or_none(detail::ctx_get_max_proto_version(native_handle()));
}

void SslCtx::set_verify(SslVerifyMode mode) noexcept {
  if (!*this) return;
  SSL_CTX* ctx = native_handle();
  if (SSL_CTX_get_verify_callback(ctx) == nullptr) {
    // An adopted context with an empty slot: ossl's policy takes it (a failure to
    // attach its state leaves the slot empty, which verifies as OpenSSL alone would).
    ERR_set_mark();
    (void)detail::own_verify_slot(ctx, "SslCtx::set_verify");
    ERR_pop_to_mark();
  }
  // Mode only: the callback in the slot stays (passing nullptr would drop it).
  SSL_CTX_set_verify(ctx, mode.bits(), SSL_CTX_get_verify_callback(ctx));
}

SslVerifyMode SslCtx::verify_mode() const noexcept {
  return SslVerifyMode(*this ? SSL_CTX_get_verify_mode(native_handle()) : 0);
}

void SslCtx::set_verify_depth(int depth) noexcept {
  if (*this) SSL_CTX_set_verify_depth(native_handle(), depth);
}

Result<void> SslCtx::set_cipher_list(std::string_view list) {
  if (!*this) return empty_error("set_cipher_list");
  return detail::with_cstr(list, "SslCtx::set_cipher_list", [this, list](const char* s) {
    return detail::check_positive(SSL_CTX_set_cipher_list(native_handle(), s), [list] {
      return "SslCtx::set_cipher_list(\"" + std::string(list) + "\")";
    });
  });
}

Result<void> SslCtx::set_ciphersuites(std::string_view list) {
  if (!*this) return empty_error("set_ciphersuites");
  return detail::with_cstr(list, "SslCtx::set_ciphersuites", [this, list](const char* s) {
    return detail::check_positive(SSL_CTX_set_ciphersuites(native_handle(), s), [list] {
      return "SslCtx::set_ciphersuites(\"" + std::string(list) + "\")";
    });
  });
}

Result<void> SslCtx::set_groups_list(std::string_view list) {
  if (!*this) return empty_error("set_groups_list");
  return detail::with_cstr(list, "SslCtx::set_groups_list", [this, list](const char* s) {
    return detail::check_positive(detail::ctx_set1_groups_list(native_handle(), s), [list] {
      return "SslCtx::set_groups_list(\"" + std::string(list) + "\")";
    });
  });
}

Result<void> SslCtx::use_certificate(const X509& cert) {
  if (!*this) return empty_error("use_certificate");
  if (!cert) return ErrorStack::message("SslCtx::use_certificate: empty certificate");
  detail::cache_extensions(cert.native_handle());  // see cache_extensions()
  // SSL_CTX_use_certificate takes its own reference; `cert` stays the caller's.
  return detail::check_positive(SSL_CTX_use_certificate(native_handle(), cert.native_handle()),
                                "SslCtx::use_certificate");
}

Result<void> SslCtx::use_private_key_impl(const Pkey<Private>& key) {
  if (!*this) return empty_error("use_private_key");
  if (!key) return ErrorStack::message("SslCtx::use_private_key: empty key");
  // Takes its own reference. It also fails when the key does not match a certificate
  // already set ("key values mismatch").
  return detail::check_positive(SSL_CTX_use_PrivateKey(native_handle(), key.native_handle()),
                                "SslCtx::use_private_key");
}

Result<void> SslCtx::check_private_key() const {
  if (!*this) return empty_error("check_private_key");
  return detail::check_positive(SSL_CTX_check_private_key(native_handle()),
                                "SslCtx::check_private_key: certificate and key do not match");
}

Result<void> SslCtx::add_chain_cert(const X509& cert) {
  if (!*this) return empty_error("add_chain_cert");
  if (!cert) return ErrorStack::message("SslCtx::add_chain_cert: empty certificate");
  detail::cache_extensions(cert.native_handle());
  // larg 1 selects the add1 variant: the context up-refs, `cert` stays the caller's.
  return detail::check_positive(detail::ctx_add1_chain_cert(native_handle(), cert.native_handle()),
                                "SslCtx::add_chain_cert");
}

std::vector<X509> SslCtx::chain_certs() const {
  std::vector<X509> out;
  if (!*this) return out;
  STACK_OF(X509)* chain = nullptr;  // get0: owned by the context
  detail::ctx_get0_chain_certs(native_handle(), &chain);
  for (int i = 0; chain != nullptr && i < ossl_sk_x509_num(chain); ++i) {
    out.push_back(*X509::share(ossl_sk_x509_value(chain, i)));
  }
  return out;
}

std::optional<X509> SslCtx::certificate() const {
  if (!*this) return std::nullopt;
  ::X509* cert = SSL_CTX_get0_certificate(native_handle());  // get0: borrowed
  if (cert == nullptr) return std::nullopt;
  return *X509::share(cert);
}

Result<void> SslCtx::set_default_verify_paths() {
  static constexpr const char* what = "SslCtx::set_default_verify_paths";
  if (!*this) return empty_error("set_default_verify_paths");
  detail::CtxState* state = detail::ctx_state(native_handle());
  if (state == nullptr) return detail::failure(what);
  auto ok = detail::check_positive(SSL_CTX_set_default_verify_paths(native_handle()), what);
  if (!ok) return ok;
  // The bundle file's certificates are in the store now (directories load lazily).
  detail::cache_store_extensions(SSL_CTX_get_cert_store(native_handle()));
  const std::lock_guard lock(state->update_mutex);
  state->trust.system = true;
  return {};
}

Result<void> SslCtx::load_verify_file(std::string_view path) {
  static constexpr const char* what = "SslCtx::load_verify_file";
  if (!*this) return empty_error("load_verify_file");
  detail::CtxState* state = detail::ctx_state(native_handle());
  if (state == nullptr) return detail::failure(what);
  X509_STORE* store = SSL_CTX_get_cert_store(native_handle());  // get0: the context's
  // What the file adds is recorded for the fingerprint of persisted sessions: the
  // store's contents before and after (a lookup directory loading a certificate
  // meanwhile adds one more to the record, which only makes the fingerprint stricter).
  const std::lock_guard lock(state->update_mutex);
  auto before = detail::store_digests(store, what);
  if (!before) return std::move(before).error();
  auto ok = detail::with_cstr(path, what, [this, path](const char* p) {
    return detail::check_positive(SSL_CTX_load_verify_file(native_handle(), p), [path] {
      return "SslCtx::load_verify_file(\"" + std::string(path) + "\")";
    });
  });
  if (!ok) return ok;
  detail::cache_store_extensions(store);
  auto after = detail::store_digests(store, what);
  if (!after) return std::move(after).error();
  std::vector<detail::Sha256>& added = state->trust.added;
  std::set_difference(after->certs.begin(), after->certs.end(), before->certs.begin(),
                      before->certs.end(), std::back_inserter(added));
  std::set_difference(after->crls.begin(), after->crls.end(), before->crls.begin(),
                      before->crls.end(), std::back_inserter(added));
  return {};
}

Result<void> SslCtx::add_trusted_cert(const X509& cert) {
  static constexpr const char* what = "SslCtx::add_trusted_cert";
  if (!*this) return empty_error("add_trusted_cert");
  if (!cert) return ErrorStack::message("SslCtx::add_trusted_cert: empty certificate");
  detail::CtxState* state = detail::ctx_state(native_handle());
  if (state == nullptr) return detail::failure(what);
  detail::Sha256 digest{};
  unsigned int len = 0;
  if (X509_digest(cert.native_handle(), EVP_sha256(), digest.data(), &len) != 1) {
    return detail::failure(what);
  }
  detail::cache_extensions(cert.native_handle());
  // The store is get0 (owned by the context); X509_STORE_add_cert up-refs `cert`.
  auto ok = detail::check_positive(
      X509_STORE_add_cert(SSL_CTX_get_cert_store(native_handle()), cert.native_handle()), what);
  if (!ok) return ok;
  const std::lock_guard lock(state->update_mutex);
  state->trust.added.push_back(digest);
  return {};
}

Result<void> SslCtx::set_crls(std::vector<X509Crl> crls) {
  if (!*this) return empty_error("set_crls");
  for (const X509Crl& crl : crls) {
    if (!crl) return ErrorStack::message("SslCtx::set_crls: empty CRL in the list");
  }
  return detail::set_policy_crls(native_handle(), std::move(crls), "SslCtx::set_crls");
}

void SslCtx::disable_session_cache() noexcept {
  set_session_cache_mode(SessionCacheMode::OFF);
}

void SslCtx::set_session_cache_mode(SessionCacheMode mode) noexcept {
  if (!*this) return;
  long bits = mode.bits();
  // The client session cache's feed stays (src/session_cache.cpp owns it).
  if (detail::has_client_session_cache(native_handle())) {
    bits |= SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE;
  }
  // So does the session store's (src/session_store.cpp).
  if (detail::has_session_store(native_handle())) {
    bits |= SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL;
  }
  detail::ctx_set_session_cache_mode(native_handle(), bits);
}

SessionCacheMode SslCtx::session_cache_mode() const noexcept {
  return SessionCacheMode(*this ? detail::ctx_get_session_cache_mode(native_handle()) : 0);
}

void SslCtx::set_session_cache_size(long size) noexcept {
  if (*this) detail::ctx_sess_set_cache_size(native_handle(), size);
}

long SslCtx::session_cache_size() const noexcept {
  return *this ? detail::ctx_sess_get_cache_size(native_handle()) : 0;
}

Result<void> SslCtx::set_session_id_context(std::span<const std::byte> context) {
  if (!*this) return empty_error("set_session_id_context");
  if (context.size() > SSL_MAX_SID_CTX_LENGTH) {
    return ErrorStack::message("SslCtx::set_session_id_context: " + std::to_string(context.size()) +
                               " bytes exceeds the limit of " +
                               std::to_string(SSL_MAX_SID_CTX_LENGTH));
  }
  return detail::check_positive(
      SSL_CTX_set_session_id_context(native_handle(),
                                     reinterpret_cast<const unsigned char*>(context.data()),
                                     static_cast<unsigned int>(context.size())),
      "SslCtx::set_session_id_context");
}

Result<void> SslCtx::set_session_id_context(std::string_view context) {
  return set_session_id_context(detail::as_bytes(context));
}

Result<void> SslCtx::set_session_timeout(std::chrono::seconds timeout) {
  if (!*this) return empty_error("set_session_timeout");
  if (timeout.count() < 1 || timeout.count() > std::numeric_limits<long>::max()) {
    return ErrorStack::message("SslCtx::set_session_timeout: " + std::to_string(timeout.count()) +
                               " s (at least 1 s)");
  }
  // Returns the previous timeout; cannot fail on a context.
  (void)SSL_CTX_set_timeout(native_handle(), static_cast<long>(timeout.count()));
  return {};
}

std::chrono::seconds SslCtx::session_timeout() const noexcept {
  return std::chrono::seconds(*this ? SSL_CTX_get_timeout(native_handle()) : 0);
}

Result<void> SslCtx::set_num_tickets(std::size_t count) {
  if (!*this) return empty_error("set_num_tickets");
  return detail::check_positive(SSL_CTX_set_num_tickets(native_handle(), count),
                                "SslCtx::set_num_tickets");
}

std::size_t SslCtx::num_tickets() const noexcept {
  return *this ? SSL_CTX_get_num_tickets(native_handle()) : 0;
}

long SslCtx::set_mode(long bits) noexcept {
  return *this ? detail::ctx_set_mode(native_handle(), bits) : 0;
}

long SslCtx::mode() const noexcept {
  return *this ? detail::ctx_set_mode(native_handle(), 0) : 0;
}

std::uint64_t SslCtx::set_options(std::uint64_t bits) noexcept {
  return *this ? SSL_CTX_set_options(native_handle(), bits) : 0;
}

std::uint64_t SslCtx::clear_options(std::uint64_t bits) noexcept {
  return *this ? SSL_CTX_clear_options(native_handle(), bits) : 0;
}

std::uint64_t SslCtx::options() const noexcept {
  return *this ? SSL_CTX_get_options(native_handle()) : 0;
}

Result<void> SslCtx::set_alpn_protos(std::span<const std::byte> wire) {
  if (!*this) return empty_error("set_alpn_protos");
  if (auto names = alpn_decode(wire); !names) {
    return std::move(names).error().with_context("SslCtx::set_alpn_protos");
  }
  // Inverted convention: SSL_CTX_set_alpn_protos returns 0 on success.
  return detail::check_zero(
      SSL_CTX_set_alpn_protos(native_handle(), reinterpret_cast<const unsigned char*>(wire.data()),
                              static_cast<unsigned int>(wire.size())),
      "SslCtx::set_alpn_protos");
}

Result<Ssl> SslCtx::new_ssl_for_host(std::string_view host, HostnameFlags flags) const {
  return new_ssl_for_host(host, 0, flags);
}

Result<Ssl> SslCtx::new_ssl_for_host(std::string_view host, std::uint16_t port,
                                     HostnameFlags flags) const {
  auto ssl = new_ssl();
  if (!ssl) return ssl;
  ssl->set_connect_state();
  if (auto ok = ssl->set_peer_host(host, flags); !ok) return std::move(ok).error();
  // After the host: the cached session's binding covers it.
  if (auto ok = detail::offer_cached_session(ssl->native_handle(), host, port); !ok) {
    return std::move(ok).error();
  }
  return ssl;
}

Result<Ssl> SslCtx::new_ssl() const {
  if (!*this) return empty_error("new_ssl");
  auto raw = detail::check_ptr(SSL_new(native_handle()), "SslCtx::new_ssl");
  if (!raw) return std::move(raw).error();
  Ssl ssl(*raw);
  detail::ssl_set_mode(*raw, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return ssl;
}

}  // namespace ossl
