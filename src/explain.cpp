// Readable errors. A one-line explanation, set as the ErrorStack's summary, for the
// handshake failures a person meets most (no version, cipher or ALPN protocol in common,
// a client certificate required, a certificate refused, a peer that does not speak TLS);
// OpenSSL's records stay in the stack, after the summary. And the reasons a refused
// certificate chain gets: which certificate, and what is wrong with it.
#include "explain.hpp"

#include <ossl/tls.hpp>
#include <ossl/x509.hpp>

#include "ctrl.hpp"
#include "internal.hpp"
#include "verify_policy.hpp"

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace ossl::detail {

namespace {

std::string version_text(long v) {
  switch (v) {
    case TLS1_VERSION:
      return "TLS 1.0";
    case TLS1_1_VERSION:
      return "TLS 1.1";
    case TLS1_2_VERSION:
      return "TLS 1.2";
    case TLS1_3_VERSION:
      return "TLS 1.3";
    default:
      return "TLS";
  }
}

// The bits of security each security level requires (SSL_CTX_set_security_level(3)).
int required_bits(int level) {
  static constexpr int kBits[] = {0, 80, 112, 128, 192, 256};
  if (level < 0) return 0;
  return kBits[level > 5 ? 5 : level];
}

// "DNS:a, DNS:b, IP:127.0.0.1" for the leaf's subjectAltName (at most eight, then how
// many more); empty when it has none or it cannot be read.
std::string san_text(::X509* cert) {
  ERR_set_mark();
  auto shared = X509::share(cert);  // one more reference, for the public accessor
  std::optional<std::vector<GeneralName>> names;
  if (shared) {
    if (auto listed = shared->subject_alt_names()) names = std::move(*listed);
  }
  ERR_pop_to_mark();
  if (!names) return {};
  std::string out;
  std::size_t shown = 0;
  for (const GeneralName& name : *names) {
    const char* kind = name.type == GeneralName::Type::Dns     ? "DNS:"
                       : name.type == GeneralName::Type::Ip    ? "IP:"
                       : name.type == GeneralName::Type::Email ? "email:"
                       : name.type == GeneralName::Type::Uri   ? "URI:"
                                                               : nullptr;
    if (kind == nullptr) continue;
    if (shown == 8) {
      out += ", and " + std::to_string(names->size() - shown) + " more";
      break;
    }
    out += (shown++ == 0 ? "" : ", ") + std::string(kind) + name.value;
  }
  return out;
}

// "keyCertSign; extended key usage: clientAuth" style text of what `cert` may be used
// for; names the extensions it lacks as absent.
std::string usage_text(::X509* cert) {
  static constexpr struct {
    std::uint32_t bit;
    const char* name;
  } kUsages[] = {{KU_DIGITAL_SIGNATURE, "digitalSignature"},
                 {KU_NON_REPUDIATION, "nonRepudiation"},
                 {KU_KEY_ENCIPHERMENT, "keyEncipherment"},
                 {KU_DATA_ENCIPHERMENT, "dataEncipherment"},
                 {KU_KEY_AGREEMENT, "keyAgreement"},
                 {KU_KEY_CERT_SIGN, "keyCertSign"},
                 {KU_CRL_SIGN, "cRLSign"},
                 {KU_ENCIPHER_ONLY, "encipherOnly"},
                 {KU_DECIPHER_ONLY, "decipherOnly"}};
  std::string ku;
  const std::uint32_t bits = X509_get_key_usage(cert);  // UINT32_MAX: no extension
  if (bits == UINT32_MAX) {
    ku = "any (no keyUsage)";
  } else {
    for (const auto& u : kUsages) {
      if ((bits & u.bit) != 0) ku += (ku.empty() ? "" : ", ") + std::string(u.name);
    }
    if (ku.empty()) ku = "none";
  }
  std::string eku;
  ERR_set_mark();  // a malformed extension queues a record; absent queues nothing
  int critical = 0;
  auto* usages = static_cast<EXTENDED_KEY_USAGE*>(
      X509_get_ext_d2i(cert, NID_ext_key_usage, &critical, nullptr));  // a new stack
  ERR_pop_to_mark();
  if (usages == nullptr) {
    eku = critical == -1 ? "any (no extendedKeyUsage)" : "unreadable";
  } else {
    for (int i = 0; i < sk_ASN1_OBJECT_num(usages); ++i) {
      const ASN1_OBJECT* oid = sk_ASN1_OBJECT_value(usages, i);
      const int nid = OBJ_obj2nid(oid);
      std::string name;
      if (nid != NID_undef) {
        name = OBJ_nid2sn(nid);
      } else {
        char dotted[80] = {};
        OBJ_obj2txt(dotted, sizeof dotted, oid, 1);
        name = dotted;
      }
      eku += (eku.empty() ? "" : ", ") + name;
    }
    sk_ASN1_OBJECT_pop_free(usages, ASN1_OBJECT_free);
    if (eku.empty()) eku = "none";
  }
  return "key usage: " + ku + "; extended key usage: " + eku;
}

// After X509_V_ERR_CERT_REVOKED from a CRL: the certificate, the CRL's issuer, the
// revocation reason and date; empty when the entry is not found.
std::string revoked_text(X509_STORE_CTX* store, ::X509* cert) {
  ::X509_CRL* crl = X509_STORE_CTX_get0_current_crl(store);  // get0: the CRL that said so
  X509_REVOKED* entry = nullptr;                             // get0 into the CRL
  if (crl == nullptr || X509_CRL_get0_by_cert(crl, &entry, cert) != 1) return {};
  std::string reason = "unspecified";
  ERR_set_mark();  // a missing reason extension queues nothing, a malformed one does
  if (auto* code = static_cast<ASN1_ENUMERATED*>(
          X509_REVOKED_get_ext_d2i(entry, NID_crl_reason, nullptr, nullptr))) {
    reason = OCSP_crl_reason_str(ASN1_ENUMERATED_get(code));
    ASN1_ENUMERATED_free(code);
  }
  ERR_pop_to_mark();
  const std::string when = utc_text(X509_REVOKED_get0_revocationDate(entry));
  ERR_set_mark();
  auto issuer = name_text(X509_CRL_get_issuer(crl), "CRL issuer");
  ERR_pop_to_mark();
  return "the certificate " + subject_text(cert) + " is revoked (reason: " + reason +
         (when == "?" ? "" : ", since " + when) + ") by the CRL of " +
         (issuer ? *issuer : std::string("?"));
}

}  // namespace

std::string explain_chain_error(X509_STORE_CTX* store, bool server) {
  const int error = X509_STORE_CTX_get_error(store);
  ::X509* cert = X509_STORE_CTX_get_current_cert(store);  // get0
  if (cert == nullptr) return {};
  const std::string peer = server ? "client" : "server";
  const std::string subject = subject_text(cert);
  const int level = X509_VERIFY_PARAM_get_auth_level(X509_STORE_CTX_get0_param(store));
  std::string why;
  switch (error) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      why = "the certificate " + subject + " expired on " + utc_text(X509_get0_notAfter(cert));
      break;
    case X509_V_ERR_CERT_NOT_YET_VALID:
      why = "the certificate " + subject + " is valid only from " +
            utc_text(X509_get0_notBefore(cert)) +
            " (if it should be valid now, check this machine's clock)";
      break;
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      why = "the " + peer + " sent only the self-signed certificate " + subject +
            ", not one this " + (server ? "server" : "client") + " trusts";
      break;
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      why = "the chain ends in the root " + subject + ", not one this " +
            (server ? "server" : "client") + " trusts";
      break;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT: {
      ERR_set_mark();
      auto issuer = name_text(X509_get_issuer_name(cert), "issuer");
      ERR_pop_to_mark();
      why = "the issuer of " + subject + " (" + (issuer ? *issuer : std::string("?")) +
            ") is neither trusted here nor sent by the " + peer + "; the " + peer +
            " may be leaving out an intermediate certificate, or its root CA is not "
            "trusted here";
      break;
    }
    case X509_V_ERR_EE_KEY_TOO_SMALL:
    case X509_V_ERR_CA_KEY_TOO_SMALL: {
      const EVP_PKEY* key = X509_get0_pubkey(cert);  // get0
      if (key == nullptr) return {};
      const char* type = EVP_PKEY_get0_type_name(key);
      why = "the certificate " + subject + " has a " + std::to_string(EVP_PKEY_get_bits(key)) +
            "-bit " + (type != nullptr ? type : "") + " key (" +
            std::to_string(EVP_PKEY_get_security_bits(key)) +
            " bits of security); security level " + std::to_string(level) + " requires " +
            std::to_string(required_bits(level));
      break;
    }
    case X509_V_ERR_CA_MD_TOO_WEAK: {
      const int nid = X509_get_signature_nid(cert);
      why = "the certificate " + subject + " is signed with " +
            (nid != NID_undef ? OBJ_nid2ln(nid) : "an unknown algorithm") +
            ", too weak for security level " + std::to_string(level);
      break;
    }
    case X509_V_ERR_INVALID_PURPOSE: {
      const char* role = server ? "TLS clients" : "TLS servers";
      why =
          X509_STORE_CTX_get_error_depth(store) == 0
              ? "the certificate " + subject + " is not for " + role + " (" + usage_text(cert) + ")"
              : "the CA certificate " + subject + " may not issue certificates for " + role + " (" +
                    usage_text(cert) + ")";
      break;
    }
    case X509_V_ERR_CERT_REVOKED:
      why = revoked_text(store, cert);
      break;
    default: {
      // No finer explanation: which certificate, and where in the chain, with OpenSSL's
      // text for the code after it.
      const int depth = X509_STORE_CTX_get_error_depth(store);
      why = "the certificate " + subject + " (depth " + std::to_string(depth) +
            (depth == 0 ? ": the " + peer + "'s own" : ": an issuer of the " + peer + "'s") + ")";
      break;
    }
  }
  if (why.empty()) return {};
  return why + ": " + X509_verify_cert_error_string(error);
}

std::string explain_host_mismatch(X509_STORE_CTX* store) {
  ::X509* leaf = X509_STORE_CTX_get0_cert(store);  // get0
  if (leaf == nullptr) return {};
  const std::string host = expected_host(X509_STORE_CTX_get0_param(store));
  const std::string names = san_text(leaf);
  return "the certificate " + subject_text(leaf) +
         (names.empty() ? " names no host in a subjectAltName" : " is for " + names) +
         (host.empty() ? "" : ", not for \"" + host + "\"") + ": " +
         X509_verify_cert_error_string(X509_STORE_CTX_get_error(store));
}

std::string explain_cn_only(X509_STORE_CTX* store, unsigned int original_flags) {
  ::X509* leaf = X509_STORE_CTX_get0_cert(store);  // get0
  const char* host = X509_VERIFY_PARAM_get0_host(X509_STORE_CTX_get0_param(store), 0);
  if (leaf == nullptr || host == nullptr) return {};
  if (X509_check_host(leaf, host, 0, original_flags, nullptr) != 1) return {};
  return std::string("the server certificate names \"") + host +
         "\" only in its subject common name, not in a subjectAltName; ossl's client "
         "builder refuses such certificates, as browsers and RFC 9525 do (the builder's "
         "danger_match_subject_common_name() accepts them)";
}

void explain_failure(SSL* ssl, ErrorStack& stack) {
  if (!stack.summary().empty()) return;
  const bool server = SSL_is_server(ssl) == 1;
  const char* peer = server ? "client" : "server";
  const char* self = server ? "server" : "client";
  // The connection's own range (copied from its context at SSL_new, then maybe changed).
  long min = ssl_get_min_proto_version(ssl);
  long max = ssl_get_max_proto_version(ssl);
  if (min == 0) min = TLS1_VERSION;
  if (max == 0) max = TLS1_3_VERSION;
  const std::string range =
      min == max ? version_text(min) : version_text(min) + " to " + version_text(max);
  auto has = [&](int reason) { return stack.contains(ERR_LIB_SSL, reason); };

  if (has(SSL_R_UNSUPPORTED_PROTOCOL) || has(SSL_R_TLSV1_ALERT_PROTOCOL_VERSION) ||
      has(SSL_R_WRONG_SSL_VERSION) || has(SSL_R_NO_PROTOCOLS_AVAILABLE)) {
    if (max >= TLS1_3_VERSION && min > TLS1_VERSION) {
      stack.set_summary("the " + std::string(peer) + " supports only TLS versions older than " +
                        version_text(min) + " (such as TLS 1.0/1.1); this " + self + " requires " +
                        version_text(min) + " or later");
    } else {
      stack.set_summary("no TLS version in common: this " + std::string(self) + " accepts " +
                        range + ", the " + peer + " none of them");
    }
    return;
  }
  if (has(SSL_R_NO_SHARED_CIPHER) || has(SSL_R_NO_CIPHERS_AVAILABLE) ||
      has(SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM) || has(SSL_R_NO_SUITABLE_KEY_SHARE) ||
      has(SSL_R_NO_SHARED_GROUPS)) {
    stack.set_summary(
        "no cipher suite (or key exchange group, or signature algorithm) in "
        "common: the " +
        std::string(peer) + " offers none this " + self + " accepts (" + range +
        "; a default ossl server takes only forward-secret AEAD suites in TLS 1.2)");
    return;
  }
  if (has(SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED)) {
    stack.set_summary(
        "the server requires a client certificate and this client sent none (give the client "
        "builder client_cert() and client_key(), or identity_pkcs12())");
    return;
  }
  if (has(SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)) {
    stack.set_summary("the client sent no certificate and this server requires one");
    return;
  }
  if (has(SSL_R_CERTIFICATE_VERIFY_FAILED)) {
    // ossl's reason (which certificate, what is wrong with it) when it gave one, else
    // OpenSSL's text for the code.
    const std::shared_ptr<const std::string> reason = verify_reason(ssl);
    stack.set_summary("the " + std::string(peer) + "'s certificate was refused: " +
                      (reason && !reason->empty() ? *reason
                                                  : std::string(X509_verify_cert_error_string(
                                                        SSL_get_verify_result(ssl)))));
    return;
  }
  if (has(SSL_R_TLSV1_ALERT_UNKNOWN_CA) || has(SSL_R_SSLV3_ALERT_BAD_CERTIFICATE) ||
      has(SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN) || has(SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED) ||
      has(SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE) ||
      has(SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED) || has(SSL_R_TLSV1_ALERT_DECRYPT_ERROR)) {
    stack.set_summary("the " + std::string(peer) + " refused this " + self +
                      "'s certificate (see its alert below)");
    return;
  }
  if (has(SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL) || has(SSL_R_NO_APPLICATION_PROTOCOL)) {
    stack.set_summary("no ALPN protocol in common: the " + std::string(peer) +
                      " supports none of the protocols this " + self + " offers");
    return;
  }
  if (has(SSL_R_TLSV1_UNRECOGNIZED_NAME)) {
    stack.set_summary("the server has no certificate for the name this client asked for (SNI)");
    return;
  }
  if (has(SSL_R_WRONG_VERSION_NUMBER) || has(SSL_R_HTTP_REQUEST) ||
      has(SSL_R_HTTPS_PROXY_REQUEST)) {
    stack.set_summary("the " + std::string(peer) +
                      " does not speak TLS here (it sent something else, such as plain HTTP)");
    return;
  }
  if (has(SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE)) {
    stack.set_summary("the " + std::string(peer) +
                      " refused the handshake (handshake_failure alert): usually no cipher "
                      "suite, group or signature algorithm in common" +
                      (server ? std::string() : ", or a client certificate it requires"));
    return;
  }
}

}  // namespace ossl::detail
