#include <ossl/verify.hpp>  // first: proves the header is self-contained

#include "../src/siphash.hpp"
#include "support/handshake.hpp"
#include "support/process.hpp"

#include <doctest/doctest.h>
#include <openssl/err.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <stdexcept>
#include <vector>
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

TEST_CASE("a failed verification is not ok, with its reason and OpenSSL's") {
  const SslCtx server = builder_server(TlsVersion::Tls13);
  const SslCtx client = builder_client(TlsVersion::Tls13);
  Pair pair = make_pair(client, server);
  REQUIRE(pair.client.set_peer_host("not-localhost.example").has_value());
  CHECK_FALSE(complete_handshake(pair).ok);
  const VerifyResult r = pair.client.verify_result();
  CHECK_FALSE(r.ok());
  CHECK(r.checked);
  CHECK(r.code == X509_V_ERR_HOSTNAME_MISMATCH);
  CHECK(r.message() ==
        "the certificate CN=localhost,O=ossl test is for DNS:localhost, IP:127.0.0.1, not for "
        "\"not-localhost.example\": hostname mismatch");
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

// ------------------------------------------------------------------ SpkiPin

namespace {

// The pin of `cert` as OpenSSL's command-line tools compute it (RFC 7469's recipe):
// the DER SubjectPublicKeyInfo, SHA-256, base64.
std::string cli_pin(const ossl::X509& cert) {
  TempDir dir;
  const std::string pem = dir.path("cert.pem");
  REQUIRE(testing::Identity{cert, testing::generate_key(testing::KeyType::EcP256).value(), {}}
              .write_pem(pem, dir.path("unused.key"))
              .has_value());
  const RunResult r = run({"sh", "-c",
                           "openssl x509 -in '" + pem +
                               "' -pubkey -noout | openssl pkey -pubin -outform der | "
                               "openssl dgst -sha256 -binary | base64"},
                          std::chrono::seconds(20));
  REQUIRE(r.status == 0);
  std::string out = r.output;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r'))
    out.pop_back();
  return out;
}

}  // namespace

TEST_CASE("SpkiPin: a certificate's pin is the one OpenSSL's tools compute, in every form") {
  const ossl::X509 certs[] = {pki().server.cert, pki().intermediate.cert(), pki().root.cert()};
  for (const ossl::X509& cert : certs) {
    const SpkiPin pin = SpkiPin::of(cert).value();
    const std::string expected = cli_pin(cert);
    CHECK(pin.to_base64() == expected);
    CHECK(SpkiPin::from_base64(expected).value() == pin);
    CHECK(SpkiPin::from_base64("sha256/" + expected).value() == pin);
    CHECK(SpkiPin::from_base64("sha256//" + expected).value() == pin);
  }
  CHECK_FALSE(SpkiPin::of(pki().server.cert).value() == SpkiPin::of(pki().root.cert()).value());
}

TEST_CASE("SpkiPin: a pin whose base64 starts with '/' parses with either prefix") {
  // The first digest byte 0xfc encodes as '/': "sha256/" + pin then starts "sha256//",
  // curl's prefix, and only the length tells the two apart.
  std::array<std::byte, 32> digest{};
  digest[0] = std::byte{0xfc};
  const SpkiPin pin = SpkiPin::from_digest(digest);
  const std::string text = pin.to_base64();
  REQUIRE(text.front() == '/');
  CHECK(SpkiPin::from_base64(text).value() == pin);
  CHECK(SpkiPin::from_base64("sha256/" + text).value() == pin);
  CHECK(SpkiPin::from_base64("sha256//" + text).value() == pin);
}

TEST_CASE("SpkiPin: malformed text is an error that quotes it and says what is wrong") {
  const std::string good = SpkiPin::of(pki().server.cert).value().to_base64();
  struct Case {
    std::string text;
    const char* complaint;
  };
  const Case cases[] = {
      {"", "expected 44 base64 characters"},
      {good.substr(0, 43), "expected 44 base64 characters"},
      {good + "AAAA", "expected 44 base64 characters"},
      {good.substr(0, 43) + "A", "padded"},
      {"sha1/" + good, "expected 44 base64 characters"},
      {good.substr(0, 10) + "*" + good.substr(11), "outside the base64 alphabet"},
      {good.substr(0, 10) + " " + good.substr(11), "outside the base64 alphabet"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    auto pin = SpkiPin::from_base64(c.text);
    REQUIRE_FALSE(pin.has_value());
    const std::string message = pin.error().to_string();
    CHECK(message.find("\"" + c.text + "\"") != std::string::npos);
    CHECK(message.find(c.complaint) != std::string::npos);
  }
}

// ------------------------------------------------------------- pins in handshakes

TEST_CASE("pins: any pinned key of the verified chain passes; nothing else does") {
  const std::string leaf = SpkiPin::of(pki().server.cert).value().to_base64();
  const std::string intermediate = SpkiPin::of(pki().intermediate.cert()).value().to_base64();
  const std::string root = SpkiPin::of(pki().root.cert()).value().to_base64();
  const std::string other =
      SpkiPin::of(testing::TestCa::create_root("unrelated").value().cert()).value().to_base64();
  struct Case {
    const char* name;
    std::vector<std::string> pins;
    bool trust_root;  // false: the client does not trust the chain's root
    long expect;
  };
  const Case cases[] = {
      {"pin on the leaf", {leaf}, true, X509_V_OK},
      {"pin on the intermediate", {intermediate}, true, X509_V_OK},
      {"pin on the root", {root}, true, X509_V_OK},
      {"wrong pin", {other}, true, X509_V_ERR_APPLICATION_VERIFICATION},
      {"backup pin after a wrong one", {other, leaf}, true, X509_V_OK},
      {"a pinned leaf does not make an untrusted chain trusted",
       {leaf},
       false,
       X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY},
  };
  for (TlsVersion v : kVersions) {
    const SslCtx server = builder_server(v);
    for (const Case& c : cases) {
      CAPTURE(to_string(v));
      CAPTURE(std::string(c.name));
      auto builder = c.trust_root ? client_builder(v)
                                  : SslCtxBuilder<Client>::create().max_proto_version(v).ca_cert(
                                        testing::TestCa::create_root().value().cert());
      for (const std::string& pin : c.pins)
        builder.pin_spki_sha256(pin);
      const SslCtx client = std::move(builder).build().value();
      Attempt a = attempt(client, server);
      CHECK_MESSAGE(a.outcome.ok == (c.expect == X509_V_OK), a.outcome.describe());
      CHECK(a.pair.client.verify_result().code == c.expect);
      if (c.expect == X509_V_ERR_APPLICATION_VERIFICATION) {
        // The mismatch names the pins it wanted and the keys the chain has.
        const std::string text = a.outcome.describe();
        CHECK(text.find("no certificate of the verified chain has a pinned public key") !=
              std::string::npos);
        CHECK(text.find("sha256/" + other) != std::string::npos);
        CHECK(text.find("sha256/" + leaf) != std::string::npos);
        CHECK(text.find("sha256/" + root) != std::string::npos);
        CHECK(std::string(a.pair.client.verify_result().message()).find("pinned") !=
              std::string::npos);
      }
    }
  }
}

TEST_CASE("pins and hooks are refused at build() when verification is off") {
  auto pinned = client_builder()
                    .danger_accept_invalid_certs()
                    .pin_spki_sha256(SpkiPin::of(pki().server.cert).value())
                    .build();
  REQUIRE_FALSE(pinned.has_value());
  CHECK(pinned.error().to_string().find("would never be checked") != std::string::npos);
  auto hooked = client_builder()
                    .danger_accept_invalid_certs()
                    .verify_hook([](const VerifiedPeer&) { return VerifyVerdict::accept(); })
                    .build();
  REQUIRE_FALSE(hooked.has_value());
  auto malformed = client_builder().pin_spki_sha256("not a pin").build();
  REQUIRE_FALSE(malformed.has_value());
  CHECK(malformed.error().to_string().find("pin_spki_sha256") != std::string::npos);
  CHECK(malformed.error().to_string().find("\"not a pin\"") != std::string::npos);
}

// ------------------------------------------------------------ verification hook

TEST_CASE("the verification hook sees the verified chain and host, and its verdict holds") {
  enum class Does { Accept, Reject, RejectSilently, Throw };
  struct Case {
    const char* name;
    Does does;
    bool ok;
    const char* in_error;  // text the handshake error and verify_result() carry
  };
  const Case cases[] = {
      {"accepts", Does::Accept, true, ""},
      {"rejects with a reason", Does::Reject, false,
       "rejected by the verification hook: serial not on the allow list"},
      {"rejects without a reason", Does::RejectSilently, false,
       "rejected by the verification hook"},
      {"throws", Does::Throw, false, "the verification hook threw: hook exploded"},
  };
  for (TlsVersion v : kVersions) {
    const SslCtx server = builder_server(v);
    for (const Case& c : cases) {
      CAPTURE(to_string(v));
      CAPTURE(std::string(c.name));
#if !defined(__cpp_exceptions)
      if (c.does == Does::Throw) continue;
#endif
      int calls = 0;
      std::vector<ossl::X509> seen_chain;
      std::string seen_host;
      const SslCtx client = client_builder(v)
                                .verify_hook([&](const VerifiedPeer& peer) -> VerifyVerdict {
                                  ++calls;
                                  seen_chain.assign(peer.chain.begin(), peer.chain.end());
                                  seen_host = std::string(peer.host);
                                  switch (c.does) {
                                    case Does::Accept:
                                      return VerifyVerdict::accept();
                                    case Does::Reject:
                                      return VerifyVerdict::reject("serial not on the allow list");
                                    case Does::RejectSilently:
                                      return VerifyVerdict::reject("");
                                    case Does::Throw:
#if defined(__cpp_exceptions)
                                      throw std::runtime_error("hook exploded");
#else
                                      break;
#endif
                                  }
                                  return VerifyVerdict::accept();
                                })
                                .build()
                                .value();
      Attempt a = attempt(client, server);
      CHECK_MESSAGE(a.outcome.ok == c.ok, a.outcome.describe());
      CHECK(calls == 1);
      REQUIRE(seen_chain.size() == 3);
      CHECK(seen_chain[0] == pki().server.cert);
      CHECK(seen_chain[1] == pki().intermediate.cert());
      CHECK(seen_chain[2] == pki().root.cert());
      CHECK(seen_host == "localhost");
      if (!c.ok) {
        CHECK(a.pair.client.verify_result().code == X509_V_ERR_APPLICATION_VERIFICATION);
        CHECK(a.pair.client.verify_result().message() == c.in_error);
        CHECK(a.outcome.describe().find(c.in_error) != std::string::npos);
        CHECK(a.outcome.server_error.has_value());  // the server was told (an alert)
      } else {
        CHECK(a.pair.client.verify_result().ok());
      }
    }
  }
}

TEST_CASE("the verification hook is never asked when OpenSSL's checks failed") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    int calls = 0;
    const SslCtx client = client_builder(v)
                              .verify_hook([&](const VerifiedPeer&) {
                                ++calls;
                                return VerifyVerdict::accept();
                              })
                              .build()
                              .value();
    const SslCtx server = builder_server(v);
    Attempt a = attempt(client, server, ConnectOptions{.host = "wrong.example"});
    CHECK_FALSE(a.outcome.ok);
    CHECK(a.pair.client.verify_result().code == X509_V_ERR_HOSTNAME_MISMATCH);
    CHECK(calls == 0);
  }
}

TEST_CASE("a session rejected by the hook never resumes; an accepted one resumes without it") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    bool accept = true;
    int calls = 0;
    const SslCtx client =
        client_builder(v)
            .verify_hook([&](const VerifiedPeer&) {
              ++calls;
              return accept ? VerifyVerdict::accept() : VerifyVerdict::reject("revoked by policy");
            })
            .build()
            .value();
    const SslCtx server = builder_server(v);
    Pair first = connect(client, server);
    read_tickets(first.client);
    const SslSession session = first.client.get1_session().value();
    Pair second = connect(client, server, ConnectOptions{.session = session});
    CHECK(second.client.session_reused());
    CHECK(calls == 1);  // resumption re-verifies nothing
  }
}

// ---------------------------------------------------------- defaults beyond OpenSSL's

TEST_CASE("a CA certificate presented as the server's own is refused unless allowed") {
  testing::LeafSpec spec;
  spec.dns_names = {"localhost"};
  spec.ca = true;
  spec.key_usage = "critical,digitalSignature,keyCertSign";
  const testing::Identity ca_leaf = pki().intermediate.issue(spec).value();
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    const SslCtx server = SslCtxBuilder<Server>::create()
                              .max_proto_version(v)
                              .certificate(ca_leaf.cert)
                              .add_chain_cert(pki().intermediate.cert())
                              .private_key(ca_leaf.key)
                              .build()
                              .value();
    Attempt refused = attempt(client_builder(v).build().value(), server);
    CHECK_FALSE(refused.outcome.ok);
    CHECK(refused.pair.client.verify_result().code == X509_V_ERR_APPLICATION_VERIFICATION);
    CHECK(std::string(refused.pair.client.verify_result().message()).find("CA:TRUE") !=
          std::string::npos);
    Attempt allowed = attempt(client_builder(v).danger_accept_ca_as_leaf().build().value(), server);
    CHECK_MESSAGE(allowed.outcome.ok, allowed.outcome.describe());
    // The control: the same PKI's ordinary leaf passes the default client.
    CHECK(attempt(client_builder(v).build().value(), builder_server(v)).outcome.ok);
  }
}

TEST_CASE("a host named only in the subject CN is refused by default, whatever the flags") {
  testing::LeafSpec spec;
  spec.common_name = "localhost";  // no subjectAltName at all
  const testing::Identity cn_only = pki().intermediate.issue(spec).value();
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    const SslCtx server = SslCtxBuilder<Server>::create()
                              .max_proto_version(v)
                              .certificate(cn_only.cert)
                              .add_chain_cert(pki().intermediate.cert())
                              .private_key(cn_only.key)
                              .build()
                              .value();
    const SslCtx strict = client_builder(v).build().value();
    for (HostnameFlags flags : {HostnameFlags::NONE, HostnameFlags::NO_PARTIAL_WILDCARDS,
                                HostnameFlags::ALWAYS_CHECK_SUBJECT}) {
      CAPTURE(flags.bits());
      Attempt a = attempt(strict, server, ConnectOptions{.prepare_client = [&](Ssl& ssl) {
                            REQUIRE(ssl.set_peer_host("localhost", flags).has_value());
                          }});
      CHECK_FALSE(a.outcome.ok);
      CHECK(a.pair.client.verify_result().code == X509_V_ERR_HOSTNAME_MISMATCH);
      CHECK(std::string(a.pair.client.verify_result().message())
                .find("only in its subject common name") != std::string::npos);
    }
    const SslCtx lenient = client_builder(v).danger_match_subject_common_name().build().value();
    Attempt a = attempt(lenient, server, ConnectOptions{.prepare_client = [](Ssl& ssl) {
                          REQUIRE(ssl.set_peer_host("localhost", HostnameFlags::NONE).has_value());
                        }});
    CHECK_MESSAGE(a.outcome.ok, a.outcome.describe());
  }
}

// ------------------------------------------------------------ refusals that explain

TEST_CASE("a refused chain's reason names the certificate and what is wrong with it") {
  using testing::LeafSpec;
  auto leaf = [](auto&& adjust) {
    LeafSpec spec;
    spec.dns_names = {"localhost"};
    adjust(spec);
    return pki().intermediate.issue(spec).value();
  };
  const testing::TestCa stranger = testing::TestCa::create_root("stranger root").value();
  const testing::TestCa stranger_ca = stranger.create_intermediate("stranger ca").value();
  LeafSpec plain;
  plain.dns_names = {"localhost"};
  testing::Identity untrusted = stranger_ca.issue(plain).value();
  untrusted.chain.push_back(stranger.cert());  // the whole chain, root included
  const testing::Identity self_signed = testing::TestCa::self_signed(plain).value();
  testing::Identity missing = pki().server;
  missing.chain.clear();

  struct Case {
    const char* name;
    testing::Identity served;
    long code;
    std::vector<std::string> says;  // each in verify_result().message()
  };
  const std::string leaf_name = "CN=localhost,O=ossl test";
  const Case cases[] = {
      {"expired",
       leaf([](LeafSpec& s) { s.validity = testing::Validity::expired(); }),
       X509_V_ERR_CERT_HAS_EXPIRED,
       {"the certificate " + leaf_name + " expired on ", " UTC", "certificate has expired"}},
      {"not yet valid",
       leaf([](LeafSpec& s) { s.validity = testing::Validity::not_yet_valid(); }),
       X509_V_ERR_CERT_NOT_YET_VALID,
       {"the certificate " + leaf_name + " is valid only from ", "this machine's clock",
        "certificate is not yet valid"}},
      {"wrong host",
       leaf([](LeafSpec& s) {
         s.dns_names = {"www.example.com", "example.com"};
       }),
       X509_V_ERR_HOSTNAME_MISMATCH,
       {"the certificate " + leaf_name + " is for DNS:www.example.com, DNS:example.com",
        "not for \"localhost\""}},
      {"self-signed",
       self_signed,
       X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
       {"the server sent only the self-signed certificate " + leaf_name,
        "not one this client trusts"}},
      {"untrusted root",
       untrusted,
       X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
       {"the chain ends in the root CN=stranger root,O=ossl test", "not one this client trusts"}},
      {"missing intermediate",
       missing,
       X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
       {"the issuer of " + leaf_name + " (CN=ossl test intermediate,O=ossl test)",
        "the server may be leaving out an intermediate certificate"}},
      {"SHA-1 signature",
       leaf([](LeafSpec& s) { s.signature_digest = testing::SignatureDigest::Sha1; }),
       X509_V_ERR_CA_MD_TOO_WEAK,
       {"the certificate " + leaf_name + " is signed with ecdsa-with-SHA1",
        "too weak for security level 2"}},
      {"RSA-1024 key",
       leaf([](LeafSpec& s) { s.key_type = testing::KeyType::Rsa1024; }),
       X509_V_ERR_EE_KEY_TOO_SMALL,
       {"the certificate " + leaf_name + " has a 1024-bit RSA key",
        "security level 2 requires 112"}},
      {"clientAuth only",
       leaf([](LeafSpec& s) { s.usage = testing::Usage::Client; }),
       X509_V_ERR_INVALID_PURPOSE,
       {"the certificate " + leaf_name + " is not for TLS servers",
        "extended key usage: clientAuth"}},
  };
  for (TlsVersion v : kVersions) {
    for (const Case& c : cases) {
      CAPTURE(to_string(v));
      CAPTURE(std::string(c.name));
      // A raw server at security level 0 serves what a builder would refuse to load.
      SslCtx server = SslCtx::new_server().value();
      SSL_CTX_set_security_level(server.native_handle(), 0);
      REQUIRE(server.set_max_proto_version(v).has_value());
      REQUIRE(server.use_certificate(c.served.cert).has_value());
      for (const ossl::X509& cert : c.served.chain) {
        REQUIRE(server.add_chain_cert(cert).has_value());
      }
      REQUIRE(server.use_private_key(c.served.key).has_value());
      Attempt a = attempt(client_builder(v).build().value(), server);
      CHECK_FALSE(a.outcome.ok);
      const VerifyResult r = a.pair.client.verify_result();
      CHECK(r.code == c.code);
      const std::string message(r.message());
      CHECK(message.find(X509_verify_cert_error_string(c.code)) != std::string::npos);
      for (const std::string& part : c.says) {
        CHECK_MESSAGE(message.find(part) != std::string::npos, message);
      }
      // The handshake's error carries the same explanation.
      CHECK_MESSAGE(a.outcome.describe().find(c.says[0]) != std::string::npos,
                    a.outcome.describe());
    }
  }
}

TEST_CASE("a server's refusal of a client certificate names it and what is wrong with it") {
  testing::LeafSpec spec;
  spec.common_name = "ossl test client";
  spec.usage = testing::Usage::Client;
  testing::LeafSpec expired_spec = spec;
  expired_spec.validity = testing::Validity::expired();
  struct Case {
    const char* name;
    testing::Identity sent;
    std::string says;
  };
  const Case cases[] = {
      {"expired", pki().intermediate.issue(expired_spec).value(),
       "the client's certificate was refused: the certificate CN=ossl test client,O=ossl test "
       "expired on "},
      {"self-signed", testing::TestCa::self_signed(spec).value(),
       "the client's certificate was refused: the client sent only the self-signed certificate "
       "CN=ossl test client,O=ossl test, not one this server trusts: self-signed certificate"},
  };
  for (TlsVersion v : kVersions) {
    for (const Case& c : cases) {
      CAPTURE(to_string(v));
      CAPTURE(std::string(c.name));
      const SslCtx server =
          server_builder(v).client_ca_cert(pki().root.cert()).verify_client(true).build().value();
      SslCtx client =
          client_builder(v).client_cert(c.sent.cert).client_key(c.sent.key).build().value();
      for (const ossl::X509& cert : c.sent.chain)
        REQUIRE(client.add_chain_cert(cert).has_value());
      Attempt a = attempt(client, server);
      CHECK_FALSE(a.outcome.ok);
      REQUIRE(a.outcome.server_error.has_value());
      CHECK_MESSAGE(a.outcome.server_error->stack().summary().find(c.says) != std::string::npos,
                    a.outcome.server_error->to_string());
      CHECK(a.pair.server.verify_result().code != X509_V_OK);
    }
  }
}
