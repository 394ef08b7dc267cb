// Readable negotiation errors: a one-line explanation, set as the ErrorStack's summary,
// for the handshake failures a person meets most (no version, cipher or ALPN protocol in
// common, a client certificate required, a certificate refused, a peer that does not
// speak TLS). OpenSSL's records stay in the stack, after the summary.
#include "explain.hpp"

#include <ossl/tls.hpp>

#include "ctrl.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

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

}  // namespace

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
    const long code = SSL_get_verify_result(ssl);
    stack.set_summary("the " + std::string(peer) + "'s certificate was refused: " +
                      std::string(X509_verify_cert_error_string(code)));
    return;  // ossl's own reason, when it refused, is the record before OpenSSL's
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
