// The reference's in-memory TLS handshake, in C++: a client and a server joined by a
// BIO pair, no sockets. The certificate comes from ossl::testing instead of files.
#include <ossl/ossl.hpp>
#include <ossl/testing/certs.hpp>

#include <cstdio>
#include <cstring>

int main() {
  auto root = ossl::testing::TestCa::create_root().value();
  auto id = root.issue(ossl::testing::LeafSpec{}).value();
  const ossl::X509& cert = id.cert;
  const ossl::Pkey<ossl::Private>& key = id.key;

  // Set up client and server contexts.
  auto client_ctx = ossl::SslCtx::new_client().value();
  client_ctx.set_min_proto_version(ossl::TlsVersion::Tls12).value();
  auto server_ctx = ossl::SslCtx::new_server().value();
  server_ctx.use_certificate(cert).value();
  server_ctx.use_private_key(key).value();
  server_ctx.check_private_key().value();

  auto client = client_ctx.new_ssl().value();
  auto server = server_ctx.new_ssl().value();

  // Paired in-memory BIOs: data written to one is readable from the other.
  auto [bio1, bio2] = ossl::Bio::new_bio_pair().value();
  client.set_bio_duplex(std::move(bio1));
  server.set_bio_duplex(std::move(bio2));
  client.set_connect_state();
  server.set_accept_state();

  // Drive the handshake until both sides report success (with a round cap: a stalled
  // handshake is reported, never spun on).
  bool done = false;
  for (int round = 0; round < 16 && !done; ++round) {
    auto c = client.do_handshake();
    auto s = server.do_handshake();
    done = c && s;
    for (const auto* r : {&c, &s}) {
      if (!*r && !r->error().would_block()) {
        std::fprintf(stderr, "in_memory: handshake failed: %s\n", r->error().to_string().c_str());
        return 1;
      }
    }
  }
  if (!done) {
    std::fprintf(stderr, "in_memory: handshake stalled\n");
    return 1;
  }

  // Exchange application data.
  client.write(std::string_view("ping")).value();
  char buf[4];
  server.read(buf).value();
  std::printf("server read \"%.4s\" over %s\n", buf, ossl::to_string(client.version()).c_str());
  return std::memcmp(buf, "ping", 4) == 0 ? 0 : 1;
}
