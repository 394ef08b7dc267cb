// Private to src/: readable negotiation errors (src/explain.cpp).
#pragma once

#include <ossl/error.hpp>

#include <openssl/ssl.h>

namespace ossl::detail {

/// Sets `stack`'s summary to a one-line explanation when its records show a failure a
/// person meets often (no version, cipher or ALPN protocol in common; a client
/// certificate required or refused; a refused certificate; a peer that does not speak
/// TLS), phrased from `ssl`'s side (client or server) and version range. Leaves the
/// records, and a stack it does not recognise, as they are.
void explain_failure(SSL* ssl, ErrorStack& stack);

}  // namespace ossl::detail
