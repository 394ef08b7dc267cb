// Revocation inputs: the bytes as an OCSP response a server is asked to staple
// (SslCtx::set_ocsp_response), as the staple a verifying client receives in a real
// handshake (the client's whole check: parse, signer, CertID, window, status), and as
// CRLs (DER, PEM bundles). Every outcome is a value or an error, never a crash, and the
// error queue is left empty.
#include "common.hpp"

#include <openssl/ssl.h>

#include <cstring>
#include <vector>

namespace {

struct Staple {
  std::vector<unsigned char> der;
};

// The server's status callback slot, taken over for the fuzz input: it staples the raw
// bytes, as a broken or hostile server would.
int staple_input(SSL* ssl, void* arg) {
  const auto& der = static_cast<const Staple*>(arg)->der;
  if (der.empty()) return SSL_TLSEXT_ERR_NOACK;
  auto* copy = static_cast<unsigned char*>(OPENSSL_malloc(der.size()));
  if (copy == nullptr) return SSL_TLSEXT_ERR_NOACK;
  std::memcpy(copy, der.data(), der.size());
  if (SSL_set_tlsext_status_ocsp_resp(ssl, copy, static_cast<long>(der.size())) != 1) {
    OPENSSL_free(copy);
    return SSL_TLSEXT_ERR_NOACK;
  }
  return SSL_TLSEXT_ERR_OK;
}

struct Rig {
  Staple staple;
  ossl::SslCtx server;
  ossl::SslCtx client;
};

Rig& rig() {
  static Rig* r = [] {
    const auto& w = fuzz::world();
    auto* out = new Rig;
    out->server = ossl::SslCtxBuilder<ossl::Server>::create()
                      .certificate(w.server.cert)
                      .private_key(w.server.key)
                      .build()
                      .value();
    SSL_CTX_set_tlsext_status_cb(out->server.native_handle(), staple_input);
    SSL_CTX_set_tlsext_status_arg(out->server.native_handle(), &out->staple);
    out->client = ossl::SslCtxBuilder<ossl::Client>::create()
                      .ca_cert(w.root.cert())
                      .ocsp_stapling(ossl::OcspPolicy::Required)
                      .build()
                      .value();
    return out;
  }();
  return *r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& w = fuzz::world();
  const auto in = fuzz::bytes(data, size);

  // Server side: set as a staple (a copy of the world's server context, so a success
  // does not leak into the next input).
  auto server = ossl::SslCtxBuilder<ossl::Server>::create()
                    .certificate(w.server.cert)
                    .private_key(w.server.key)
                    .build();
  if (server) (void)server->set_ocsp_response(in);

  // Client side: a TLS 1.2 handshake (the staple arrives in its own message) over a BIO
  // pair, the server stapling the input.
  Rig& r = rig();
  r.staple.der.assign(data, data + size);
  auto client = r.client.new_ssl_for_host("localhost");
  auto srv = r.server.new_ssl();
  auto pair = ossl::Bio::new_bio_pair();
  if (client && srv && pair) {
    (void)client->set_max_proto_version(ossl::TlsVersion::Tls12);
    client->set_bio_duplex(std::move(pair->first));
    srv->set_bio_duplex(std::move(pair->second));
    srv->set_accept_state();
    for (int i = 0; i < 16; ++i) {
      auto c = client->do_handshake();
      auto s = srv->do_handshake();
      const bool c_done = c.has_value() || !c.error().would_block();
      const bool s_done = s.has_value() || !s.error().would_block();
      if (c_done && s_done) break;
    }
    (void)client->verify_result().message();
  }

  // CRLs.
  if (auto crl = ossl::X509Crl::from_der(in)) {
    (void)crl->issuer_name();
    (void)crl->next_update();
    (void)crl->lists(w.server.cert);
    auto der = crl->to_der();
    fuzz::require(der.has_value());
  }
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto bundle = ossl::X509Crl::stack_from_pem(text)) fuzz::require(!bundle->empty());
  if (ERR_peek_error() != 0) {  // every failure drained the queue; print what did not
    ERR_print_errors_fp(stderr);
    std::abort();
  }
  return 0;
}
