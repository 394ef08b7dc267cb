// The reference's examples, in C++ against <ossl/ossl.hpp> as the API map spells them.
#include <ossl/ossl.hpp>  // first: proves the umbrella header is self-contained

#include "support/handshake.hpp"

#include <doctest/doctest.h>

#include <cstring>

using namespace ossl;
using namespace ossl_test;

TEST_CASE("the reference's in-memory handshake example works for TLS 1.2 and TLS 1.3") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    const ossl::X509& cert = pki().server.cert;
    const Pkey<Private>& key = pki().server.key;

    // Set up client and server contexts.
    auto client_ctx = SslCtx::new_client().value();
    client_ctx.set_min_proto_version(TlsVersion::Tls12).value();
    client_ctx.set_max_proto_version(v).value();
    auto server_ctx = SslCtx::new_server().value();
    server_ctx.use_certificate(cert).value();
    server_ctx.use_private_key(key).value();
    server_ctx.check_private_key().value();

    auto client = client_ctx.new_ssl().value();
    auto server = server_ctx.new_ssl().value();

    // Paired in-memory BIOs: data written to one is readable from the other.
    auto [bio1, bio2] = Bio::new_bio_pair().value();
    client.set_bio_duplex(std::move(bio1));
    server.set_bio_duplex(std::move(bio2));
    client.set_connect_state();
    server.set_accept_state();

    Pair pair{std::move(client), std::move(server)};
    const HandshakeOutcome out = complete_handshake(pair);
    REQUIRE_MESSAGE(out.ok, out.describe());
    CHECK(pair.client.version() == v);

    // Exchange application data.
    pair.client.write(std::string_view("ping")).value();
    unsigned char buf[4];
    pair.server.read(buf).value();
    CHECK(std::memcmp(buf, "ping", 4) == 0);
  }
}

TEST_CASE("the reference's client and server setups handshake with each other") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    const Pki& p = pki();
    // TLS server (reference "TLS Server").
    auto server_ctx = SslCtx::new_server().value();
    server_ctx.set_min_proto_version(TlsVersion::Tls12).value();
    server_ctx.set_max_proto_version(v).value();
    server_ctx.use_certificate(p.server.cert).value();
    server_ctx.use_private_key(p.server.key).value();
    server_ctx.add_chain_cert(p.intermediate.cert()).value();
    server_ctx.check_private_key().value();

    // TLS client (reference "TLS Client"), trusting the test root instead of the system.
    auto client_ctx = SslCtx::new_client().value();
    client_ctx.set_min_proto_version(TlsVersion::Tls12).value();
    client_ctx.set_verify(SslVerifyMode::PEER);
    client_ctx.set_default_verify_paths().value();
    client_ctx.add_trusted_cert(p.root.cert()).value();

    Pair pair = make_pair(client_ctx, server_ctx);
    pair.client.set_hostname("localhost").value();
    pair.client.set_verify_hostname("localhost").value();
    const HandshakeOutcome out = complete_handshake(pair);
    REQUIRE_MESSAGE(out.ok, out.describe());
    CHECK(pair.client.verify_result().ok());

    const std::string_view request = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    CHECK(pair.client.write(request).value() == request.size());
    std::vector<char> buf(4096);
    auto n = pair.server.read(std::span(buf)).value();
    CHECK(std::string_view(buf.data(), n) == request);

    // Session resumption (reference design note): save, then offer on a new connection.
    if (v == TlsVersion::Tls13) read_tickets(pair.client);
    auto saved = pair.client.get1_session();
    REQUIRE(saved);
    Pair again = make_pair(client_ctx, server_ctx);
    // The host comes first: a session is offered only where its authentication holds.
    again.client.set_verify_hostname("localhost").value();
    again.client.set_session(*saved).value();
    REQUIRE(complete_handshake(again).ok);
    CHECK(again.client.session_reused());
  }
}
