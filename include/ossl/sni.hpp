// ossl: server-side SNI, a certificate per host name. Contexts take SNI certificates
// with SslCtx::add_sni_certificate (builder: sni_certificate) and the policy below with
// SslCtx::set_sni_unknown_name (builder: sni_unknown_name); src/sni.cpp owns the
// context's servername callback slot.
#pragma once

namespace ossl {

/// What a server with SNI certificates does when a client names a host none of them
/// is for (clients that send no name always get the default certificate).
enum class UnknownServerName {
  UseDefault,  ///< Present the default certificate (as nginx's default_server does).
  /// Fail the handshake with the unrecognized_name alert (RFC 6066), unless the
  /// default certificate is for that name.
  Refuse,
};

}  // namespace ossl
