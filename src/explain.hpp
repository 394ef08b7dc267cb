// Private to src/: readable negotiation errors (src/explain.cpp).
#pragma once

#include <ossl/error.hpp>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <string>

namespace ossl::detail {

/// Sets `stack`'s summary to a one-line explanation when its records show a failure a
/// person meets often (no version, cipher or ALPN protocol in common; a client
/// certificate required or refused; a refused certificate; a peer that does not speak
/// TLS), phrased from `ssl`'s side (client or server) and version range. Leaves the
/// records, and a stack it does not recognise, as they are.
void explain_failure(SSL* ssl, ErrorStack& stack);

/// Explains the chain error X509_verify_cert() reports through `store` at this moment
/// (inside the verify callback, while the current certificate, CRL and depth are still
/// set): names the certificate and what is wrong with it (the date it expired, the key
/// size against the security level, the usages it has, the issuer nobody sent, the CRL
/// that revoked it), ending with OpenSSL's text. `server` is the verifying side (the
/// peer is then a client). Empty for errors it has nothing to add to. Leaves the
/// caller's error queue as it was; may throw std::bad_alloc.
[[nodiscard]] std::string explain_chain_error(X509_STORE_CTX* store, bool server);

/// After X509_V_ERR_HOSTNAME_MISMATCH or X509_V_ERR_IP_ADDRESS_MISMATCH: names the
/// names the leaf is for (its subjectAltName) and the host that was wanted. Empty when
/// the store has no leaf. Leaves the caller's error queue as it was.
[[nodiscard]] std::string explain_host_mismatch(X509_STORE_CTX* store);

/// After a hostname mismatch under a policy that never falls back to the subject CN:
/// explains that the leaf names the host only in its subject CN when it would have
/// matched with `original_flags` (the connection's own host flags); else empty.
[[nodiscard]] std::string explain_cn_only(X509_STORE_CTX* store, unsigned int original_flags);

}  // namespace ossl::detail
