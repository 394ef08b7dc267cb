#include "cases.hpp"

#include <openssl/err.h>
#include <openssl/x509v3.h>

namespace bench {

namespace {
constexpr const char* kHost = "localhost";
constexpr int kMaxRounds = 16;
}  // namespace

Setup make_setup(ossl::TlsVersion version) {
  auto root = ossl::testing::TestCa::create_root("bench root", ossl::testing::KeyType::EcP256);
  ossl::testing::LeafSpec spec;
  spec.dns_names = {kHost};
  spec.key_type = ossl::testing::KeyType::EcP256;
  auto id = root.value().issue(spec);
  return Setup{version, std::move(root).value(), std::move(id).value()};
}

// =============================================================== raw OpenSSL

RawContexts::~RawContexts() {
  SSL_CTX_free(client);
  SSL_CTX_free(server);
}

RawPair::~RawPair() {
  SSL_free(client);
  SSL_free(server);
}

// The same configuration SslCtxBuilder makes: TLS 1.2 floor then the pinned version,
// moving write buffers accepted, peer verification against the root with
// NO_PARTIAL_WILDCARDS and NEVER_CHECK_SUBJECT, status_request (client); certificate, key,
// key check, session id context (server).
bool raw_contexts(const Setup& s, RawContexts& out) {
  const int v = static_cast<int>(s.version);
  out.client = SSL_CTX_new(TLS_client_method());
  out.server = SSL_CTX_new(TLS_server_method());
  if (out.client == nullptr || out.server == nullptr) return false;
  for (SSL_CTX* ctx : {out.client, out.server}) {
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) return false;
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (SSL_CTX_set_min_proto_version(ctx, v) != 1) return false;
    if (SSL_CTX_set_max_proto_version(ctx, v) != 1) return false;
  }
  // What a default ossl client does: no partial wildcards, no subject CN match, and it
  // asks for a stapled OCSP response (the server here has none to send).
  X509_VERIFY_PARAM_set_hostflags(
      SSL_CTX_get0_param(out.client),
      X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
  if (SSL_CTX_set_tlsext_status_type(out.client, TLSEXT_STATUSTYPE_ocsp) != 1) return false;
  if (X509_STORE_add_cert(SSL_CTX_get_cert_store(out.client), s.root.cert().native_handle()) != 1) {
    return false;
  }
  SSL_CTX_set_verify(out.client, SSL_VERIFY_PEER, nullptr);

  if (SSL_CTX_use_certificate(out.server, s.server.cert.native_handle()) != 1) return false;
  if (SSL_CTX_use_PrivateKey(out.server, s.server.key.native_handle()) != 1) return false;
  if (SSL_CTX_check_private_key(out.server) != 1) return false;
  static const unsigned char sid[] = "ossl";
  return SSL_CTX_set_session_id_context(out.server, sid, 4) == 1;
}

bool raw_connect(const RawContexts& ctx, RawPair& p, SSL_SESSION* resume) {
  p.client = SSL_new(ctx.client);
  p.server = SSL_new(ctx.server);
  if (p.client == nullptr || p.server == nullptr) return false;
  BIO* a = nullptr;
  BIO* b = nullptr;
  if (BIO_new_bio_pair(&a, 0, &b, 0) != 1) return false;
  SSL_set_bio(p.client, a, a);
  SSL_set_bio(p.server, b, b);
  SSL_set_connect_state(p.client);
  SSL_set_accept_state(p.server);
  if (SSL_set_tlsext_host_name(p.client, kHost) != 1) return false;
  SSL_set_hostflags(p.client,
                    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
  // SSL_set1_host is deprecated in OpenSSL 4.0; this is what it does (and what ossl does).
  if (X509_VERIFY_PARAM_set1_host(SSL_get0_param(p.client), kHost, 0) != 1) return false;
  if (resume != nullptr && SSL_set_session(p.client, resume) != 1) return false;
  bool client_done = false;
  bool server_done = false;
  for (int round = 0; round < kMaxRounds && !(client_done && server_done); ++round) {
    if (!client_done) {
      const int rc = SSL_do_handshake(p.client);
      client_done = rc == 1;
      if (!client_done && SSL_get_error(p.client, rc) != SSL_ERROR_WANT_READ) return false;
    }
    if (!server_done) {
      const int rc = SSL_do_handshake(p.server);
      server_done = rc == 1;
      if (!server_done && SSL_get_error(p.server, rc) != SSL_ERROR_WANT_READ) return false;
    }
  }
  if (!(client_done && server_done)) return false;
  if (SSL_version(p.client) == TLS1_3_VERSION) {  // take the tickets
    unsigned char byte = 0;
    std::size_t n = 0;
    const int rc = SSL_read_ex(p.client, &byte, 1, &n);
    if (rc == 1 || SSL_get_error(p.client, rc) != SSL_ERROR_WANT_READ) return false;
  }
  return true;
}

bool raw_connection(const RawContexts& ctx, SSL_SESSION* resume, SSL_SESSION** session_out) {
  RawPair p;
  if (!raw_connect(ctx, p, resume)) return false;
  if (resume != nullptr && SSL_session_reused(p.client) != 1) return false;
  if (session_out != nullptr) *session_out = SSL_get1_session(p.client);
  if (SSL_shutdown(p.client) < 0 || SSL_shutdown(p.server) < 0) return false;
  return true;
}

bool raw_exchange(RawPair& p, const unsigned char* data, std::size_t len, unsigned char* buf,
                  std::size_t buf_len) {
  std::size_t written = 0;
  if (SSL_write_ex(p.client, data, len, &written) != 1 || written != len) return false;
  std::size_t got = 0;
  while (got < len) {
    std::size_t n = 0;
    if (SSL_read_ex(p.server, buf, buf_len, &n) != 1) return false;
    got += n;
  }
  return true;
}

// ======================================================================== ossl

ossl::Result<OsslContexts> ossl_contexts(const Setup& s) {
  auto client = ossl::SslCtxBuilder<ossl::Client>::create()
                    .min_proto_version(s.version)
                    .max_proto_version(s.version)
                    .ca_cert(s.root.cert())
                    .build();
  if (!client) return client.error();
  auto server = ossl::SslCtxBuilder<ossl::Server>::create()
                    .min_proto_version(s.version)
                    .max_proto_version(s.version)
                    .certificate(s.server.cert)
                    .private_key(s.server.key)
                    .build();
  if (!server) return server.error();
  return OsslContexts{std::move(*client), std::move(*server)};
}

ossl::Result<OsslPair> ossl_connect(const OsslContexts& ctx, const ossl::SslSession* resume) {
  auto client = ctx.client.new_ssl_for_host(kHost);  // SNI + hostname check
  if (!client) return client.error();
  auto server = ctx.server.new_ssl();
  if (!server) return server.error();
  auto bios = ossl::Bio::new_bio_pair();
  if (!bios) return bios.error();
  client->set_bio_duplex(std::move(bios->first));
  server->set_bio_duplex(std::move(bios->second));
  server->set_accept_state();
  if (resume != nullptr) {
    if (auto r = client->set_session(*resume); !r) return r.error();
  }
  bool client_done = false;
  bool server_done = false;
  for (int round = 0; round < kMaxRounds && !(client_done && server_done); ++round) {
    if (!client_done) {
      auto r = client->do_handshake();
      client_done = r.has_value();
      if (!client_done && r.error() != ossl::SslIoError::Kind::WantRead) {
        return to_error_stack(r.error());
      }
    }
    if (!server_done) {
      auto r = server->do_handshake();
      server_done = r.has_value();
      if (!server_done && r.error() != ossl::SslIoError::Kind::WantRead) {
        return to_error_stack(r.error());
      }
    }
  }
  if (!(client_done && server_done)) return ossl::ErrorStack::message("bench: handshake stalled");
  if (client->version() == ossl::TlsVersion::Tls13) {  // take the tickets
    std::byte byte[1];
    auto r = client->read(byte);
    if (r || r.error() != ossl::SslIoError::Kind::WantRead) {
      return ossl::ErrorStack::message("bench: unexpected data");
    }
  }
  return OsslPair{std::move(*client), std::move(*server)};
}

bool ossl_connection(const OsslContexts& ctx, const ossl::SslSession* resume,
                     std::optional<ossl::SslSession>* session_out) {
  auto p = ossl_connect(ctx, resume);
  if (!p) return false;
  if (resume != nullptr && !p->client.session_reused()) return false;
  if (session_out != nullptr) *session_out = p->client.get1_session();
  return p->client.shutdown().has_value() && p->server.shutdown().has_value();
}

bool ossl_exchange(OsslPair& p, std::span<const std::byte> data, std::span<std::byte> buf) {
  auto w = p.client.write(data);
  if (!w || *w != data.size()) return false;
  std::size_t got = 0;
  while (got < data.size()) {
    auto n = p.server.read(buf);
    if (!n) return false;
    got += *n;
  }
  return true;
}

}  // namespace bench
