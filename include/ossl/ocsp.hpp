// ossl: OCSP stapling. Servers staple a response for each certificate they serve
// (SslCtx::set_ocsp_response, builder: ocsp_response); clients ask for a staple and
// check it under an OcspPolicy (builder: ocsp_stapling). src/ocsp.cpp owns the
// context's status callback slot. What is checked, and in which order:
// docs/verification.md.
#pragma once

namespace ossl {

/// What a client does with the OCSP response a server staples (RFC 6066 status_request,
/// RFC 6960 responses). Every policy asks for a staple, so that a server whose
/// certificate is must-staple (RFC 7633 TLS feature status_request) can comply, and
/// every policy requires and checks one for such a certificate.
enum class OcspPolicy {
  /// Staples are not checked (must-staple certificates excepted).
  Off,
  /// A stapled response is checked: signed by the issuer or its delegated responder
  /// (OCSPSigning), for this certificate, within its validity window (5 minutes of
  /// clock skew allowed), and "good"; "revoked" or "unknown" fail the handshake. No
  /// staple passes. The client builder's default.
  IfStapled,
  /// As IfStapled, and a server that staples nothing fails the handshake.
  Required,
};

}  // namespace ossl
