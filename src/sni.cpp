// Server SNI: a certificate per host name. SslCtx::add_sni_certificate and
// SslCtx::set_sni_unknown_name. Owns the context's servername callback slot.
#include <ossl/context.hpp>

#include "ctrl.hpp"
#include "ctx_state.hpp"
#include "internal.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <vector>

namespace ossl {

namespace detail {

/// One SNI certificate. Immutable once made; configurations share entries.
struct SniEntry {
  std::string name;  ///< lower case, no trailing dot; "*.example.com" for a wildcard
  X509 cert;
  Pkey<Private> key;
  STACK_OF(X509) * chain = nullptr;  ///< our references; SSL_set1_chain takes its own

  SniEntry() = default;
  SniEntry(const SniEntry&) = delete;
  SniEntry& operator=(const SniEntry&) = delete;
  ~SniEntry() { ossl_sk_x509_pop_free(chain); }  // null-safe
};

/// The SNI table (a snapshot in CtxState::sni; a setter builds a new one).
struct SniConfig {
  std::vector<std::shared_ptr<const SniEntry>> entries;
  UnknownServerName unknown = UnknownServerName::UseDefault;

  /// Exact name first, then the wildcard for its first label. `host` is the client's
  /// SNI as OpenSSL accepted it (no NUL, at most 255 bytes).
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

}  // namespace detail

namespace {

using detail::SniConfig;
using detail::SniEntry;

// SSL_CTX servername callback (`arg` is the context's CtxState): runs while the
// ClientHello's extensions are finalised, before the server picks its certificate and
// signature algorithm, so switching the certificate here decides what is sent.
// Returning SSL_TLSEXT_ERR_OK acknowledges SNI, which is also what makes OpenSSL record
// the name in the session. The snapshot is held for the call; the connection takes its
// own references to the certificate, key and chain.
int sni_select(SSL* ssl, int* alert, void* arg) {
  const std::shared_ptr<const SniConfig> cfg =
      static_cast<const detail::CtxState*>(arg)->sni.load();
  if (!cfg) return SSL_TLSEXT_ERR_NOACK;
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name == nullptr) return SSL_TLSEXT_ERR_NOACK;  // no SNI: the default certificate
  const SniEntry* e = cfg->find(name);
  if (e == nullptr) {
    if (cfg->unknown == UnknownServerName::UseDefault) return SSL_TLSEXT_ERR_OK;
    // Refuse names no certificate is for, the default one included. get0: the
    // connection's own certificate, still the context's default here.
    ::X509* fallback = SSL_get_certificate(ssl);
    ERR_set_mark();  // X509_check_host may queue; the alert is the answer
    const bool covered =
        fallback != nullptr &&
        X509_check_host(fallback, name, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, nullptr) == 1;
    ERR_pop_to_mark();
    if (covered) return SSL_TLSEXT_ERR_OK;
    *alert = SSL_AD_UNRECOGNIZED_NAME;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  // The connection's CERT is its own copy of the context's (made at SSL_new). Clear
  // every slot first: OpenSSL keeps one certificate per key type, and a default RSA
  // certificate left beside an EC one for this name could still be chosen.
  SSL_certs_clear(ssl);
  if (SSL_use_certificate(ssl, e->cert.native_handle()) != 1 ||
      SSL_use_PrivateKey(ssl, e->key.native_handle()) != 1 ||
      (e->chain != nullptr && detail::ssl_set1_chain(ssl, e->chain) != 1)) {
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  return SSL_TLSEXT_ERR_OK;
}

// Swaps in the SNI table that `change` derives from the current one (under the
// context's update lock, so concurrent setters never lose an entry), installing the
// callback the first time.
template <class Change>
Result<void> update_sni(SSL_CTX* ctx, const char* what, Change&& change) {
  detail::CtxState* state = detail::ctx_state(ctx);
  if (state == nullptr) return detail::failure(what);
  const std::lock_guard lock(state->update_mutex);
  const std::shared_ptr<const SniConfig> old = state->sni.load();
  auto next = old ? std::make_shared<SniConfig>(*old) : std::make_shared<SniConfig>();
  if (auto ok = change(*next); !ok) return ok;
  state->sni.store(std::move(next));
  if (state->install_once(detail::kServernameSlot))
    detail::ctx_set_servername_callback(ctx, sni_select, state);
  return {};
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

std::vector<detail::ServedCert> detail::sni_served_certs(const SSL_CTX* ctx) {
  std::vector<ServedCert> out;
  const CtxState* state = find_ctx_state(ctx);
  const std::shared_ptr<const SniConfig> cfg = state != nullptr ? state->sni.load() : nullptr;
  if (!cfg) return out;
  for (const auto& e : cfg->entries) {
    ServedCert served{e->cert, {}};
    const int n = ossl_sk_x509_num(e->chain);  // 0 for a null stack
    for (int i = 0; i < n; ++i)
      served.chain.push_back(*X509::share(ossl_sk_x509_value(e->chain, i)));
    out.push_back(std::move(served));
  }
  return out;
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
  auto entry = std::make_shared<SniEntry>();
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
  return update_sni(native_handle(), what, [&](SniConfig& cfg) -> Result<void> {
    for (const auto& e : cfg.entries) {
      if (e->name == entry->name) {
        return ErrorStack::message(std::string(what) + ": \"" + entry->name +
                                   "\" already has a certificate");
      }
    }
    cfg.entries.push_back(std::move(entry));
    return {};
  });
}

Result<void> SslCtx::set_sni_unknown_name(UnknownServerName policy) {
  if (!*this) return empty_error("set_sni_unknown_name");
  return update_sni(native_handle(), "SslCtx::set_sni_unknown_name",
                    [policy](SniConfig& cfg) -> Result<void> {
                      cfg.unknown = policy;
                      return {};
                    });
}

}  // namespace ossl
