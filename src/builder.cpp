#include <ossl/builder.hpp>

#include "ctrl.hpp"
#include "internal.hpp"
#include "verify_policy.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ossl {

namespace {

// The session id context a server builder sets when none was given: "ossl" for a server
// that does not verify clients; for one that does, a SHA-256 over the verification mode
// (request or require) and the sorted SHA-256 fingerprints of the certificates the
// context trusts for clients. OpenSSL resumes a session only under the context it was
// made under and checks nothing else, so servers sharing a session store (or ticket
// keys) that verify clients differently would otherwise resume each other's sessions:
// a session made where no certificate was asked for would let a client into a server
// that requires one. Servers configured alike (the same CAs in any order, from any
// process) derive the same context. (detail::store_digests, EVP_Digest,
// SSL_CTX_set_session_id_context)
Result<void> set_default_session_id_context(SslCtx& ctx, unsigned char verify_mode) {
  if (verify_mode == 0) return ctx.set_session_id_context("ossl");
  auto trusted = detail::store_digests(SSL_CTX_get_cert_store(ctx.native_handle()),  // get0
                                       "SslCtxBuilder<Server>::build: session id context");
  if (!trusted) return std::move(trusted).error();
  const std::vector<detail::Sha256>& prints = trusted->certs;  // sorted
  constexpr std::string_view kLabel = "ossl session id context v1: client verification";
  std::vector<unsigned char> input(kLabel.begin(), kLabel.end());
  input.push_back(verify_mode);
  for (const auto& print : prints)
    input.insert(input.end(), print.begin(), print.end());
  std::array<std::byte, 32> digest{};
  unsigned int len = 0;
  if (EVP_Digest(input.data(), input.size(), reinterpret_cast<unsigned char*>(digest.data()), &len,
                 EVP_sha256(), nullptr) != 1) {
    return detail::failure("EVP_Digest");
  }
  return ctx.set_session_id_context(digest);
}

template <Role R>
constexpr const char* role_name() {
  return std::same_as<R, Client> ? "SslCtxBuilder<Client>::" : "SslCtxBuilder<Server>::";
}

// Mozilla Server Side TLS 5.7 (https://wiki.mozilla.org/Security/Server_Side_TLS).
constexpr std::string_view kMozillaSuites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
constexpr std::string_view kMozillaIntermediateCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";
constexpr std::string_view kMozillaGroups = "X25519:P-256:P-384";  // X25519, prime256v1, secp384r1
// The post-quantum hybrid OpenSSL 3.5 and later negotiate by default goes in front, so a
// preset never switches it off where the linked OpenSSL has it.
constexpr std::string_view kHybridGroup = "X25519MLKEM768";
// ffdhe2048 (RFC 7919) after the EC groups, for the intermediate preset's DHE suites:
// OpenSSL 4.0 negotiates TLS 1.2 DHE groups like the others and offers no DHE suite
// when its list has no FFDHE group.
constexpr std::string_view kFfdheGroup = "ffdhe2048";

// The TLS 1.2 suites a server builder offers by default: forward secrecy (ECDHE) and AEAD
// only, as rustls offers: Mozilla's intermediate list without its DHE suites (which need
// FFDHE parameters; mozilla_intermediate() adds them). OpenSSL's DEFAULT would also
// offer static-RSA key exchange (no forward secrecy) and CBC suites (LUCKY13).
constexpr std::string_view kForwardSecretAead =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// The security level every builder sets (OpenSSL's SECLEVEL 2: at least 112-bit
// security, so RSA/DH keys of 2048 bits and more, no SHA-1 signatures), whatever the
// system's configuration or OpenSSL's compiled-in default (1 before OpenSSL 3.2).
constexpr int kSecurityLevel = 2;

// Sets the presets' groups: Mozilla's list, with the hybrid group in front where
// OpenSSL knows it (a raw attempt under an error mark: an unknown group is the expected
// answer on releases before 3.5), and ffdhe2048 last when `ffdhe`.
Result<void> set_preset_groups(SslCtx& ctx, bool ffdhe) {
  std::string groups(kMozillaGroups);
  if (ffdhe) groups.append(":").append(kFfdheGroup);
  const std::string with_hybrid = std::string(kHybridGroup) + ":" + groups;
  ERR_set_mark();
  const bool hybrid = detail::ctx_set1_groups_list(ctx.native_handle(), with_hybrid.c_str()) == 1;
  ERR_pop_to_mark();
  if (hybrid) return {};
  return ctx.set_groups_list(groups);
}

}  // namespace

template <Role R>
SslCtxBuilder<R> SslCtxBuilder<R>::create() {
  SslCtxBuilder b;
  auto ctx = std::same_as<R, Client> ? SslCtx::new_client() : SslCtx::new_server();
  if (ctx) {
    b.ctx_ = std::move(*ctx);
    SSL_CTX_set_security_level(b.ctx_.native_handle(), kSecurityLevel);
    // Secure default: no TLS 1.2 renegotiation in either direction. OpenSSL 3 servers
    // already refuse a client's; a client would follow a server's HelloRequest and
    // change the peer's identity mid-stream. With this option it answers with a
    // no_renegotiation warning instead. (SSL_CTX_set_options returns the new options.)
    SSL_CTX_set_options(b.ctx_.native_handle(), SSL_OP_NO_RENEGOTIATION);
    if constexpr (std::same_as<R, Client>) {
      // Secure default: no partial wildcards ("f*.example.com"), no subject CN match
      // (the verification policy keeps the latter whatever flags are set later).
      X509_VERIFY_PARAM_set_hostflags(
          SSL_CTX_get0_param(b.ctx_.native_handle()),
          (HostnameFlags::NO_PARTIAL_WILDCARDS | HostnameFlags::NEVER_CHECK_SUBJECT).bits());
    }
    if constexpr (std::same_as<R, Server>) {
      // Secure default: TLS 1.2 only with forward-secret AEAD suites (TLS 1.3's are all).
      if (auto r = b.ctx_.set_cipher_list(kForwardSecretAead); !r) {
        b.fail("create", std::move(r).error());
      }
    }
  } else {
    b.fail("create", std::move(ctx).error());
  }
  return b;
}

template <Role R>
void SslCtxBuilder<R>::fail(const char* name, ErrorStack error) {
  if (!error_) error_ = std::move(error).with_context(std::string(role_name<R>()) + name);
}

template <Role R>
template <class F>
SslCtxBuilder<R>& SslCtxBuilder<R>::step(const char* name, F&& run) {
  if (moved_from_.value) {
    // A moved optional<ErrorStack> stays engaged (holding a moved-from stack), so
    // replace it rather than keep it: the message must say what happened.
    error_ = ErrorStack::message("the builder was moved from: use the builder it was moved to")
                 .with_context(std::string(role_name<R>()) + name);
    return *this;
  }
  if (built_) {
    fail(name, ErrorStack::message("step after build(): the builder is spent"));
    return *this;
  }
  if (error_) return *this;  // the first failure wins; later steps do nothing
  if (Result<void> r = run(); !r) fail(name, std::move(r).error());
  return *this;
}

// ---------------------------------------------------------------------- both roles

template <Role R>
SslCtxBuilder<R>& SslCtxBuilder<R>::min_proto_version(TlsVersion version) & {
  return step("min_proto_version", [&] { return ctx_.set_min_proto_version(version); });
}

template <Role R>
SslCtxBuilder<R>& SslCtxBuilder<R>::max_proto_version(TlsVersion version) & {
  return step("max_proto_version", [&] { return ctx_.set_max_proto_version(version); });
}

template <Role R>
SslCtxBuilder<R>& SslCtxBuilder<R>::cipher_list(std::string_view list) & {
  return step("cipher_list", [&] { return ctx_.set_cipher_list(list); });
}

template <Role R>
SslCtxBuilder<R>& SslCtxBuilder<R>::ciphersuites(std::string_view list) & {
  return step("ciphersuites", [&] { return ctx_.set_ciphersuites(list); });
}

template <Role R>
SslCtxBuilder<R>& SslCtxBuilder<R>::groups_list(std::string_view list) & {
  return step("groups_list", [&] { return ctx_.set_groups_list(list); });
}

template <Role R>
SslCtxBuilder<R>& SslCtxBuilder<R>::session_cache_mode(SessionCacheMode mode) & {
  return step("session_cache_mode", [&]() -> Result<void> {
    ctx_.set_session_cache_mode(mode);
    return {};
  });
}

template <Role R>
SslCtxBuilder<R>& SslCtxBuilder<R>::alpn_protocols(std::span<const std::byte> wire) & {
  return step("alpn_protocols", [&]() -> Result<void> {
    if (auto names = alpn_decode(wire); !names) return std::move(names).error();
    alpn_.emplace(wire.begin(), wire.end());
    return {};
  });
}

template <Role R>
SslCtxBuilder<R>& SslCtxBuilder<R>::alpn_protocols(std::string_view wire) & {
  return alpn_protocols(detail::as_bytes(wire));
}

template <Role R>
SslCtxBuilder<R>& SslCtxBuilder<R>::alpn_protos_list(std::span<const std::string_view> names) & {
  return step("alpn_protos_list", [&]() -> Result<void> {
    auto wire = alpn_encode(names);
    if (!wire) return std::move(wire).error();
    alpn_ = std::move(*wire);
    return {};
  });
}

template <Role R>
SslCtxBuilder<R>& SslCtxBuilder<R>::mozilla_modern() & {
  return step("mozilla_modern", [&]() -> Result<void> {
    if (auto r = ctx_.set_min_proto_version(TlsVersion::Tls13); !r) return r;
    if (auto r = ctx_.set_max_proto_version(TlsVersion::Tls13); !r) return r;
    if (auto r = ctx_.set_ciphersuites(kMozillaSuites); !r) return r;
    ctx_.clear_options(SSL_OP_CIPHER_SERVER_PREFERENCE);  // "client chooses"
    return set_preset_groups(ctx_, false);
  });
}

template <Role R>
SslCtxBuilder<R>& SslCtxBuilder<R>::mozilla_intermediate() & {
  return step("mozilla_intermediate", [&]() -> Result<void> {
    if (auto r = ctx_.set_min_proto_version(TlsVersion::Tls12); !r) return r;
    if (auto r = ctx_.set_max_proto_version(TlsVersion::Tls13); !r) return r;
    if (auto r = ctx_.set_cipher_list(kMozillaIntermediateCiphers); !r) return r;
    if (auto r = ctx_.set_ciphersuites(kMozillaSuites); !r) return r;
    ctx_.clear_options(SSL_OP_CIPHER_SERVER_PREFERENCE);  // "client chooses"
    // The DHE suites need DH parameters, or a server never offers them: the group that
    // matches the certificate's strength (ffdhe2048 for RSA-2048, as Mozilla's
    // configuration uses). Returns 1.
    detail::ctx_set_dh_auto(ctx_.native_handle(), 1);
    return set_preset_groups(ctx_, true);
  });
}

template <Role R>
SslCtxBuilder<R>& SslCtxBuilder<R>::max_send_fragment(std::size_t bytes) & {
  return step("max_send_fragment", [&] { return ctx_.set_max_send_fragment(bytes); });
}

template <Role R>
SslCtxBuilder<R>& SslCtxBuilder<R>::danger_key_log(KeyLogCallback callback) & {
  return step("danger_key_log",
              [&] { return ctx_.danger_set_keylog_callback(std::move(callback)); });
}

template <Role R>
SslCtxBuilder<R>& SslCtxBuilder<R>::identity_pkcs12(std::span<const std::byte> der,
                                                    std::string_view passphrase) & {
  return step("identity_pkcs12", [&]() -> Result<void> {
    auto archive = Pkcs12::from_der(der);
    if (!archive) return std::move(archive).error();
    auto parsed = archive->parse(passphrase);
    if (!parsed) return std::move(parsed).error();
    if (!parsed->key) return ErrorStack::message("the archive holds no private key");
    if (!parsed->cert) {
      return ErrorStack::message("the archive holds no certificate that matches its key");
    }
    if (auto r = ctx_.use_certificate(*parsed->cert); !r) return r;
    if (auto r = ctx_.use_private_key(*parsed->key); !r) return r;
    for (const X509& c : parsed->chain) {
      if (auto r = ctx_.add_chain_cert(c); !r) return r;
    }
    has_cert_ = true;
    has_key_ = true;
    return {};
  });
}

template <Role R>
SslCtxBuilder<R>& SslCtxBuilder<R>::certificate_chain_file(std::string_view path) & {
  return step("certificate_chain_file", [&]() -> Result<void> {
    auto certs = X509::stack_from_pem_file(path);
    if (!certs) return std::move(certs).error();
    if (auto r = ctx_.use_certificate(certs->front()); !r) return r;
    if (auto r = detail::check_positive(detail::ctx_clear_chain_certs(ctx_.native_handle()),
                                        "SSL_CTX_clear_chain_certs");
        !r) {
      return r;
    }
    for (std::size_t i = 1; i < certs->size(); ++i) {
      if (auto r = ctx_.add_chain_cert((*certs)[i]); !r) return r;
    }
    has_cert_ = true;
    return {};
  });
}

template <Role R>
SslCtxBuilder<R>& SslCtxBuilder<R>::private_key_file(std::string_view path) & {
  return private_key_file_impl(path, std::nullopt);
}

template <Role R>
SslCtxBuilder<R>& SslCtxBuilder<R>::private_key_file(std::string_view path,
                                                     std::string_view passphrase) & {
  return private_key_file_impl(path, passphrase);
}

template <Role R>
SslCtxBuilder<R>& SslCtxBuilder<R>::private_key_file_impl(
    std::string_view path, std::optional<std::string_view> passphrase) {
  return step("private_key_file", [&]() -> Result<void> {
    auto key = passphrase ? Pkey<Private>::from_pem_file(path, *passphrase)
                          : Pkey<Private>::from_pem_file(path);
    if (!key) return std::move(key).error();
    if (auto r = ctx_.use_private_key(*key); !r) return r;
    has_key_ = true;
    return {};
  });
}

template <Role R>
SslCtxBuilder<R>& SslCtxBuilder<R>::private_key_impl(const Pkey<Private>& key) {
  return step(kServer ? "private_key" : "client_key", [&]() -> Result<void> {
    if (auto r = ctx_.use_private_key(key); !r) return r;
    has_key_ = true;
    return {};
  });
}

template <Role R>
Result<SslCtx> SslCtxBuilder<R>::build() & {
  step("build", [&]() -> Result<void> {
    if (has_cert_ != has_key_) {
      return ErrorStack::message(has_cert_ ? "a certificate without its private key"
                                           : "a private key without its certificate");
    }
    if (has_cert_) {
      if (auto r = ctx_.check_private_key(); !r) return r;
    }
    if constexpr (kServer) {
      if (!has_cert_) {
        return ErrorStack::message("no certificate: call certificate() and private_key()");
      }
      if (verify_client_) {
        if (!client_cas_given_) {
          return ErrorStack::message(
              "verify_client() needs the CAs to verify clients against: call client_ca_cert() "
              "or client_ca_file()");
        }
        ctx_.set_verify(require_client_cert_
                            ? SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT
                            : SslVerifyMode::PEER);
      }
      if (!sid_ctx_set_) {
        const unsigned char mode = verify_client_ ? (require_client_cert_ ? 2 : 1) : 0;
        if (auto r = set_default_session_id_context(ctx_, mode); !r) return r;
      }
      for (const auto& der : ocsp_responses_) {
        if (auto r = ctx_.set_ocsp_response(der); !r) return r;
      }
      if (alpn_selector_) {
        // build() spends the builder: the selector moves into the context.
        if (auto r = ctx_.set_alpn_select_callback(std::move(alpn_selector_), alpn_mismatch_); !r) {
          return r;
        }
      } else if (alpn_) {
        if (auto r = ctx_.set_alpn_server_protocols(*alpn_, alpn_mismatch_); !r) return r;
      }
    } else {
      if (verify_) {
        if (!trust_given_ && !default_paths_loaded_) {
          if (auto r = ctx_.set_default_verify_paths(); !r) return r;
        }
        // ossl owns the verification slots (installed when the context was made); the
        // policy they read decides the checks after OpenSSL's.
        ctx_.set_verify(SslVerifyMode::PEER);
        if (crl_check_ && crls_.empty()) {
          return ErrorStack::message(
              "crl_check() without a CRL (crl() or crl_file()): every handshake would fail "
              "with \"unable to get certificate CRL\"");
        }
        if (!crls_.empty()) {
          const unsigned long flags = crl_check_.value_or(CrlCheck::Leaf) == CrlCheck::Chain
                                          ? X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL
                                          : X509_V_FLAG_CRL_CHECK;
          // get0: the context's own parameters; connections copy them at SSL_new.
          if (auto r = detail::check_positive(
                  X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(ctx_.native_handle()), flags),
                  "X509_VERIFY_PARAM_set_flags");
              !r) {
            return r;
          }
        }
        detail::VerifyPolicy policy;
        policy.require_host = require_hostname_;
        policy.match_subject_cn = match_subject_cn_;
        policy.refuse_ca_leaf = !accept_ca_leaf_;
        policy.pins = std::move(pins_);
        policy.hook = std::move(hook_);
        policy.crls = std::move(crls_);
        policy.ocsp = ocsp_policy_;
        if (auto r = detail::set_verify_policy(ctx_.native_handle(), std::move(policy),
                                               "set_verify_policy");
            !r) {
          return r;
        }
        if (auto r = detail::enable_ocsp_client(ctx_.native_handle(), "ocsp_stapling"); !r) {
          return r;
        }
      } else {
        if (!pins_.empty() || hook_) {
          return ErrorStack::message(
              "pins and a verification hook need verification, which "
              "danger_accept_invalid_certs() turned off: they would never be checked");
        }
        ctx_.set_verify(SslVerifyMode::NONE);
      }
      if (alpn_) {
        if (auto r = ctx_.set_alpn_protos(*alpn_); !r) return r;
      }
    }
    return {};
  });
  built_ = true;
  if (error_) return *error_;
  return std::move(ctx_);
}

// ---------------------------------------------------------------------- server only

template <Role R>
    SslCtxBuilder<R>& SslCtxBuilder<R>::certificate(const X509& cert) & requires kServer {
  return step("certificate", [&]() -> Result<void> {
    if (auto r = ctx_.use_certificate(cert); !r) return r;
    has_cert_ = true;
    return {};
  });
}

template <Role R>
    SslCtxBuilder<R>& SslCtxBuilder<R>::add_chain_cert(const X509& cert) & requires kServer {
  return step("add_chain_cert", [&] { return ctx_.add_chain_cert(cert); });
}

template <Role R>
SslCtxBuilder<R>& SslCtxBuilder<R>::sni_certificate_impl(std::string_view name, const X509& cert,
                                                         const Pkey<Private>& key,
                                                         std::span<const X509> chain) {
  return step("sni_certificate", [&] { return ctx_.add_sni_certificate(name, cert, key, chain); });
}

template <Role R>
    SslCtxBuilder<R>& SslCtxBuilder<R>::sni_unknown_name(UnknownServerName policy) & requires
    kServer {
  return step("sni_unknown_name", [&] { return ctx_.set_sni_unknown_name(policy); });
}

template <Role R>
    SslCtxBuilder<R>& SslCtxBuilder<R>::check_private_key() & requires kServer {
  return step("check_private_key", [&] { return ctx_.check_private_key(); });
}

template <Role R>
    SslCtxBuilder<R>& SslCtxBuilder<R>::verify_client(bool require) & requires kServer {
  return step("verify_client", [&]() -> Result<void> {
    verify_client_ = true;
    require_client_cert_ = require;
    return {};
  });
}

template <Role R>
    SslCtxBuilder<R>& SslCtxBuilder<R>::client_ca_cert(const X509& cert) & requires kServer {
  return step("client_ca_cert", [&]() -> Result<void> {
    if (auto r = ctx_.add_trusted_cert(cert); !r) return r;
    // SSL_CTX_add_client_CA copies the name; `cert` stays the caller's.
    if (auto r = detail::check_positive(
            SSL_CTX_add_client_CA(ctx_.native_handle(), cert.native_handle()),
            "SSL_CTX_add_client_CA");
        !r) {
      return r;
    }
    client_cas_given_ = true;
    return {};
  });
}

template <Role R>
    SslCtxBuilder<R>& SslCtxBuilder<R>::client_ca_file(std::string_view path) & requires kServer {
  return step("client_ca_file", [&]() -> Result<void> {
    if (auto r = ctx_.load_verify_file(path); !r) return r;
    return detail::with_cstr(path, "client_ca_file", [&](const char* p) -> Result<void> {
      // Adds to the names already listed (client_ca_cert(), earlier files) rather than
      // replacing them: a copy of the current list (get0) plus the file's subjects,
      // without duplicates, which SSL_CTX_set_client_CA_list then takes over.
      const STACK_OF(X509_NAME)* current = SSL_CTX_get_client_CA_list(ctx_.native_handle());
      STACK_OF(X509_NAME)* names =
          current != nullptr ? SSL_dup_CA_list(current) : sk_X509_NAME_new_null();
      if (names == nullptr) return detail::failure("client_ca_file");
      // load_verify_file() above already refused a file without certificates.
      if (SSL_add_file_cert_subjects_to_stack(names, p) != 1) {
        sk_X509_NAME_pop_free(names, X509_NAME_free);
        return detail::failure("SSL_add_file_cert_subjects_to_stack(\"" + std::string(path) +
                               "\")");
      }
      SSL_CTX_set_client_CA_list(ctx_.native_handle(), names);
      client_cas_given_ = true;
      return {};
    });
  });
}

template <Role R>
    SslCtxBuilder<R>& SslCtxBuilder<R>::session_id_context(std::string_view context) & requires
    kServer {
  return step("session_id_context", [&]() -> Result<void> {
    if (auto r = ctx_.set_session_id_context(context); !r) return r;
    sid_ctx_set_ = true;
    return {};
  });
}

template <Role R>
    SslCtxBuilder<R>& SslCtxBuilder<R>::num_tickets(std::size_t count) & requires kServer {
  return step("num_tickets", [&] { return ctx_.set_num_tickets(count); });
}

template <Role R>
    SslCtxBuilder<R>& SslCtxBuilder<R>::ticket_keys(std::vector<TicketKey> keys) & requires
    kServer {
  return step("ticket_keys", [&] { return ctx_.set_ticket_keys(std::move(keys)); });
}

template <Role R>
    SslCtxBuilder<R>& SslCtxBuilder<R>::ticket_key_files(std::span<const std::string> paths) &
    requires kServer {
  return step("ticket_key_files", [&]() -> Result<void> {
    std::vector<TicketKey> keys;
    for (const std::string& path : paths) {
      auto key = TicketKey::load_file(path);
      if (!key) return std::move(key).error();
      keys.push_back(std::move(*key));
    }
    return ctx_.set_ticket_keys(std::move(keys));
  });
}

template <Role R>
    SslCtxBuilder<R>& SslCtxBuilder<R>::session_store(std::shared_ptr<SessionStore> store,
                                                      SessionStoreErrorCallback on_error) &
    requires kServer {
  return step("session_store", [&]() -> Result<void> {
    if (!store) return ErrorStack::message("no store given (a null std::shared_ptr)");
    return ctx_.set_session_store(std::move(store), std::move(on_error));
  });
}

template <Role R>
    SslCtxBuilder<R>& SslCtxBuilder<R>::early_data(std::uint32_t max_bytes) & requires kServer {
  return step("early_data", [&] { return ctx_.set_max_early_data(max_bytes); });
}

template <Role R>
    SslCtxBuilder<R>& SslCtxBuilder<R>::danger_allow_early_data_replay() & requires kServer {
  return step("danger_allow_early_data_replay",
              [&] { return ctx_.danger_allow_early_data_replay(); });
}

template <Role R>
    SslCtxBuilder<R>& SslCtxBuilder<R>::alpn_on_mismatch(AlpnMismatch policy) & requires kServer {
  return step("alpn_on_mismatch", [&]() -> Result<void> {
    alpn_mismatch_ = policy;
    return {};
  });
}

template <Role R>
    SslCtxBuilder<R>& SslCtxBuilder<R>::alpn_select_callback(AlpnSelector selector) & requires
    kServer {
  return step("alpn_select_callback", [&]() -> Result<void> {
    if (!selector) return ErrorStack::message("empty selector");
    alpn_selector_ = std::move(selector);
    return {};
  });
}

// ---------------------------------------------------------------------- client only

template <Role R>
    SslCtxBuilder<R>& SslCtxBuilder<R>::default_ca_paths() & requires kClient {
  return step("default_ca_paths", [&]() -> Result<void> {
    if (auto r = ctx_.set_default_verify_paths(); !r) return r;
    default_paths_loaded_ = true;
    return {};
  });
}

template <Role R>
    SslCtxBuilder<R>& SslCtxBuilder<R>::ca_bundle_file(std::string_view path) & requires kClient {
  return step("ca_bundle_file", [&]() -> Result<void> {
    if (auto r = ctx_.load_verify_file(path); !r) return r;
    trust_given_ = true;
    return {};
  });
}

template <Role R>
    SslCtxBuilder<R>& SslCtxBuilder<R>::ca_cert(const X509& cert) & requires kClient {
  return step("ca_cert", [&]() -> Result<void> {
    if (auto r = ctx_.add_trusted_cert(cert); !r) return r;
    trust_given_ = true;
    return {};
  });
}

template <Role R>
    SslCtxBuilder<R>& SslCtxBuilder<R>::verify_peer() & requires kClient {
  return step("verify_peer", [&]() -> Result<void> {
    verify_ = true;
    return {};
  });
}

template <Role R>
    SslCtxBuilder<R>& SslCtxBuilder<R>::verify_hostname(std::string_view host) & requires kClient {
  return step("verify_hostname", [&]() -> Result<void> {
    if (host.empty()) return ErrorStack::message("empty host");
    // get0: the context's own parameters; connections copy them at SSL_new.
    X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx_.native_handle());
    return detail::with_cstr(host, "verify_hostname", [&](const char* s) {
      const std::string what = "verify_hostname(\"" + std::string(host) + "\")";
      return detail::is_ip_literal(host)
                 ? detail::check_positive(X509_VERIFY_PARAM_set1_ip_asc(param, s), what)
                 : detail::check_positive(X509_VERIFY_PARAM_set1_host(param, s, 0), what);
    });
  });
}

template <Role R>
    SslCtxBuilder<R>& SslCtxBuilder<R>::verify_hostname_flags(HostnameFlags flags) & requires
    kClient {
  return step("verify_hostname_flags", [&]() -> Result<void> {
    X509_VERIFY_PARAM_set_hostflags(SSL_CTX_get0_param(ctx_.native_handle()), flags.bits());
    return {};
  });
}

template <Role R>
    SslCtxBuilder<R>& SslCtxBuilder<R>::client_cert(const X509& cert) & requires kClient {
  return step("client_cert", [&]() -> Result<void> {
    if (auto r = ctx_.use_certificate(cert); !r) return r;
    has_cert_ = true;
    return {};
  });
}

template <Role R>
    SslCtxBuilder<R>& SslCtxBuilder<R>::client_chain_cert(const X509& cert) & requires kClient {
  return step("client_chain_cert", [&] { return ctx_.add_chain_cert(cert); });
}

template <Role R>
    SslCtxBuilder<R>& SslCtxBuilder<R>::danger_accept_invalid_certs() & requires kClient {
  return step("danger_accept_invalid_certs", [&]() -> Result<void> {
    verify_ = false;
    return {};
  });
}

template <Role R>
    SslCtxBuilder<R>& SslCtxBuilder<R>::danger_skip_hostname_verification() & requires kClient {
  return step("danger_skip_hostname_verification", [&]() -> Result<void> {
    require_hostname_ = false;
    return {};
  });
}

template <Role R>
    SslCtxBuilder<R>& SslCtxBuilder<R>::ocsp_response(std::span<const std::byte> der) & requires
    kServer {
  return step("ocsp_response", [&]() -> Result<void> {
    if (der.empty()) return ErrorStack::message("empty OCSP response");
    ocsp_responses_.emplace_back(der.begin(), der.end());
    return {};
  });
}

template <Role R>
    SslCtxBuilder<R>& SslCtxBuilder<R>::ocsp_response_file(std::string_view path) & requires
    kServer {
  return step("ocsp_response_file", [&]() -> Result<void> {
    auto bytes = detail::read_whole_file(path, "ocsp_response_file");
    if (!bytes) return std::move(bytes).error();
    ocsp_responses_.push_back(std::move(*bytes));
    return {};
  });
}

template <Role R>
    SslCtxBuilder<R>& SslCtxBuilder<R>::ocsp_stapling(OcspPolicy policy) & requires kClient {
  return step("ocsp_stapling", [&]() -> Result<void> {
    ocsp_policy_ = policy;
    return {};
  });
}

template <Role R>
    SslCtxBuilder<R>& SslCtxBuilder<R>::client_session_cache(
        std::shared_ptr<ClientSessionCache> cache) &
    requires kClient {
  return step("client_session_cache", [&]() -> Result<void> {
    if (!cache) return ErrorStack::message("null ClientSessionCache");
    return ctx_.set_client_session_cache(std::move(cache));
  });
}

template <Role R>
    SslCtxBuilder<R>& SslCtxBuilder<R>::crl(const X509Crl& list) & requires kClient {
  return step("crl", [&]() -> Result<void> {
    if (!list) return ErrorStack::message("empty CRL");
    crls_.push_back(list);
    return {};
  });
}

template <Role R>
    SslCtxBuilder<R>& SslCtxBuilder<R>::crl_file(std::string_view path) & requires kClient {
  return step("crl_file", [&]() -> Result<void> {
    auto crls = X509Crl::load_file(path);
    if (!crls) return std::move(crls).error();
    crls_.insert(crls_.end(), crls->begin(), crls->end());
    return {};
  });
}

template <Role R>
    SslCtxBuilder<R>& SslCtxBuilder<R>::crl_check(CrlCheck scope) & requires kClient {
  return step("crl_check", [&]() -> Result<void> {
    crl_check_ = scope;
    return {};
  });
}

template <Role R>
    SslCtxBuilder<R>& SslCtxBuilder<R>::pin_spki_sha256(std::string_view base64) & requires
    kClient {
  return step("pin_spki_sha256", [&]() -> Result<void> {
    auto pin = SpkiPin::from_base64(base64);
    if (!pin) return std::move(pin).error();
    pins_.push_back(*pin);
    return {};
  });
}

template <Role R>
    SslCtxBuilder<R>& SslCtxBuilder<R>::pin_spki_sha256(const SpkiPin& pin) & requires kClient {
  return step("pin_spki_sha256", [&]() -> Result<void> {
    pins_.push_back(pin);
    return {};
  });
}

template <Role R>
    SslCtxBuilder<R>& SslCtxBuilder<R>::verify_hook(VerifyHook hook) & requires kClient {
  return step("verify_hook", [&]() -> Result<void> {
    if (!hook) return ErrorStack::message("empty hook");
    hook_ = std::move(hook);
    return {};
  });
}

template <Role R>
    SslCtxBuilder<R>& SslCtxBuilder<R>::danger_match_subject_common_name() & requires kClient {
  return step("danger_match_subject_common_name", [&]() -> Result<void> {
    match_subject_cn_ = true;
    X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx_.native_handle());  // get0
    X509_VERIFY_PARAM_set_hostflags(
        param, X509_VERIFY_PARAM_get_hostflags(param) & ~HostnameFlags::NEVER_CHECK_SUBJECT.bits());
    return {};
  });
}

template <Role R>
    SslCtxBuilder<R>& SslCtxBuilder<R>::danger_accept_ca_as_leaf() & requires kClient {
  return step("danger_accept_ca_as_leaf", [&]() -> Result<void> {
    accept_ca_leaf_ = true;
    return {};
  });
}

template class SslCtxBuilder<Client>;
template class SslCtxBuilder<Server>;

}  // namespace ossl
