// A consumer of an installed ossl: an in-memory TLS handshake with generated
// certificates, verification on. Exits 0 on success. Built three ways by
// tests/consumers/run.sh: CMake find_package, pkg-config, Meson subproject.
#include <ossl/ossl.hpp>
#include <ossl/testing/certs.hpp>

#include <cstdio>

int main() {
  auto root = ossl::testing::TestCa::create_root().value();
  ossl::testing::LeafSpec spec;
  spec.dns_names = {"localhost"};
  auto id = root.issue(spec).value();
  auto server_ctx = ossl::SslCtxBuilder<ossl::Server>::create()
                        .certificate(id.cert)
                        .private_key(id.key)
                        .build()
                        .value();
  auto client_ctx =
      ossl::SslCtxBuilder<ossl::Client>::create().ca_cert(root.cert()).build().value();
  auto client = client_ctx.new_ssl_for_host("localhost").value();
  auto server = server_ctx.new_ssl().value();
  auto [a, b] = ossl::Bio::new_bio_pair().value();
  client.set_bio_duplex(std::move(a));
  server.set_bio_duplex(std::move(b));
  server.set_accept_state();
  for (int round = 0; round < 16; ++round) {
    auto c = client.do_handshake();
    auto s = server.do_handshake();
    if (c && s) {
      std::printf("consumer: ossl %s, %s, verify %s\n", OSSL_VERSION_STRING,
                  ossl::to_string(client.version()).c_str(),
                  client.verify_result().ok() ? "ok" : "failed");
      return client.verify_result().ok() && ossl::version() == OSSL_VERSION_STRING ? 0 : 1;
    }
    if ((!c && !c.error().would_block()) || (!s && !s.error().would_block())) break;
  }
  std::fprintf(stderr, "consumer: handshake failed\n");
  return 1;
}
