// ossl: VerifyResult, the outcome of certificate verification on a connection. The
// verification policy behind it (the callback ossl installs on every context it makes,
// the builder's "name a host" rule, and the binding of sessions to what they were
// authenticated for) is described in docs/design.md.
#pragma once

#include <ossl/detail/export.hpp>

#include <openssl/x509_vfy.h>

#include <string_view>

namespace ossl {

/// The certificate verification result of a connection: OpenSSL's X509_V_* code, and
/// whether there was a peer certificate to verify at all. Before the handshake, and on
/// a server whose client sent no certificate, nothing was verified: ok() is false and
/// message() says so, although OpenSSL's code reads X509_V_OK then.
struct OSSL_API VerifyResult {
  long code = X509_V_OK;  ///< The X509_V_* code (SSL_get_verify_result).
  /// True when a peer certificate was checked, so that `code` is the outcome: the peer
  /// presented one (or the resumed session holds one), or its verification failed.
  /// (SSL_get0_peer_certificate, SSL_get_verify_result)
  bool checked = false;
  /// Returns true when a peer certificate was verified and passed (X509_V_OK).
  [[nodiscard]] bool ok() const noexcept { return checked && code == X509_V_OK; }
  /// Returns OpenSSL's text for the code, e.g. "hostname mismatch", or "no peer
  /// certificate was verified" when there was none. (X509_verify_cert_error_string)
  [[nodiscard]] std::string_view message() const noexcept;
};

}  // namespace ossl
