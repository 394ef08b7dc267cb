// OCSP stapling: the server's staples (SslCtx::set_ocsp_response) and the client's check
// of a stapled response under the verification policy's OcspPolicy. Owns the context's
// status callback slot (SSL_CTX_set_tlsext_status_cb), which OpenSSL shares between the
// two roles: the one callback dispatches on SSL_is_server.
#include <ossl/context.hpp>
#include <ossl/ocsp.hpp>

#include "ctrl.hpp"
#include "ctx_state.hpp"
#include "internal.hpp"
#include "verify_policy.hpp"

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ossl {

namespace detail {

/// One certificate's staple. Immutable once made.
struct OcspStaple {
  X509 cert;                       ///< the certificate the response is for
  std::vector<unsigned char> der;  ///< the response, as sent
  std::time_t next_update = 0;     ///< 0: the response names no nextUpdate
};

/// The staples of a server context (a snapshot in CtxState::ocsp).
struct OcspConfig {
  std::vector<std::shared_ptr<const OcspStaple>> staples;
};

}  // namespace detail

namespace {

using detail::OcspConfig;
using detail::OcspStaple;

// Clock skew allowed between us and the responder when checking thisUpdate and
// nextUpdate (OCSP_check_validity's `sec`), as OpenSSL's own tools default to.
constexpr long kSkewSeconds = 300;

struct ResponseDeleter {
  void operator()(OCSP_RESPONSE* p) const noexcept { OCSP_RESPONSE_free(p); }
};
struct BasicDeleter {
  void operator()(OCSP_BASICRESP* p) const noexcept { OCSP_BASICRESP_free(p); }
};
struct CertIdDeleter {
  void operator()(OCSP_CERTID* p) const noexcept { OCSP_CERTID_free(p); }
};
using ResponsePtr = std::unique_ptr<OCSP_RESPONSE, ResponseDeleter>;
using BasicPtr = std::unique_ptr<OCSP_BASICRESP, BasicDeleter>;
using CertIdPtr = std::unique_ptr<OCSP_CERTID, CertIdDeleter>;

// Parses a whole DER OCSP response that the responder marked "successful" and returns
// its basic response; errors say what is wrong.
Result<BasicPtr> parse_basic(std::span<const unsigned char> der, const std::string& what) {
  auto raw =
      detail::d2i_exact<OCSP_RESPONSE>(d2i_OCSP_RESPONSE, OCSP_RESPONSE_free, std::as_bytes(der),
                                       what + ": not a DER OCSP response");
  if (!raw) return std::move(raw).error();
  const ResponsePtr response(*raw);
  const int status = OCSP_response_status(response.get());
  if (status != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
    return ErrorStack::message(what + ": the responder answered \"" +
                               OCSP_response_status_str(status) + "\", not \"successful\"");
  }
  BasicPtr basic(OCSP_response_get1_basic(response.get()));  // get1: ours
  if (!basic) return detail::failure(what + ": the response holds no basic OCSP response");
  return basic;
}

// Returns the single response of `basic` about `cert` (issued by `issuer`), or null.
// Each single response's CertID is compared under its own hash algorithm (responders
// answer in the algorithm of the request: SHA-1 by default, SHA-256 by some).
OCSP_SINGLERESP* find_single(OCSP_BASICRESP* basic, ::X509* cert, ::X509* issuer) {
  const int n = OCSP_resp_count(basic);
  for (int i = 0; i < n; ++i) {
    OCSP_SINGLERESP* single = OCSP_resp_get0(basic, i);  // get0
    const OCSP_CERTID* id = OCSP_SINGLERESP_get0_id(single);
    ASN1_OBJECT* md_oid = nullptr;
    if (OCSP_id_get0_info(nullptr, &md_oid, nullptr, nullptr, const_cast<OCSP_CERTID*>(id)) != 1) {
      continue;
    }
    const EVP_MD* md = EVP_get_digestbyobj(md_oid);
    if (md == nullptr) continue;
    const CertIdPtr ours(OCSP_cert_to_id(md, cert, issuer));
    if (ours && OCSP_id_cmp(ours.get(), id) == 0) return single;
  }
  return nullptr;
}

// What a single response says: status, and its window checked against now.
struct SingleStatus {
  int status = V_OCSP_CERTSTATUS_UNKNOWN;
  int reason = -1;
  ASN1_GENERALIZEDTIME* revoked_at = nullptr;
  ASN1_GENERALIZEDTIME* this_update = nullptr;
  ASN1_GENERALIZEDTIME* next_update = nullptr;
};

SingleStatus read_single(OCSP_SINGLERESP* single) {
  SingleStatus s;
  s.status =
      OCSP_single_get0_status(single, &s.reason, &s.revoked_at, &s.this_update, &s.next_update);
  return s;
}

// Returns why the window of `s` does not hold now, or empty when it does.
std::string window_problem(const SingleStatus& s) {
  ERR_set_mark();  // OCSP_check_validity queues a record for each problem it finds
  const bool ok = OCSP_check_validity(s.this_update, s.next_update, kSkewSeconds, -1) == 1;
  ERR_pop_to_mark();
  if (ok) return {};
  const auto now = std::chrono::system_clock::now();
  if (s.next_update != nullptr) {
    auto next = detail::asn1_time(s.next_update, "nextUpdate");
    if (next && *next + std::chrono::seconds(kSkewSeconds) < now) {
      return "is stale: its nextUpdate (" + detail::utc_text(s.next_update) + ") has passed";
    }
  }
  return "is not yet valid, or its window is malformed (thisUpdate " +
         detail::utc_text(s.this_update) + ", nextUpdate " +
         (s.next_update != nullptr ? detail::utc_text(s.next_update) : "none") + ")";
}

std::string revoked_text(const SingleStatus& s) {
  std::string text = "revoked (reason: ";
  text += s.reason >= 0 ? OCSP_crl_reason_str(s.reason) : "unspecified";
  if (s.revoked_at != nullptr) text += ", since " + detail::utc_text(s.revoked_at);
  return text + ")";
}

// Finds the issuer of `cert` among `candidates` (the chain sent with it), then in the
// context's trust store; an empty X509 when neither has it. (X509_check_issued,
// X509_STORE_CTX_get1_issuer)
X509 find_issuer(::X509* cert, const std::vector<X509>& candidates, SSL_CTX* ctx) {
  for (const X509& c : candidates) {
    if (X509_check_issued(c.native_handle(), cert) == X509_V_OK) return c;
  }
  X509_STORE_CTX* lookup = X509_STORE_CTX_new();
  ::X509* issuer = nullptr;
  ERR_set_mark();  // "not found" queues nothing useful to the caller
  if (lookup != nullptr &&
      X509_STORE_CTX_init(lookup, SSL_CTX_get_cert_store(ctx), cert, nullptr) == 1 &&
      X509_STORE_CTX_get1_issuer(&issuer, lookup, cert) != 1) {
    issuer = nullptr;
  }
  ERR_pop_to_mark();
  X509_STORE_CTX_free(lookup);
  if (issuer == nullptr) return X509();
  return *X509::adopt(issuer);  // get1: the reference is ours
}

// True when `cert` carries the TLS feature status_request (RFC 7633, "must-staple").
bool must_staple(::X509* cert) {
  ERR_set_mark();  // absent: no record; malformed: popped (chain verification saw it)
  auto* features =
      static_cast<TLS_FEATURE*>(X509_get_ext_d2i(cert, NID_tlsfeature, nullptr, nullptr));
  ERR_pop_to_mark();
  if (features == nullptr) return false;
  bool found = false;
  for (int i = 0; i < sk_ASN1_INTEGER_num(features); ++i) {
    if (ASN1_INTEGER_get(sk_ASN1_INTEGER_value(features, i)) == TLSEXT_TYPE_status_request) {
      found = true;
    }
  }
  TLS_FEATURE_free(features);
  return found;
}

// --------------------------------------------------------------------- server side

// Staples the response for the certificate this connection presents, when there is
// one and it is not stale. SSL_TLSEXT_ERR_OK with a staple set, NOACK otherwise.
int staple(SSL* ssl, const detail::CtxState* state) {
  const std::shared_ptr<const OcspConfig> cfg = state->ocsp.load();
  ::X509* cert = SSL_get_certificate(ssl);  // get0: the one chosen for this handshake
  if (!cfg || cert == nullptr) return SSL_TLSEXT_ERR_NOACK;
  for (const auto& s : cfg->staples) {
    if (s->cert.native_handle() != cert && X509_cmp(s->cert.native_handle(), cert) != 0) continue;
    if (s->next_update != 0 && std::time(nullptr) > s->next_update + kSkewSeconds) {
      return SSL_TLSEXT_ERR_NOACK;  // gone stale since it was set: better none than that
    }
    // The connection takes an OPENSSL_malloc'd copy and frees it.
    auto* copy = static_cast<unsigned char*>(OPENSSL_malloc(s->der.size()));
    if (copy == nullptr) return SSL_TLSEXT_ERR_NOACK;
    std::memcpy(copy, s->der.data(), s->der.size());
    if (detail::ssl_set_status_ocsp_resp(ssl, copy, static_cast<long>(s->der.size())) != 1) {
      OPENSSL_free(copy);
      return SSL_TLSEXT_ERR_NOACK;
    }
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

// --------------------------------------------------------------------- client side

// The client-side status callback. TLS 1.2 sends the staple after the Certificate
// message, so it is checked here, after the chain was verified. TLS 1.3 carries it in
// the Certificate message itself, and some OpenSSL versions call this before the chain
// is verified: there it is checked by the certificate verification callback instead
// (src/verify.cpp), and this call does nothing.
int client_status(SSL* ssl, const detail::CtxState* state) {
  if (SSL_version(ssl) == TLS1_3_VERSION) return 1;
  if (!detail::connection_uses_policy(ssl) || SSL_get_verify_mode(ssl) == SSL_VERIFY_NONE) {
    return 1;  // verification taken over by the caller, or off
  }
  const std::shared_ptr<const detail::VerifyPolicy> policy = state->verify.load();
  if (!policy) return 1;
  detail::Refusal refusal = detail::check_stapled_ocsp(ssl, *policy, SSL_get0_verified_chain(ssl));
  if (refusal.code == X509_V_OK) return 1;
  detail::refuse_after_verification(ssl, refusal.code, std::move(refusal.reason));
  return 0;
}

// The one status callback of every context whose slot ossl owns (`arg`: its CtxState).
int status_callback(SSL* ssl, void* arg) {
  const auto* state = static_cast<const detail::CtxState*>(arg);
#if defined(__cpp_exceptions)
  try {
#endif
    return SSL_is_server(ssl) == 1 ? staple(ssl, state) : client_status(ssl, state);
#if defined(__cpp_exceptions)
  } catch (...) {  // std::bad_alloc building a message
    return SSL_is_server(ssl) == 1 ? SSL_TLSEXT_ERR_NOACK : 0;
  }
#endif
}

// Installs the status callback once per context.
Result<detail::CtxState*> own_status_slot(SSL_CTX* ctx, const char* what) {
  detail::CtxState* state = detail::ctx_state(ctx);
  if (state == nullptr) return detail::failure(what);
  if (state->install_once(detail::kStatusSlot)) {
    detail::ctx_set_status_callback(ctx, status_callback, state);
  }
  return state;
}

}  // namespace

namespace detail {

Refusal check_stapled_ocsp(SSL* ssl, const VerifyPolicy& policy, STACK_OF(X509) * chain) {
  // A connection that did not ask for a staple (a context ossl's builder did not make,
  // given a policy for its CRLs only) cannot expect one: nothing to check.
  if (ssl_get_status_type(ssl) != TLSEXT_STATUSTYPE_ocsp) return {};
  if (ossl_sk_x509_num(chain) < 1) {
    return {X509_V_ERR_OCSP_VERIFY_NEEDED, "no verified chain to check the OCSP status against"};
  }
  ::X509* leaf = ossl_sk_x509_value(chain, 0);
  ::X509* issuer = ossl_sk_x509_num(chain) > 1 ? ossl_sk_x509_value(chain, 1) : leaf;
  const bool must = must_staple(leaf);
  const unsigned char* der = nullptr;
  const long len = ssl_get_status_ocsp_resp(ssl, &der);  // get0; -1: none
  if (len <= 0 || der == nullptr) {
    if (must) {
      return {X509_V_ERR_OCSP_VERIFY_NEEDED,
              "the server certificate " + detail::subject_text(leaf) +
                  " is must-staple (TLS feature status_request) but the server stapled no OCSP "
                  "response"};
    }
    if (policy.ocsp == OcspPolicy::Required) {
      return {X509_V_ERR_OCSP_VERIFY_NEEDED,
              "the server stapled no OCSP response, and this client requires one "
              "(OcspPolicy::Required)"};
    }
    return {};
  }
  if (policy.ocsp == OcspPolicy::Off && !must) return {};

  const std::string what = "the stapled OCSP response";
  auto basic = parse_basic(std::span(der, static_cast<std::size_t>(len)), what);
  if (!basic) return {X509_V_ERR_OCSP_VERIFY_FAILED, basic.error().to_string()};
  // The signer must be the issuer, or a responder the issuer delegated to
  // (OCSPSigning), chaining to this context's trust store. OpenSSL looks the signer up
  // by the response's responder id (a name or key hash) among the certificates given
  // here first: the leaf is left out, since it never signs its own status and a
  // responder with the same subject name would otherwise be mistaken for it.
  STACK_OF(X509)* issuers = ossl_sk_x509_new_null();
  for (int i = 1; issuers != nullptr && i < ossl_sk_x509_num(chain); ++i) {
    if (ossl_sk_x509_push(issuers, ossl_sk_x509_value(chain, i)) <= 0) {  // borrowed
      ossl_sk_x509_free(issuers);
      issuers = nullptr;
    }
  }
  if (issuers == nullptr) return {X509_V_ERR_OUT_OF_MEM, "out of memory checking " + what};
  ERR_set_mark();
  const bool signed_ok =
      OCSP_basic_verify(basic->get(), issuers, SSL_CTX_get_cert_store(SSL_get_SSL_CTX(ssl)), 0) > 0;
  ossl_sk_x509_free(issuers);
  std::string openssl_says;
  if (!signed_ok) {
    if (const char* r = ERR_reason_error_string(ERR_peek_last_error())) openssl_says = r;
  }
  ERR_pop_to_mark();
  if (!signed_ok) {
    return {X509_V_ERR_OCSP_VERIFY_FAILED,
            what +
                " is not signed by the certificate's issuer or a responder it authorised "
                "(OCSPSigning)" +
                (openssl_says.empty() ? "" : ": " + openssl_says)};
  }
  OCSP_SINGLERESP* single = find_single(basic->get(), leaf, issuer);
  if (single == nullptr) {
    return {X509_V_ERR_OCSP_VERIFY_FAILED,
            what + " is about another certificate, not the server's " + detail::subject_text(leaf)};
  }
  const SingleStatus st = read_single(single);
  if (std::string problem = window_problem(st); !problem.empty()) {
    return {X509_V_ERR_OCSP_VERIFY_FAILED, what + " " + problem};
  }
  if (st.status == V_OCSP_CERTSTATUS_REVOKED) {
    return {X509_V_ERR_CERT_REVOKED, what + " says the server certificate " +
                                         detail::subject_text(leaf) + " is " + revoked_text(st)};
  }
  if (st.status != V_OCSP_CERTSTATUS_GOOD) {
    return {X509_V_ERR_OCSP_CERT_UNKNOWN,
            what + " says the responder does not know the server certificate (status unknown)"};
  }
  return {};
}

Result<void> enable_ocsp_client(SSL_CTX* ctx, const char* what) {
  auto state = own_status_slot(ctx, what);
  if (!state) return std::move(state).error();
  return check_positive(ctx_set_status_type(ctx, TLSEXT_STATUSTYPE_ocsp), what);
}

}  // namespace detail

Result<void> SslCtx::set_ocsp_response(std::span<const std::byte> der) {
  static constexpr const char* what = "SslCtx::set_ocsp_response";
  if (!*this) return empty_error("set_ocsp_response");
  SSL_CTX* ctx = native_handle();
  const std::span<const unsigned char> bytes(reinterpret_cast<const unsigned char*>(der.data()),
                                             der.size());
  auto basic = parse_basic(bytes, what);
  if (!basic) return std::move(basic).error();

  // The certificates this context serves: the default one and the SNI ones.
  std::vector<detail::ServedCert> served = detail::sni_served_certs(ctx);
  if (::X509* def = SSL_CTX_get0_certificate(ctx)) {  // get0
    detail::ServedCert d{*X509::share(def), {}};
    STACK_OF(X509)* chain = nullptr;
    (void)detail::ctx_get0_chain_certs(ctx, &chain);  // get0
    for (int i = 0; i < ossl_sk_x509_num(chain); ++i)
      d.chain.push_back(*X509::share(ossl_sk_x509_value(chain, i)));
    served.insert(served.begin(), std::move(d));
  }
  if (served.empty()) {
    return ErrorStack::message(
        std::string(what) + ": the context has no certificate yet: set it (and its chain) first");
  }
  const detail::ServedCert* match = nullptr;
  OCSP_SINGLERESP* single = nullptr;
  bool issuer_missing = false;
  for (const auto& c : served) {
    const X509 issuer = find_issuer(c.cert.native_handle(), c.chain, ctx);
    if (!issuer) {
      issuer_missing = true;
      continue;
    }
    single = find_single(basic->get(), c.cert.native_handle(), issuer.native_handle());
    if (single != nullptr) {
      match = &c;
      break;
    }
  }
  if (match == nullptr) {
    return ErrorStack::message(
        std::string(what) + ": the response is not for any certificate this context serves" +
        (issuer_missing ? " (a certificate whose issuer is not in its chain could not be "
                          "compared: add the issuer with add_chain_cert() first)"
                        : ""));
  }
  const SingleStatus s = read_single(single);
  const std::string whose = " for " + detail::subject_text(match->cert.native_handle());
  if (std::string problem = window_problem(s); !problem.empty()) {
    return ErrorStack::message(std::string(what) + ": the response" + whose + " " + problem);
  }
  if (s.status != V_OCSP_CERTSTATUS_GOOD) {
    return ErrorStack::message(std::string(what) + ": the response" + whose + " says " +
                               (s.status == V_OCSP_CERTSTATUS_REVOKED
                                    ? revoked_text(s)
                                    : std::string("the status is unknown to the responder")) +
                               "; stapling it would fail every client that checks it");
  }
  auto entry = std::make_shared<OcspStaple>();
  entry->cert = match->cert;
  entry->der.assign(bytes.begin(), bytes.end());
  if (s.next_update != nullptr) {
    auto next = detail::asn1_time(s.next_update, what);
    if (!next) return std::move(next).error();
    entry->next_update = std::chrono::system_clock::to_time_t(*next);
  }
  auto state = own_status_slot(ctx, what);
  if (!state) return std::move(state).error();
  const std::lock_guard lock((*state)->update_mutex);
  const std::shared_ptr<const OcspConfig> old = (*state)->ocsp.load();
  auto next = old ? std::make_shared<OcspConfig>(*old) : std::make_shared<OcspConfig>();
  std::erase_if(next->staples, [&](const auto& e) { return e->cert == entry->cert; });
  next->staples.push_back(std::move(entry));
  (*state)->ocsp.store(std::move(next));
  return {};
}

Result<void> SslCtx::set_ocsp_response_file(std::string_view path) {
  if (!*this) return empty_error("set_ocsp_response_file");
  auto bytes = detail::read_whole_file(path, "SslCtx::set_ocsp_response_file");
  if (!bytes) return std::move(bytes).error();
  auto r = set_ocsp_response(*bytes);
  if (!r) return std::move(r).error().with_context("\"" + std::string(path) + "\"");
  return r;
}

}  // namespace ossl
