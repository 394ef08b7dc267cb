#include <ossl/sni.hpp>  // first: proves the header is self-contained

#include "support/free_counter.hpp"
#include "support/handshake.hpp"

#include <doctest/doctest.h>
#include <openssl/err.h>

#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

using namespace ossl;
using namespace ossl_test;
using namespace std::literals;

// ---------------------------------------------------------------------------- SNI

namespace {

// The default certificate is RSA and the SNI ones are EC, so a connection that got the
// default RSA slot left beside its SNI certificate would show it.
struct SniPki {
  testing::Identity fallback, exact, wildcard;
};
const SniPki& sni_pki() {
  static const SniPki p = [] {
    const testing::TestCa& ca = pki().root;
    auto leaf = [&](std::vector<std::string> names, testing::KeyType type) {
      testing::LeafSpec spec;
      spec.common_name = names.front();
      spec.dns_names = std::move(names);
      spec.key_type = type;
      return ca.issue(spec).value();
    };
    return SniPki{leaf({"localhost"}, testing::KeyType::Rsa2048),
                  leaf({"a.example"}, testing::KeyType::EcP256),
                  leaf({"*.wild.example"}, testing::KeyType::EcP384)};
  }();
  return p;
}

SslCtx sni_server(TlsVersion v, UnknownServerName unknown = UnknownServerName::UseDefault) {
  const SniPki& p = sni_pki();
  auto ctx = SslCtx::new_server().value();
  REQUIRE(ctx.set_min_proto_version(v).has_value());
  REQUIRE(ctx.set_max_proto_version(v).has_value());
  REQUIRE(ctx.use_certificate(p.fallback.cert).has_value());
  REQUIRE(ctx.use_private_key(p.fallback.key).has_value());
  REQUIRE(ctx.add_sni_certificate("a.example", p.exact.cert, p.exact.key).has_value());
  REQUIRE(ctx.add_sni_certificate("*.wild.example", p.wildcard.cert, p.wildcard.key).has_value());
  REQUIRE(ctx.set_sni_unknown_name(unknown).has_value());
  REQUIRE(ctx.set_session_id_context("sni"sv).has_value());
  return ctx;
}

// A client that trusts the test root and checks nothing else, so that whatever the
// server presents can be inspected.
SslCtx inspecting_client() {
  auto ctx = SslCtx::new_client().value();
  REQUIRE(ctx.add_trusted_cert(pki().root.cert()).has_value());
  ctx.set_verify(SslVerifyMode::PEER);
  return ctx;
}

// The shared chain (tests/support) with SNI only (no name check), as these tests
// verify names themselves where they need to.
Attempt sni_handshake(const SslCtx& client, const SslCtx& server, std::string_view sni,
                      const std::optional<SslSession>& session = std::nullopt) {
  return attempt(client, server,
                 ConnectOptions{.host = std::string(sni), .check_name = false, .session = session});
}

}  // namespace

TEST_CASE("SNI: each name gets its certificate, and only that one") {
  const SniPki& p = sni_pki();
  struct Case {
    const char* sni;
    const testing::Identity* expected;
  };
  const Case cases[] = {
      {"a.example", &p.exact},
      {"A.EXAMPLE", &p.exact},
      {"a.example.", &p.exact},
      {"x.wild.example", &p.wildcard},
      {"X-1.Wild.Example", &p.wildcard},
      {"a.b.wild.example", &p.fallback},
      {"wild.example", &p.fallback},
      {"unknown.example", &p.fallback},
      {"", &p.fallback},  // no SNI at all
  };
  SslCtx client = inspecting_client();
  for (TlsVersion v : kVersions) {
    SslCtx server = sni_server(v);
    for (const Case& c : cases) {
      CAPTURE(to_string(v));
      CAPTURE(c.sni);
      Attempt o = sni_handshake(client, server, c.sni);
      REQUIRE_MESSAGE(o.outcome.ok, o.outcome.describe());
      auto presented = o.pair.client.peer_certificate();
      REQUIRE(presented.has_value());
      CHECK(presented->to_der().value() == c.expected->cert.to_der().value());
      if (*c.sni != '\0') {
        CHECK(o.pair.server.hostname() == std::optional<std::string_view>(c.sni));
      }
    }
  }
}

TEST_CASE("SNI: a verifying client checks the name it asked for against what it got") {
  auto client = SslCtxBuilder<Client>::create().ca_cert(pki().root.cert()).build().value();
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    SslCtx server = sni_server(v);
    for (std::string_view host : {"a.example"sv, "x.wild.example"sv, "localhost"sv}) {
      CAPTURE(host);
      Pair pair = make_pair(client, server);
      REQUIRE(pair.client.set_peer_host(host).has_value());
      HandshakeOutcome out = complete_handshake(pair);
      CHECK_MESSAGE(out.ok, out.describe());
      CHECK(pair.client.verify_result().ok());
    }
  }
}

TEST_CASE("SNI: unknown names are refused with unrecognized_name when asked to") {
  const SniPki& p = sni_pki();
  SslCtx client = inspecting_client();
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    SslCtx server = sni_server(v, UnknownServerName::Refuse);
    Attempt refused = sni_handshake(client, server, "unknown.example");
    CHECK_FALSE(refused.outcome.ok);
    REQUIRE(refused.outcome.server_error);
    // The helper stops at the server's failure; the client reads the alert next.
    auto alert = refused.pair.client.do_handshake();
    REQUIRE_FALSE(alert.has_value());
    CHECK_MESSAGE(alert.error().stack().contains(ERR_LIB_SSL, SSL_R_TLSV1_UNRECOGNIZED_NAME),
                  alert.error().to_string());
    // Known names and clients that send none are served as before.
    Attempt known = sni_handshake(client, server, "a.example");
    CHECK_MESSAGE(known.outcome.ok, known.outcome.describe());
    Attempt none = sni_handshake(client, server, "");
    REQUIRE_MESSAGE(none.outcome.ok, none.outcome.describe());
    CHECK(none.pair.client.peer_certificate()->to_der().value() ==
          p.fallback.cert.to_der().value());
  }
}

TEST_CASE("SNI: sessions remember the name and resume; client certificates still verify") {
  const SniPki& p = sni_pki();
  auto client = SslCtxBuilder<Client>::create()
                    .ca_cert(pki().root.cert())
                    .client_cert(pki().client.cert)
                    .client_chain_cert(pki().intermediate.cert())
                    .client_key(pki().client.key)
                    .build()
                    .value();
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    SslCtx server = sni_server(v);
    REQUIRE(server.add_trusted_cert(pki().root.cert()).has_value());
    server.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);

    Pair first = make_pair(client, server);
    REQUIRE(first.client.set_peer_host("a.example").has_value());
    HandshakeOutcome out = complete_handshake(first);
    REQUIRE_MESSAGE(out.ok, out.describe());
    CHECK(first.server.peer_certificate().has_value());  // the client's, verified
    read_tickets(first.client);
    auto session = first.client.get1_session();
    REQUIRE(session.has_value());
    CHECK(session->hostname() == "a.example");  // SNI was acknowledged
    REQUIRE(first.client.shutdown().has_value());

    Pair second = make_pair(client, server);
    REQUIRE(second.client.set_peer_host("a.example").has_value());
    REQUIRE(second.client.set_session(*session).has_value());
    out = complete_handshake(second);
    REQUIRE_MESSAGE(out.ok, out.describe());
    CHECK(second.client.session_reused());
    CHECK(second.client.peer_certificate()->to_der().value() == p.exact.cert.to_der().value());
  }
}

TEST_CASE("SNI: bad names, keys and certificates are errors that name the problem") {
  const SniPki& p = sni_pki();
  auto ctx = SslCtx::new_server().value();
  REQUIRE(ctx.add_sni_certificate("a.example", p.exact.cert, p.exact.key).has_value());
  struct Case {
    std::string_view name;
    std::string_view says;
  };
  const std::string long_label = std::string(64, 'a') + ".example";
  std::string long_name;
  while (long_name.size() < 254)
    long_name += "abcdefgh.";
  for (const Case& c :
       {Case{"", "is empty"}, Case{".", "is empty"}, Case{"127.0.0.1", "is an IP address"},
        Case{"::1", "is an IP address"}, Case{"a..example", "empty label"},
        Case{"*", "wildcard other than"}, Case{"f*.example", "wildcard other than"},
        Case{"*.*.example", "wildcard other than"},
        Case{"a b.example", "not allowed in a DNS name"}, Case{"a\0b.example"sv, "embedded NUL"},
        Case{long_label, "label longer than 63"}, Case{long_name, "longer than 253"},
        Case{"A.Example", "already has a certificate"}}) {
    CAPTURE(c.name);
    auto r = ctx.add_sni_certificate(c.name, p.wildcard.cert, p.wildcard.key);
    REQUIRE_FALSE(r.has_value());
    CHECK_MESSAGE(r.error().to_string().find(c.says) != std::string::npos, r.error().to_string());
    CHECK(ERR_peek_error() == 0);
  }
  auto mismatch = ctx.add_sni_certificate("b.example", p.wildcard.cert, p.exact.key);
  REQUIRE_FALSE(mismatch.has_value());
  CHECK(mismatch.error().to_string().find("does not match") != std::string::npos);
  CHECK(ctx.add_sni_certificate("b.example", ossl::X509(), p.exact.key).has_value() == false);
  CHECK(ctx.add_sni_certificate("b.example", p.exact.cert, Pkey<Private>()).has_value() == false);
  std::vector<ossl::X509> chain{pki().root.cert(), ossl::X509()};
  auto bad_chain = ctx.add_sni_certificate("b.example", p.exact.cert, p.exact.key, chain);
  REQUIRE_FALSE(bad_chain.has_value());
  CHECK(bad_chain.error().to_string().find("at index 1") != std::string::npos);
  CHECK(SslCtx()
            .add_sni_certificate("b.example", p.exact.cert, p.exact.key)
            .error()
            .to_string()
            .find("empty SslCtx") != std::string::npos);
  CHECK(ERR_peek_error() == 0);
}
