#include <ossl/verify.hpp>  // first: proves the header is self-contained

#include "../src/siphash.hpp"
#include "support/handshake.hpp"

#include <doctest/doctest.h>
#include <openssl/err.h>

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>

using namespace ossl;
using namespace ossl_test;

namespace {

SslCtx builder_server(TlsVersion v) {
  return server_builder(v).build().value();
}
SslCtx builder_client(TlsVersion v) {
  return client_builder(v).build().value();
}

}  // namespace

TEST_CASE("set_verify changes the mode only: a built client still requires a host") {
  // SSL_CTX_set_verify(ctx, mode, nullptr) would drop the policy's callback, and a
  // connection naming no host would then verify any valid certificate for any name.
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    const SslCtx server = builder_server(v);
    SslCtx client = builder_client(v);
    const SSL_verify_cb before = SSL_CTX_get_verify_callback(client.native_handle());
    const bool installed = before != nullptr;
    REQUIRE(installed);
    client.set_verify(SslVerifyMode::PEER);
    const bool kept = SSL_CTX_get_verify_callback(client.native_handle()) == before;
    CHECK(kept);
    CHECK(client.verify_mode() == SslVerifyMode::PEER);
    SUBCASE("context") {
      Pair pair = make_pair(client, server);  // names no host
      const HandshakeOutcome out = complete_handshake(pair);
      CHECK_FALSE(out.ok);
      CHECK(pair.client.verify_result().code == X509_V_ERR_APPLICATION_VERIFICATION);
    }
    SUBCASE("connection") {
      Pair pair = make_pair(client, server);
      pair.client.set_verify(SslVerifyMode::PEER);
      const bool kept_on_ssl = SSL_get_verify_callback(pair.client.native_handle()) == before;
      CHECK(kept_on_ssl);
      CHECK_FALSE(complete_handshake(pair).ok);
      CHECK(pair.client.verify_result().code == X509_V_ERR_APPLICATION_VERIFICATION);
    }
  }
}

namespace {
int raw_calls = 0;
int raw_verify_cb(int ok, X509_STORE_CTX*) {
  ++raw_calls;
  return ok;
}
}  // namespace

TEST_CASE("an adopted context keeps its own verify callback through set_verify") {
  SSL_CTX* raw = SSL_CTX_new(TLS_client_method());
  REQUIRE(raw != nullptr);
  SSL_CTX_set_verify(raw, SSL_VERIFY_NONE, raw_verify_cb);
  SslCtx client = SslCtx::adopt(raw).value();
  client.set_verify(SslVerifyMode::PEER);
  const bool kept = SSL_CTX_get_verify_callback(client.native_handle()) == &raw_verify_cb;
  CHECK(kept);
  REQUIRE(client.add_trusted_cert(pki().root.cert()).has_value());
  const SslCtx server = builder_server(TlsVersion::Tls13);
  Pair pair = make_pair(client, server);
  REQUIRE(pair.client.set_peer_host("localhost").has_value());
  raw_calls = 0;
  REQUIRE(complete_handshake(pair).ok);
  CHECK(raw_calls > 0);  // the caller's callback ran: ossl did not take the slot
}

TEST_CASE("VerifyResult: nothing verified is not ok, and says so") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    const SslCtx server = builder_server(v);
    const SslCtx client = builder_client(v);
    Pair pair = make_pair(client, server);
    REQUIRE(pair.client.set_peer_host("localhost").has_value());

    const VerifyResult early = pair.client.verify_result();
    CHECK_FALSE(early.ok());  // OpenSSL's code reads X509_V_OK before the handshake
    CHECK_FALSE(early.checked);
    CHECK(early.message() == "no peer certificate was verified");

    REQUIRE(complete_handshake(pair).ok);
    const VerifyResult client_side = pair.client.verify_result();
    CHECK(client_side.ok());
    CHECK(client_side.checked);
    CHECK(client_side.message() == "ok");

    // The server asked for no client certificate: there was nothing to verify.
    const VerifyResult server_side = pair.server.verify_result();
    CHECK(server_side.code == X509_V_OK);
    CHECK_FALSE(server_side.checked);
    CHECK_FALSE(server_side.ok());
  }
}

TEST_CASE("a failed verification is not ok, with OpenSSL's reason") {
  const SslCtx server = builder_server(TlsVersion::Tls13);
  const SslCtx client = builder_client(TlsVersion::Tls13);
  Pair pair = make_pair(client, server);
  REQUIRE(pair.client.set_peer_host("not-localhost.example").has_value());
  CHECK_FALSE(complete_handshake(pair).ok);
  const VerifyResult r = pair.client.verify_result();
  CHECK_FALSE(r.ok());
  CHECK(r.checked);
  CHECK(r.code == X509_V_ERR_HOSTNAME_MISMATCH);
  CHECK(r.message() == "hostname mismatch");
  ERR_clear_error();
}

TEST_CASE("the session binding's SipHash-2-4 matches the reference vectors") {
  // Aumasson and Bernstein's test vectors: key 00..0f, messages 00, 00 01, ... .
  const std::uint64_t k0 = 0x0706050403020100ULL;
  const std::uint64_t k1 = 0x0f0e0d0c0b0a0908ULL;
  std::byte msg[64];
  for (int i = 0; i < 64; ++i)
    msg[i] = static_cast<std::byte>(i);
  struct Case {
    std::size_t len;
    std::uint64_t hash;
  };
  for (const Case& c : {Case{0, 0x726fdb47dd0e0e31ULL}, Case{1, 0x74f839c593dc67fdULL},
                        Case{7, 0xab0200f58b01d137ULL}, Case{8, 0x93f5f5799a932462ULL},
                        Case{15, 0xa129ca6149be45e5ULL}, Case{63, 0x958a324ceb064572ULL}}) {
    CAPTURE(c.len);
    ossl::detail::SipHash24 whole(k0, k1);
    whole.update(std::span(msg, c.len));
    CHECK(whole.finish() == c.hash);
    ossl::detail::SipHash24 pieces(k0, k1);  // byte runs that straddle word boundaries
    for (std::size_t i = 0; i < c.len; i += 3)
      pieces.update(std::span(msg + i, std::min<std::size_t>(3, c.len - i)));
    CHECK(pieces.finish() == c.hash);
  }
}
