#include <ossl/ssl.hpp>

#include "ctx_state.hpp"
#include "internal.hpp"
#include "verify_policy.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>

namespace ossl {

namespace {

// The typed setters below call SSL_CTX_ctrl / SSL_ctrl with the named SSL_CTRL_*
// codes that OpenSSL's macros expand to, so each macro API has a real function.
long ctx_ctrl(SSL_CTX* ctx, int cmd, long larg, void* parg = nullptr) noexcept {
  return SSL_CTX_ctrl(ctx, cmd, larg, parg);
}
long ssl_ctrl(SSL* ssl, int cmd, long larg, void* parg = nullptr) noexcept {
  return SSL_ctrl(ssl, cmd, larg, parg);
}

std::optional<TlsVersion> version_or_none(long v) noexcept {
  if (v == 0) return std::nullopt;  // 0: no limit set
  return static_cast<TlsVersion>(v);
}

// SNI for a host already known not to be an IP literal. (SSL_set_tlsext_host_name)
Result<void> set_sni(SSL* ssl, std::string_view hostname) {
  if (hostname.empty()) return ErrorStack::message("Ssl::set_hostname: empty host name");
  if (hostname.size() > TLSEXT_MAXLEN_host_name) {
    return ErrorStack::message("Ssl::set_hostname: host name longer than 255 bytes");
  }
  return detail::with_cstr(hostname, "Ssl::set_hostname", [ssl](const char* s) {
    return detail::check_positive(ssl_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME,
                                           TLSEXT_NAMETYPE_host_name, const_cast<char*>(s)),
                                  "Ssl::set_hostname");
  });
}

// The certificate name check; `ip` says whether `host` is an IP literal.
// (SSL_set1_host, or X509_VERIFY_PARAM_set1_ip_asc on the SSL's get0 parameters)
Result<void> set_verify_host(SSL* ssl, std::string_view host, bool ip) {
  if (host.empty()) return ErrorStack::message("Ssl::set_verify_hostname: empty host");
  return detail::with_cstr(host, "Ssl::set_verify_hostname", [ssl, host, ip](const char* s) {
    auto what = [host] { return "Ssl::set_verify_hostname(\"" + std::string(host) + "\")"; };
    // get0: the parameters belong to the SSL. One kind of identity per connection: a
    // name inherited from the context (builder verify_hostname) or set before is
    // replaced, so the leaf is checked against exactly `host`.
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (ip) {
      if (auto ok = detail::check_positive(X509_VERIFY_PARAM_set1_host(param, nullptr, 0), what);
          !ok) {
        return ok;
      }
      return detail::check_positive(X509_VERIFY_PARAM_set1_ip_asc(param, s), what);
    }
    if (auto ok = detail::check_positive(X509_VERIFY_PARAM_set1_ip(param, nullptr, 0), what); !ok) {
      return ok;
    }
    return detail::check_positive(X509_VERIFY_PARAM_set1_host(param, s, 0), what);
  });
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

// An SSL_CTX ex_data slot that owns one T: its free callback deletes the T when the
// context is freed, so the state lives exactly as long as the context, copies included.
template <class T>
int ctx_slot() {
  static const int index = SSL_CTX_get_ex_new_index(
      0, nullptr, nullptr, nullptr,
      [](void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) { delete static_cast<T*>(ptr); });
  return index;
}

// Returns the context's T, or null when none was stored (get0: the context owns it).
template <class T>
T* ctx_slot_get(const SSL_CTX* ctx) noexcept {
  const int index = ctx_slot<T>();
  return index < 0 ? nullptr : static_cast<T*>(SSL_CTX_get_ex_data(ctx, index));
}

// Stores `value` in the context's slot for T, then runs `install(T*)` (which points
// OpenSSL's callback at it), then frees the T it replaced. Returns the stored pointer.
template <class T, class Install>
Result<T*> ctx_slot_set(SSL_CTX* ctx, std::unique_ptr<T> value, const char* what,
                        Install&& install) {
  const int index = ctx_slot<T>();
  if (index < 0) return detail::failure(what);
  T* old = static_cast<T*>(SSL_CTX_get_ex_data(ctx, index));
  if (auto ok = detail::check_positive(SSL_CTX_set_ex_data(ctx, index, value.get()), what); !ok) {
    return std::move(ok).error();
  }
  T* stored = value.release();  // owned by the context now
  install(stored);
  delete old;
  return stored;
}

// Server ALPN state (in a ctx_slot).
struct AlpnServerConfig {
  std::vector<unsigned char> wire;  // preference order (used when no selector)
  AlpnSelector selector;
  AlpnMismatch on_mismatch = AlpnMismatch::Fail;
};

// SSL_CTX_alpn_select_cb_func. `in` is the client's list, already validated by
// OpenSSL; *out must point into memory that outlives the call: the client's list
// or our config (owned by the context).
int alpn_select(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void* arg) {
  const auto* cfg = static_cast<const AlpnServerConfig*>(arg);
  const int mismatch =
      cfg->on_mismatch == AlpnMismatch::Fail ? SSL_TLSEXT_ERR_ALERT_FATAL : SSL_TLSEXT_ERR_NOACK;
  if (cfg->selector) {
    auto offered = alpn_decode(std::as_bytes(std::span(in, inlen)));
    if (!offered) return SSL_TLSEXT_ERR_ALERT_FATAL;
    std::optional<std::string_view> pick;
#if defined(__cpp_exceptions)
    try {
      pick = cfg->selector(*offered);
    } catch (...) {  // an exception must not unwind through OpenSSL's C frames
      return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
#else
    pick = cfg->selector(*offered);
#endif
    if (!pick) return mismatch;
    for (std::string_view name : *offered) {
      if (name == *pick) {
        *out = reinterpret_cast<const unsigned char*>(name.data());
        *outlen = static_cast<unsigned char>(name.size());
        return SSL_TLSEXT_ERR_OK;
      }
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL;  // the selector named a protocol nobody offered
  }
  unsigned char* selected = nullptr;
  unsigned char selected_len = 0;
  // SSL_select_next_proto walks its first list (ours) in order and returns the first
  // protocol the client also offers: server preference. On no overlap it still sets
  // `selected` (to the client's first), which must not be used.
  if (SSL_select_next_proto(&selected, &selected_len, cfg->wire.data(),
                            static_cast<unsigned int>(cfg->wire.size()), in,
                            inlen) == OPENSSL_NPN_NEGOTIATED) {
    *out = selected;
    *outlen = selected_len;
    return SSL_TLSEXT_ERR_OK;
  }
  return mismatch;
}

Result<void> install_alpn_config(SSL_CTX* ctx, std::unique_ptr<AlpnServerConfig> cfg,
                                 const char* what) {
  auto stored = ctx_slot_set(ctx, std::move(cfg), what, [ctx](AlpnServerConfig* c) {
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, c);
  });
  if (!stored) return std::move(stored).error();
  return {};
}

// Key log state (in a ctx_slot).
struct KeyLogConfig {
  KeyLogCallback callback;
};

// SSL_CTX_keylog_cb_func. The callback belongs to the SSL's context (SSL_get_SSL_CTX,
// get0); OpenSSL calls this once per secret as the handshake derives it.
void key_log_line(const SSL* ssl, const char* line) {
  const auto* cfg = ctx_slot_get<KeyLogConfig>(SSL_get_SSL_CTX(ssl));
  if (cfg == nullptr || !cfg->callback) return;
#if defined(__cpp_exceptions)
  try {
    cfg->callback(line);
  } catch (...) {  // an exception must not unwind through OpenSSL's C frames
  }
#else
  cfg->callback(line);
#endif
}

// Server SNI state (in a ctx_slot).
struct SniEntry {
  std::string name;  // lower case, no trailing dot; "*.example.com" for a wildcard
  X509 cert;
  Pkey<Private> key;
  STACK_OF(X509) * chain = nullptr;  // our references; SSL_set1_chain takes its own

  SniEntry() = default;
  SniEntry(const SniEntry&) = delete;
  SniEntry& operator=(const SniEntry&) = delete;
  ~SniEntry() { ossl_sk_x509_pop_free(chain); }  // null-safe
};

struct SniConfig {
  std::vector<std::unique_ptr<SniEntry>> entries;
  UnknownServerName unknown = UnknownServerName::UseDefault;

  // Exact name first, then the wildcard for its first label. `host` is the client's
  // SNI as OpenSSL accepted it (no NUL, at most 255 bytes).
  [[nodiscard]] const SniEntry* find(std::string_view host) const noexcept {
    char lower[256];
    if (!host.empty() && host.back() == '.') host.remove_suffix(1);
    if (host.empty() || host.size() >= sizeof lower) return nullptr;
    for (std::size_t i = 0; i < host.size(); ++i) {
      const char c = host[i];
      lower[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    const std::string_view name(lower, host.size());
    const SniEntry* wildcard = nullptr;
    const auto dot = name.find('.');
    for (const auto& e : entries) {
      if (e->name == name) return e.get();
      if (wildcard == nullptr && dot != std::string_view::npos && dot > 0 &&
          e->name.size() == name.size() - dot + 1 && e->name[0] == '*' &&
          std::string_view(e->name).substr(1) == name.substr(dot)) {
        wildcard = e.get();
      }
    }
    return wildcard;
  }
};

// SSL_CTX servername callback: runs while the ClientHello's extensions are finalised,
// before the server picks its certificate and signature algorithm, so switching the
// certificate here decides what is sent. Returning SSL_TLSEXT_ERR_OK acknowledges SNI,
// which is also what makes OpenSSL record the name in the session.
int sni_select(SSL* ssl, int* alert, void* arg) {
  const auto* cfg = static_cast<const SniConfig*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name == nullptr) return SSL_TLSEXT_ERR_NOACK;  // no SNI: the default certificate
  const SniEntry* e = cfg->find(name);
  if (e == nullptr) {
    if (cfg->unknown == UnknownServerName::UseDefault) return SSL_TLSEXT_ERR_OK;
    // Refuse names no certificate is for, the default one included. get0: the
    // connection's own certificate, still the context's default here.
    ::X509* fallback = SSL_get_certificate(ssl);
    if (fallback != nullptr &&
        X509_check_host(fallback, name, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, nullptr) == 1) {
      return SSL_TLSEXT_ERR_OK;
    }
    ERR_clear_error();  // X509_check_host may queue; the alert is the answer
    *alert = SSL_AD_UNRECOGNIZED_NAME;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  // The connection's CERT is its own copy of the context's (made at SSL_new). Clear
  // every slot first: OpenSSL keeps one certificate per key type, and a default RSA
  // certificate left beside an EC one for this name could still be chosen.
  SSL_certs_clear(ssl);
  if (SSL_use_certificate(ssl, e->cert.native_handle()) != 1 ||
      SSL_use_PrivateKey(ssl, e->key.native_handle()) != 1 ||
      (e->chain != nullptr &&
       ssl_ctrl(ssl, SSL_CTRL_CHAIN, 1, e->chain) != 1)) {  // SSL_set1_chain: copies
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  return SSL_TLSEXT_ERR_OK;
}

// Returns the context's SNI config, installing an empty one and the callback first.
Result<SniConfig*> sni_config(SSL_CTX* ctx, const char* what) {
  if (auto* cfg = ctx_slot_get<SniConfig>(ctx)) return cfg;
  return ctx_slot_set(ctx, std::make_unique<SniConfig>(), what, [ctx](SniConfig* cfg) {
    // SSL_CTX_set_tlsext_servername_callback / _arg are macros over these ctrls.
    SSL_CTX_callback_ctrl(ctx, SSL_CTRL_SET_TLSEXT_SERVERNAME_CB,
                          reinterpret_cast<void (*)()>(&sni_select));  // NOLINT: C API cast
    ctx_ctrl(ctx, SSL_CTRL_SET_TLSEXT_SERVERNAME_ARG, 0, cfg);
  });
}

// A DNS name or a one-label wildcard, lower-cased, without a trailing dot; or an error
// saying what is wrong with it.
Result<std::string> sni_name(std::string_view name, const char* what) {
  auto bad = [&](const char* why) {
    return ErrorStack::message(std::string(what) + ": \"" + std::string(name) + "\" " + why);
  };
  if (name.find('\0') != std::string_view::npos) {
    return ErrorStack::message(std::string(what) + ": embedded NUL byte in the name");
  }
  std::string out(name);
  if (!out.empty() && out.back() == '.') out.pop_back();
  if (out.empty()) return bad("is empty");
  if (out.size() > 253) return bad("is longer than 253 bytes");
  if (detail::is_ip_literal(out)) return bad("is an IP address; SNI carries DNS names only");
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  std::string_view rest = out;
  if (rest.starts_with("*.")) rest.remove_prefix(2);
  std::size_t label = 0;
  for (std::size_t i = 0; i <= rest.size(); ++i) {
    if (i == rest.size() || rest[i] == '.') {
      if (label == 0) return bad("has an empty label");
      if (label > 63) return bad("has a label longer than 63 bytes");
      label = 0;
      continue;
    }
    const char c = rest[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok)
      return bad(c == '*' ? "has a wildcard other than a whole first label (\"*.\")"
                          : "has a character not allowed in a DNS name");
    ++label;
  }
  return out;
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
      ctx_ctrl(native_handle(), SSL_CTRL_SET_MIN_PROTO_VERSION, static_cast<long>(version)),
      "SslCtx::set_min_proto_version");
}

Result<void> SslCtx::set_max_proto_version(TlsVersion version) {
  if (!*this) return empty_error("set_max_proto_version");
  return detail::check_positive(
      ctx_ctrl(native_handle(), SSL_CTRL_SET_MAX_PROTO_VERSION, static_cast<long>(version)),
      "SslCtx::set_max_proto_version");
}

std::optional<TlsVersion> SslCtx::min_proto_version() const noexcept {
  if (!*this) return std::nullopt;
  return version_or_none(ctx_ctrl(native_handle(), SSL_CTRL_GET_MIN_PROTO_VERSION, 0));
}

std::optional<TlsVersion> SslCtx::max_proto_version() const noexcept {
  if (!*this) return std::nullopt;
  return version_or_none(ctx_ctrl(native_handle(), SSL_CTRL_GET_MAX_PROTO_VERSION, 0));
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
    return detail::check_positive(
        ctx_ctrl(native_handle(), SSL_CTRL_SET_GROUPS_LIST, 0, const_cast<char*>(s)),
        [list] { return "SslCtx::set_groups_list(\"" + std::string(list) + "\")"; });
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
  return detail::check_positive(
      ctx_ctrl(native_handle(), SSL_CTRL_CHAIN_CERT, 1, cert.native_handle()),
      "SslCtx::add_chain_cert");
}

std::vector<X509> SslCtx::chain_certs() const {
  std::vector<X509> out;
  if (!*this) return out;
  STACK_OF(X509)* chain = nullptr;  // get0: owned by the context
  ctx_ctrl(native_handle(), SSL_CTRL_GET_CHAIN_CERTS, 0, &chain);
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
  if (!*this) return empty_error("set_default_verify_paths");
  auto ok = detail::check_positive(SSL_CTX_set_default_verify_paths(native_handle()),
                                   "SslCtx::set_default_verify_paths");
  // The bundle file's certificates are in the store now (directories load lazily).
  if (ok) detail::cache_store_extensions(SSL_CTX_get_cert_store(native_handle()));
  return ok;
}

Result<void> SslCtx::load_verify_file(std::string_view path) {
  if (!*this) return empty_error("load_verify_file");
  auto ok = detail::with_cstr(path, "SslCtx::load_verify_file", [this, path](const char* p) {
    return detail::check_positive(SSL_CTX_load_verify_file(native_handle(), p), [path] {
      return "SslCtx::load_verify_file(\"" + std::string(path) + "\")";
    });
  });
  if (ok) detail::cache_store_extensions(SSL_CTX_get_cert_store(native_handle()));
  return ok;
}

Result<void> SslCtx::add_trusted_cert(const X509& cert) {
  if (!*this) return empty_error("add_trusted_cert");
  if (!cert) return ErrorStack::message("SslCtx::add_trusted_cert: empty certificate");
  detail::cache_extensions(cert.native_handle());
  // The store is get0 (owned by the context); X509_STORE_add_cert up-refs `cert`.
  return detail::check_positive(
      X509_STORE_add_cert(SSL_CTX_get_cert_store(native_handle()), cert.native_handle()),
      "SslCtx::add_trusted_cert");
}

void SslCtx::disable_session_cache() noexcept {
  set_session_cache_mode(SessionCacheMode::OFF);
}

void SslCtx::set_session_cache_mode(SessionCacheMode mode) noexcept {
  if (*this) ctx_ctrl(native_handle(), SSL_CTRL_SET_SESS_CACHE_MODE, mode.bits());
}

SessionCacheMode SslCtx::session_cache_mode() const noexcept {
  return SessionCacheMode(*this ? ctx_ctrl(native_handle(), SSL_CTRL_GET_SESS_CACHE_MODE, 0) : 0);
}

void SslCtx::set_session_cache_size(long size) noexcept {
  if (*this) ctx_ctrl(native_handle(), SSL_CTRL_SET_SESS_CACHE_SIZE, size);
}

long SslCtx::session_cache_size() const noexcept {
  return *this ? ctx_ctrl(native_handle(), SSL_CTRL_GET_SESS_CACHE_SIZE, 0) : 0;
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

Result<void> SslCtx::set_num_tickets(std::size_t count) {
  if (!*this) return empty_error("set_num_tickets");
  return detail::check_positive(SSL_CTX_set_num_tickets(native_handle(), count),
                                "SslCtx::set_num_tickets");
}

std::size_t SslCtx::num_tickets() const noexcept {
  return *this ? SSL_CTX_get_num_tickets(native_handle()) : 0;
}

long SslCtx::set_mode(long bits) noexcept {
  return *this ? ctx_ctrl(native_handle(), SSL_CTRL_MODE, bits) : 0;
}

long SslCtx::mode() const noexcept {
  return *this ? ctx_ctrl(native_handle(), SSL_CTRL_MODE, 0) : 0;
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

Result<void> SslCtx::set_alpn_server_protocols(std::span<const std::byte> wire,
                                               AlpnMismatch on_mismatch) {
  if (!*this) return empty_error("set_alpn_server_protocols");
  if (auto names = alpn_decode(wire); !names) {
    return std::move(names).error().with_context("SslCtx::set_alpn_server_protocols");
  }
  auto cfg = std::make_unique<AlpnServerConfig>();
  const auto* bytes = reinterpret_cast<const unsigned char*>(wire.data());
  cfg->wire.assign(bytes, bytes + wire.size());
  cfg->on_mismatch = on_mismatch;
  return install_alpn_config(native_handle(), std::move(cfg), "SslCtx::set_alpn_server_protocols");
}

Result<void> SslCtx::set_alpn_select_callback(AlpnSelector selector, AlpnMismatch on_mismatch) {
  if (!*this) return empty_error("set_alpn_select_callback");
  if (!selector) return ErrorStack::message("SslCtx::set_alpn_select_callback: empty selector");
  auto cfg = std::make_unique<AlpnServerConfig>();
  cfg->selector = std::move(selector);
  cfg->on_mismatch = on_mismatch;
  return install_alpn_config(native_handle(), std::move(cfg), "SslCtx::set_alpn_select_callback");
}

Result<void> SslCtx::add_sni_certificate(std::string_view name, const X509& cert,
                                         const Pkey<Private>& key, std::span<const X509> chain) {
  static constexpr const char* what = "SslCtx::add_sni_certificate";
  if (!*this) return empty_error("add_sni_certificate");
  auto normal = sni_name(name, what);
  if (!normal) return std::move(normal).error();
  if (!cert) return ErrorStack::message(std::string(what) + ": empty certificate");
  if (!key) return ErrorStack::message(std::string(what) + ": empty key");
  if (X509_check_private_key(cert.native_handle(), key.native_handle()) != 1) {
    return detail::failure(std::string(what) + ": the key does not match the certificate for \"" +
                           *normal + "\"");
  }
  auto entry = std::make_unique<SniEntry>();
  entry->name = std::move(*normal);
  entry->cert = cert;
  entry->key = key;
  detail::cache_extensions(cert.native_handle());  // before any handshake can share it
  if (!chain.empty()) {
    entry->chain = ossl_sk_x509_new_null();
    if (entry->chain == nullptr) return detail::failure(what);
    for (std::size_t i = 0; i < chain.size(); ++i) {
      if (!chain[i]) {
        return ErrorStack::message(
            std::string(what) + ": empty certificate in the chain at index " + std::to_string(i));
      }
      // The stack owns one reference per certificate (freed with the entry).
      if (ossl_sk_x509_push(entry->chain, chain[i].native_handle()) <= 0) {
        return detail::failure(what);
      }
      X509_up_ref(chain[i].native_handle());
      detail::cache_extensions(chain[i].native_handle());
    }
  }
  auto cfg = sni_config(native_handle(), what);
  if (!cfg) return std::move(cfg).error();
  for (const auto& e : (*cfg)->entries) {
    if (e->name == entry->name) {
      return ErrorStack::message(std::string(what) + ": \"" + entry->name +
                                 "\" already has a certificate");
    }
  }
  (*cfg)->entries.push_back(std::move(entry));
  return {};
}

Result<void> SslCtx::set_sni_unknown_name(UnknownServerName policy) {
  if (!*this) return empty_error("set_sni_unknown_name");
  auto cfg = sni_config(native_handle(), "SslCtx::set_sni_unknown_name");
  if (!cfg) return std::move(cfg).error();
  (*cfg)->unknown = policy;
  return {};
}

namespace {
// Sets the record plaintext limit through `ctrl` (SSL_CTX_ctrl or SSL_ctrl on `obj`).
// SSL_CTRL_SET_MAX_SEND_FRAGMENT returns 0 with no record outside 512..16384, so the
// range is checked here. Lowering the maximum also lowers split_send_fragment, but
// raising it does not, and records are cut at the split size: both are set, so the
// limit can go up again.
template <class Obj>
Result<void> set_fragment(Obj* obj, long (*ctrl)(Obj*, int, long, void*), std::size_t bytes,
                          const char* what) {
  if (bytes < 512 || bytes > SSL3_RT_MAX_PLAIN_LENGTH) {
    return ErrorStack::message(std::string(what) + ": " + std::to_string(bytes) +
                               " bytes is outside 512 to 16384");
  }
  const auto n = static_cast<long>(bytes);
  if (auto ok = detail::check_positive(ctrl(obj, SSL_CTRL_SET_MAX_SEND_FRAGMENT, n, nullptr), what);
      !ok) {
    return ok;
  }
  return detail::check_positive(ctrl(obj, SSL_CTRL_SET_SPLIT_SEND_FRAGMENT, n, nullptr), what);
}
}  // namespace

Result<void> SslCtx::set_max_send_fragment(std::size_t bytes) {
  if (!*this) return empty_error("set_max_send_fragment");
  return set_fragment(native_handle(), ctx_ctrl, bytes, "SslCtx::set_max_send_fragment");
}

Result<void> Ssl::set_max_send_fragment(std::size_t bytes) {
  static constexpr const char* what = "Ssl::set_max_send_fragment";
  if (!*this) return empty_error("set_max_send_fragment");
  // OpenSSL sizes the write buffer when the handshake starts; a larger limit set
  // later makes the next write fail with an internal error. Refuse instead.
  if (SSL_in_before(native_handle()) != 1) {
    return ErrorStack::message(std::string(what) +
                               ": must be set before the handshake starts (OpenSSL sizes its "
                               "write buffer then)");
  }
  return set_fragment(native_handle(), ssl_ctrl, bytes, what);
}

Result<void> SslCtx::danger_set_keylog_callback(KeyLogCallback callback) {
  static constexpr const char* what = "SslCtx::danger_set_keylog_callback";
  if (!*this) return empty_error("danger_set_keylog_callback");
  if (!callback) {
    SSL_CTX_set_keylog_callback(native_handle(), nullptr);
    return {};
  }
  auto cfg = std::make_unique<KeyLogConfig>();
  cfg->callback = std::move(callback);
  SSL_CTX* ctx = native_handle();
  auto stored = ctx_slot_set(ctx, std::move(cfg), what, [ctx](KeyLogConfig*) {
    SSL_CTX_set_keylog_callback(ctx, key_log_line);  // finds the config through the SSL
  });
  if (!stored) return std::move(stored).error();
  return {};
}

Result<KeyLogCallback> key_log_file(std::string_view path) {
  auto file = detail::with_cstr(path, "key_log_file", [path](const char* p) -> Result<std::FILE*> {
    // open(2) rather than fopen: a new file must not be readable by others.
    const int fd = ::open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      return ErrorStack::message("key_log_file: cannot open \"" + std::string(path) +
                                 "\": " + std::strerror(errno));
    }
    std::FILE* f = ::fdopen(fd, "a");
    if (f == nullptr) {
      const int e = errno;
      ::close(fd);
      return ErrorStack::message("key_log_file: fdopen \"" + std::string(path) +
                                 "\": " + std::strerror(e));
    }
    return f;
  });
  if (!file) return std::move(file).error();
  struct Sink {
    std::mutex mutex;
    std::FILE* file = nullptr;
    explicit Sink(std::FILE* f) : file(f) {}
    Sink(const Sink&) = delete;
    Sink& operator=(const Sink&) = delete;
    ~Sink() { (void)std::fclose(file); }
  };
  auto sink = std::make_shared<Sink>(*file);
  return KeyLogCallback([sink](std::string_view line) {
    const std::lock_guard lock(sink->mutex);
    (void)std::fwrite(line.data(), 1, line.size(), sink->file);
    (void)std::fputc('\n', sink->file);
    (void)std::fflush(sink->file);  // a debugging aid must not lose lines on a crash
  });
}

Result<Ssl> SslCtx::new_ssl_for_host(std::string_view host, HostnameFlags flags) const {
  auto ssl = new_ssl();
  if (!ssl) return ssl;
  ssl->set_connect_state();
  if (auto ok = ssl->set_peer_host(host, flags); !ok) return std::move(ok).error();
  return ssl;
}

Result<Ssl> SslCtx::new_ssl() const {
  if (!*this) return empty_error("new_ssl");
  auto raw = detail::check_ptr(SSL_new(native_handle()), "SslCtx::new_ssl");
  if (!raw) return std::move(raw).error();
  Ssl ssl(*raw);
  ssl_ctrl(*raw, SSL_CTRL_MODE, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return ssl;
}

// -------------------------------------------------------------------------------- Ssl

void Ssl::set_bio_duplex(Bio&& bio) noexcept {
  if (!*this) return;
  BIO* b = bio.release();
  // With rbio == wbio, SSL_set_bio takes exactly one reference (it up-refs once more
  // itself for the second slot), which is the one `bio` gave up.
  SSL_set_bio(native_handle(), b, b);
}

void Ssl::set_bio(Bio&& rbio, Bio&& wbio) noexcept {
  if (!*this) return;
  // SSL_set_bio takes one reference to each.
  SSL_set_bio(native_handle(), rbio.release(), wbio.release());
}

Result<void> Ssl::set_fd(int fd) {
  if (!*this) return empty_error("set_fd");
  if (fd < 0)
    return ErrorStack::message("Ssl::set_fd: invalid file descriptor " + std::to_string(fd));
  return detail::check_positive(SSL_set_fd(native_handle(), fd), "Ssl::set_fd");
}

Result<void> Ssl::set_hostname(std::string_view hostname) {
  if (!*this) return empty_error("set_hostname");
  if (detail::is_ip_literal(hostname)) {
    return ErrorStack::message("Ssl::set_hostname: \"" + std::string(hostname) +
                               "\" is an IP address; SNI carries DNS names only (RFC 6066)");
  }
  return set_sni(native_handle(), hostname);
}

std::optional<std::string_view> Ssl::hostname() const noexcept {
  const char* name =
      *this ? SSL_get_servername(native_handle(), TLSEXT_NAMETYPE_host_name) : nullptr;
  if (name == nullptr) return std::nullopt;
  return std::string_view(name);
}

Result<void> Ssl::set_verify_hostname(std::string_view host) {
  if (!*this) return empty_error("set_verify_hostname");
  return set_verify_host(native_handle(), host, detail::is_ip_literal(host));
}

Result<void> Ssl::set_peer_host(std::string_view host, HostnameFlags flags) {
  if (!*this) return empty_error("set_peer_host");
  const bool ip = detail::is_ip_literal(host);  // parsed once for both steps
  if (!ip) {
    if (auto ok = set_sni(native_handle(), host); !ok) return ok;  // SNI: DNS names only
  }
  set_verify_hostname_flags(flags);
  return set_verify_host(native_handle(), host, ip);
}

Result<void> Ssl::set_alpn_protos(std::span<const std::byte> wire) {
  if (!*this) return empty_error("set_alpn_protos");
  if (auto names = alpn_decode(wire); !names) {
    return std::move(names).error().with_context("Ssl::set_alpn_protos");
  }
  // Inverted convention: SSL_set_alpn_protos returns 0 on success.
  return detail::check_zero(
      SSL_set_alpn_protos(native_handle(), reinterpret_cast<const unsigned char*>(wire.data()),
                          static_cast<unsigned int>(wire.size())),
      "Ssl::set_alpn_protos");
}

void Ssl::set_verify_hostname_flags(HostnameFlags flags) noexcept {
  if (*this) SSL_set_hostflags(native_handle(), flags.bits());
}

void Ssl::set_verify(SslVerifyMode mode) noexcept {
  // Mode only: the callback copied from the context at SSL_new stays.
  if (*this) SSL_set_verify(native_handle(), mode.bits(), SSL_get_verify_callback(native_handle()));
}

Result<void> Ssl::set_min_proto_version(TlsVersion version) {
  if (!*this) return empty_error("set_min_proto_version");
  return detail::check_positive(
      ssl_ctrl(native_handle(), SSL_CTRL_SET_MIN_PROTO_VERSION, static_cast<long>(version)),
      "Ssl::set_min_proto_version");
}

Result<void> Ssl::set_max_proto_version(TlsVersion version) {
  if (!*this) return empty_error("set_max_proto_version");
  return detail::check_positive(
      ssl_ctrl(native_handle(), SSL_CTRL_SET_MAX_PROTO_VERSION, static_cast<long>(version)),
      "Ssl::set_max_proto_version");
}

void Ssl::set_connect_state() noexcept {
  if (*this) SSL_set_connect_state(native_handle());
}

void Ssl::set_accept_state() noexcept {
  if (*this) SSL_set_accept_state(native_handle());
}

SslIoError Ssl::io_error(int rc, const char* what) {
  const int saved_errno = errno;  // before anything else can change it
  const int code = SSL_get_error(native_handle(), rc);
  using Kind = SslIoError::Kind;
  switch (code) {
    case SSL_ERROR_WANT_READ:
      return SslIoError(Kind::WantRead, {}, code);
    case SSL_ERROR_WANT_WRITE:
      return SslIoError(Kind::WantWrite, {}, code);
    case SSL_ERROR_ZERO_RETURN:
      return SslIoError(Kind::ZeroReturn, {}, code);
    case SSL_ERROR_SYSCALL: {
      fatal_ = true;
      ErrorStack stack = ErrorStack::drain().with_context(what);
      if (saved_errno != 0) {
        ErrorRecord rec;
        rec.library = "system";
        rec.reason = std::strerror(saved_errno);
        stack.push(std::move(rec));
      }
      return SslIoError(Kind::Syscall, std::move(stack), code, saved_errno);
    }
    case SSL_ERROR_SSL:
      fatal_ = true;
      return SslIoError(Kind::Ssl, detail::failure(what), code);
    default:
      return SslIoError(Kind::Other, ErrorStack::drain().with_context(what), code);
  }
}

Result<void, SslIoError> Ssl::handshake_step(int (*step)(SSL*), const char* what) {
  if (!*this) return SslIoError(SslIoError::Kind::Other, empty_error(what));
  detail::clear_error_queue();
  if (session_offered_) [[unlikely]] {
    session_offered_ = false;
    detail::recheck_offered_session(native_handle());
  }
  const int rc = step(native_handle());
  if (rc == 1) return {};
  return io_error(rc, what);
}

Result<void, SslIoError> Ssl::connect() {
  return handshake_step(SSL_connect, "Ssl::connect");
}
Result<void, SslIoError> Ssl::accept() {
  return handshake_step(SSL_accept, "Ssl::accept");
}
Result<void, SslIoError> Ssl::do_handshake() {
  return handshake_step(SSL_do_handshake, "Ssl::do_handshake");
}

Result<std::size_t, SslIoError> Ssl::read(std::span<std::byte> buf) {
  if (!*this) return SslIoError(SslIoError::Kind::Other, empty_error("read"));
  if (buf.empty()) return std::size_t{0};
  detail::clear_error_queue();
  if (session_offered_) [[unlikely]] {  // the handshake may start here
    session_offered_ = false;
    detail::recheck_offered_session(native_handle());
  }
  std::size_t n = 0;
  const int rc = SSL_read_ex(native_handle(), buf.data(), buf.size(), &n);
  if (rc == 1) return n;
  return io_error(rc, "Ssl::read");
}

Result<std::size_t, SslIoError> Ssl::read(std::span<char> buf) {
  return read(std::as_writable_bytes(buf));
}

Result<std::size_t, SslIoError> Ssl::read(std::span<unsigned char> buf) {
  return read(std::as_writable_bytes(buf));
}

Result<std::size_t, SslIoError> Ssl::write(std::span<const std::byte> buf) {
  if (!*this) return SslIoError(SslIoError::Kind::Other, empty_error("write"));
  if (buf.empty()) return std::size_t{0};
  detail::clear_error_queue();
  if (session_offered_) [[unlikely]] {  // the handshake may start here
    session_offered_ = false;
    detail::recheck_offered_session(native_handle());
  }
  std::size_t n = 0;
  const int rc = SSL_write_ex(native_handle(), buf.data(), buf.size(), &n);
  if (rc == 1) return n;
  return io_error(rc, "Ssl::write");
}

Result<std::size_t, SslIoError> Ssl::write(std::string_view text) {
  return write(detail::as_bytes(text));
}

Result<std::size_t, SslIoError> Ssl::write(std::span<const unsigned char> buf) {
  return write(std::as_bytes(buf));
}

Result<void> Ssl::key_update(bool request_peer_update) {
  if (!*this) return empty_error("key_update");
  detail::clear_error_queue();
  return detail::check_positive(
      SSL_key_update(native_handle(),
                     request_peer_update ? SSL_KEY_UPDATE_REQUESTED : SSL_KEY_UPDATE_NOT_REQUESTED),
      "Ssl::key_update");
}

Result<void> Ssl::export_keying_material(std::span<std::byte> out, std::string_view label,
                                         std::optional<std::span<const std::byte>> context) const {
  static constexpr const char* what = "Ssl::export_keying_material";
  if (!*this) return empty_error("export_keying_material");
  // Before the handshake OpenSSL returns -1 without a record (no session yet), and
  // during it the secrets are not final: refuse both with a reason.
  if (SSL_is_init_finished(native_handle()) != 1) {
    return ErrorStack::message(std::string(what) + ": the handshake is not complete");
  }
  if (out.empty()) return ErrorStack::message(std::string(what) + ": empty output buffer");
  detail::clear_error_queue();
  const auto* ctx_bytes =
      context ? reinterpret_cast<const unsigned char*>(context->data()) : nullptr;
  // Returns 1 on success, 0 or -1 on failure.
  return detail::check_positive(
      SSL_export_keying_material(native_handle(), reinterpret_cast<unsigned char*>(out.data()),
                                 out.size(), label.data(), label.size(), ctx_bytes,
                                 context ? context->size() : 0, context ? 1 : 0),
      what);
}

Result<ShutdownResult> Ssl::shutdown() {
  if (!*this) return empty_error("shutdown");
  if (fatal_) {
    return ErrorStack::message(
        "Ssl::shutdown: refused after a fatal error on this connection (OpenSSL forbids "
        "sending close_notify then; just free the Ssl)");
  }
  detail::clear_error_queue();
  const int rc = SSL_shutdown(native_handle());
  if (rc == 1) return ShutdownResult::Complete;
  if (rc == 0) return ShutdownResult::Sent;
  const int code = SSL_get_error(native_handle(), rc);
  if (code == SSL_ERROR_WANT_READ && (SSL_get_shutdown(native_handle()) & SSL_SENT_SHUTDOWN)) {
    // Ours is out, the peer's has not arrived yet on a non-blocking transport.
    return ShutdownResult::Sent;
  }
  if (code == SSL_ERROR_WANT_WRITE) {
    return ErrorStack::message(
        "Ssl::shutdown: the transport would block writing close_notify (WantWrite); call "
        "shutdown() again when it is writable");
  }
  if (code == SSL_ERROR_SSL || code == SSL_ERROR_SYSCALL) fatal_ = true;
  return detail::failure("Ssl::shutdown");
}

ShutdownState Ssl::shutdown_state() const noexcept {
  const int s = *this ? SSL_get_shutdown(native_handle()) : 0;
  return {(s & SSL_SENT_SHUTDOWN) != 0, (s & SSL_RECEIVED_SHUTDOWN) != 0};
}

std::optional<X509> Ssl::peer_certificate() const {
  if (!*this) return std::nullopt;
  ::X509* cert = SSL_get0_peer_certificate(native_handle());  // get0: borrowed
  if (cert == nullptr) return std::nullopt;
  return *X509::share(cert);
}

std::optional<std::vector<X509>> Ssl::peer_cert_chain() const {
  if (!*this) return std::nullopt;
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(native_handle());  // get0: borrowed
  if (chain == nullptr) return std::nullopt;
  std::vector<X509> out;
  out.reserve(static_cast<std::size_t>(ossl_sk_x509_num(chain)));
  for (int i = 0; i < ossl_sk_x509_num(chain); ++i)
    out.push_back(*X509::share(ossl_sk_x509_value(chain, i)));
  return out;
}

std::optional<SslSession> Ssl::get1_session() const {
  if (!*this) return std::nullopt;
  SSL_SESSION* s = SSL_get1_session(native_handle());  // get1: we own this reference
  if (s == nullptr) return std::nullopt;
  return *SslSession::adopt(s);
}

std::optional<BorrowedSslSession> Ssl::session() const noexcept {
  if (!*this) return std::nullopt;
  SSL_SESSION* s = SSL_get_session(native_handle());  // get0; the handle up-refs it
  if (s == nullptr) return std::nullopt;
  return BorrowedSslSession(s);
}

Result<void> Ssl::set_session(const SslSession& session) {
  static constexpr const char* what = "Ssl::set_session";
  if (!*this) return empty_error("set_session");
  if (!session) return ErrorStack::message("Ssl::set_session: empty session");
  if (auto ok = detail::check_session_binding(native_handle(), session.native_handle(), what);
      !ok) {
    return ok;
  }
  // SSL_set_session takes its own reference; `session` stays the caller's.
  auto ok = detail::check_positive(SSL_set_session(native_handle(), session.native_handle()), what);
  if (ok) session_offered_ = true;
  return ok;
}

bool Ssl::session_reused() const noexcept {
  return *this && SSL_session_reused(native_handle()) == 1;
}

std::size_t Ssl::pending() const noexcept {
  const int n = *this ? SSL_pending(native_handle()) : 0;
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

TlsVersion Ssl::version() const noexcept {
  return static_cast<TlsVersion>(*this ? SSL_version(native_handle()) : 0);
}

std::string_view Ssl::cipher_name() const noexcept {
  const SSL_CIPHER* c = *this ? SSL_get_current_cipher(native_handle()) : nullptr;
  return c != nullptr ? SSL_CIPHER_get_name(c) : std::string_view();
}

std::string_view Ssl::group_name() const noexcept {
  if (!*this) return {};
  const long id = ssl_ctrl(native_handle(), SSL_CTRL_GET_NEGOTIATED_GROUP, 0);
  if (id <= 0) return {};
  const char* name = SSL_group_to_name(native_handle(), static_cast<int>(id));
  return name != nullptr ? std::string_view(name) : std::string_view();
}

std::string_view Ssl::alpn_selected() const noexcept {
  if (!*this) return {};
  const unsigned char* data = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(native_handle(), &data, &len);
  return data != nullptr ? std::string_view(reinterpret_cast<const char*>(data), len)
                         : std::string_view();
}

VerifyResult Ssl::verify_result() const noexcept {
  if (!*this) return {X509_V_ERR_UNSPECIFIED, false};
  const long code = SSL_get_verify_result(native_handle());
  return {code, code != X509_V_OK || SSL_get0_peer_certificate(native_handle()) != nullptr};
}

bool Ssl::is_server() const noexcept {
  return *this && SSL_is_server(native_handle()) == 1;
}

bool Ssl::is_init_finished() const noexcept {
  return *this && SSL_is_init_finished(native_handle()) == 1;
}

std::optional<SslCtx> Ssl::ctx() const {
  if (!*this) return std::nullopt;
  return *SslCtx::share(SSL_get_SSL_CTX(native_handle()));  // get0: share adds a reference
}

}  // namespace ossl
