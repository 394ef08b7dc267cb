#include <ossl/ocsp.hpp>  // first: proves the header is self-contained

#include "support/handshake.hpp"
#include "support/openssl_ca.hpp"
#include "support/process.hpp"

#include <doctest/doctest.h>
#include <openssl/ocsp.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

using namespace ossl;
using namespace ossl_test;

namespace {

using Bytes = std::vector<std::byte>;

// The PKI of these tests: the shared root and intermediate; leaves issued here.
testing::Identity leaf(bool must_staple = false, testing::Usage usage = testing::Usage::Server) {
  testing::LeafSpec spec;
  spec.dns_names = {"localhost"};
  spec.must_staple = must_staple;
  spec.usage = usage;
  return pki().intermediate.issue(spec).value();
}

SslCtxBuilder<Server> server_for(const testing::Identity& id, TlsVersion v) {
  return std::move(SslCtxBuilder<Server>::create()
                       .max_proto_version(v)
                       .certificate(id.cert)
                       .add_chain_cert(pki().intermediate.cert())
                       .private_key(id.key));
}

// A server that staples whatever bytes it is given, checked or not, as a misconfigured
// or hostile server would: ossl's status slot of the built context is taken over.
struct RawStapler {
  Bytes der;
  static int callback(SSL* ssl, void* arg) {
    const Bytes& der = static_cast<RawStapler*>(arg)->der;
    auto* copy = static_cast<unsigned char*>(OPENSSL_malloc(der.size()));
    std::memcpy(copy, der.data(), der.size());
    SSL_set_tlsext_status_ocsp_resp(ssl, copy, static_cast<long>(der.size()));
    return SSL_TLSEXT_ERR_OK;
  }
};

SslCtx raw_stapling_server(const testing::Identity& id, TlsVersion v, RawStapler* stapler) {
  SslCtx ctx = server_for(id, v).build().value();
  if (stapler != nullptr) {
    SSL_CTX_set_tlsext_status_cb(ctx.native_handle(), RawStapler::callback);
    SSL_CTX_set_tlsext_status_arg(ctx.native_handle(), stapler);
  }
  return ctx;
}

std::string describe(const Attempt& a) {
  return a.outcome.describe() +
         " | verify_result: " + std::string(a.pair.client.verify_result().message());
}

}  // namespace

TEST_CASE("OCSP client: stapled responses from `openssl ocsp` and in-process, under each policy") {
  const testing::Identity good = leaf();
  const testing::Identity revoked = leaf();
  const testing::Identity unknown = leaf();
  const testing::Identity must = leaf(true);
  const testing::Identity delegate = leaf(false, testing::Usage::OcspSigning);
  const testing::Identity not_authorised = leaf();  // serverAuth only, not OCSPSigning

  OpensslCa ca(pki().intermediate);
  ca.add_valid(good.cert);
  ca.add_valid(must.cert);
  ca.revoke(revoked.cert, "keyCompromise");
  ca.start_responder();
  const Bytes good_by_ca = ca.fetch(good.cert);
  const Bytes must_good = ca.fetch(must.cert);
  const Bytes revoked_resp = ca.fetch(revoked.cert);
  const Bytes unknown_resp = ca.fetch(unknown.cert);
  ca.start_responder(&delegate);
  const Bytes good_by_delegate = ca.fetch(good.cert);
  ca.start_responder(&not_authorised);
  const Bytes good_by_stranger = ca.fetch(good.cert);
  const Bytes expired =
      pki()
          .intermediate
          .issue_ocsp_response(good.cert, testing::OcspStatus::Good, testing::Validity::expired())
          .value();
  const Bytes future = pki()
                           .intermediate
                           .issue_ocsp_response(good.cert, testing::OcspStatus::Good,
                                                testing::Validity::not_yet_valid())
                           .value();
  const Bytes garbage = {std::byte{0x30}, std::byte{0x03}, std::byte{1}, std::byte{2}};

  struct Case {
    const char* name;
    const testing::Identity* server;
    const Bytes* staple;  // null: nothing stapled
    OcspPolicy policy;
    long expect;
    const char* reason;  // in verify_result().message() and the handshake error
  };
  const Case cases[] = {
      {"good, signed by the CA", &good, &good_by_ca, OcspPolicy::IfStapled, X509_V_OK, ""},
      {"good, delegated responder", &good, &good_by_delegate, OcspPolicy::Required, X509_V_OK, ""},
      {"revoked", &revoked, &revoked_resp, OcspPolicy::IfStapled, X509_V_ERR_CERT_REVOKED,
       "is revoked (reason: keyCompromise"},
      {"unknown", &unknown, &unknown_resp, OcspPolicy::IfStapled, X509_V_ERR_OCSP_CERT_UNKNOWN,
       "does not know the server certificate"},
      {"expired response", &good, &expired, OcspPolicy::IfStapled, X509_V_ERR_OCSP_VERIFY_FAILED,
       "is stale: its nextUpdate"},
      {"response not yet valid", &good, &future, OcspPolicy::IfStapled,
       X509_V_ERR_OCSP_VERIFY_FAILED, "is not yet valid"},
      {"response for another certificate", &revoked, &good_by_ca, OcspPolicy::Required,
       X509_V_ERR_OCSP_VERIFY_FAILED, "is about another certificate"},
      {"responder not authorised", &good, &good_by_stranger, OcspPolicy::IfStapled,
       X509_V_ERR_OCSP_VERIFY_FAILED, "not signed by the certificate's issuer"},
      {"garbage staple", &good, &garbage, OcspPolicy::Required, X509_V_ERR_OCSP_VERIFY_FAILED,
       "not a DER OCSP response"},
      {"no staple, if stapled", &good, nullptr, OcspPolicy::IfStapled, X509_V_OK, ""},
      {"no staple, required", &good, nullptr, OcspPolicy::Required, X509_V_ERR_OCSP_VERIFY_NEEDED,
       "stapled no OCSP response, and this client requires one"},
      {"revoked staple, policy off", &revoked, &revoked_resp, OcspPolicy::Off, X509_V_OK, ""},
      {"must-staple without a staple, policy off", &must, nullptr, OcspPolicy::Off,
       X509_V_ERR_OCSP_VERIFY_NEEDED, "is must-staple"},
      {"must-staple with a good staple, policy off", &must, &must_good, OcspPolicy::Off, X509_V_OK,
       ""},
  };
  for (TlsVersion v : kVersions) {
    for (const Case& c : cases) {
      CAPTURE(to_string(v));
      CAPTURE(std::string(c.name));
      RawStapler stapler{c.staple != nullptr ? *c.staple : Bytes{}};
      const SslCtx server = raw_stapling_server(*c.server, v, c.staple ? &stapler : nullptr);
      const SslCtx client = client_builder(v).ocsp_stapling(c.policy).build().value();
      Attempt a = attempt(client, server);
      CHECK_MESSAGE(a.outcome.ok == (c.expect == X509_V_OK), describe(a));
      long expect = c.expect;
      std::string reason = c.reason;
      if (c.staple != nullptr && c.policy == OcspPolicy::Required &&
          a.pair.client.ocsp_response().empty()) {
        // OpenSSL 4.0's server parses what it staples and withholds a response that is
        // not DER or not about its certificate: the client then sees no staple at all,
        // which Required refuses too.
        expect = X509_V_ERR_OCSP_VERIFY_NEEDED;
        reason = "stapled no OCSP response";
      }
      CHECK(a.pair.client.verify_result().code == expect);
      if (c.expect != X509_V_OK) {
        CHECK(std::string(a.pair.client.verify_result().message()).find(reason) !=
              std::string::npos);
        CHECK(a.outcome.describe().find(reason) != std::string::npos);
      } else if (c.staple != nullptr) {
        CHECK(a.pair.client.ocsp_response() == *c.staple);  // it was there, and it passed
      }
    }
  }
}

TEST_CASE("OCSP server: a checked staple reaches clients that ask, per certificate, replaceable") {
  const testing::Identity first = leaf();
  testing::LeafSpec sni_spec;
  sni_spec.dns_names = {"sni.example"};
  const testing::Identity sni = pki().intermediate.issue(sni_spec).value();
  const Bytes first_good =
      pki().intermediate.issue_ocsp_response(first.cert, testing::OcspStatus::Good).value();
  const Bytes sni_good =
      pki().intermediate.issue_ocsp_response(sni.cert, testing::OcspStatus::Good).value();
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    SslCtx server = server_for(first, v)
                        .sni_certificate("sni.example", sni.cert, sni.key,
                                         std::vector<ossl::X509>{pki().intermediate.cert()})
                        .ocsp_response(first_good)
                        .build()
                        .value();
    REQUIRE(server.set_ocsp_response(sni_good).has_value());  // found by its CertID
    const SslCtx client = client_builder(v).ocsp_stapling(OcspPolicy::Required).build().value();
    CHECK(make_pair(client, server).client.ocsp_response().empty());  // before the handshake
    Attempt a = attempt(client, server);
    CHECK_MESSAGE(a.outcome.ok, describe(a));
    CHECK(a.pair.client.ocsp_response() == first_good);  // received
    CHECK(a.pair.server.ocsp_response() == first_good);  // sent
    Attempt b = attempt(client, server, ConnectOptions{.host = "sni.example"});
    CHECK_MESSAGE(b.outcome.ok, describe(b));
    CHECK(b.pair.client.ocsp_response() == sni_good);
    // Replaced on the live context: the next handshake gets the new one.
    const Bytes newer = pki()
                            .intermediate
                            .issue_ocsp_response(first.cert, testing::OcspStatus::Good,
                                                 testing::Validity::days_from_now(2))
                            .value();
    REQUIRE(server.set_ocsp_response(newer).has_value());
    Attempt c = attempt(client, server);
    CHECK(c.outcome.ok);
    CHECK(c.pair.client.ocsp_response() == newer);
    // A client that does not ask gets nothing (OpenSSL's client asks only when told to).
    const SslCtx raw_client = SslCtx::new_client().value();
    Pair raw = make_pair(raw_client, server);
    REQUIRE(complete_handshake(raw).ok);
    CHECK(raw.client.ocsp_response().empty());
  }
}

TEST_CASE(
    "OCSP server: stale, foreign, revoked, unknown or broken responses are refused when set") {
  const testing::Identity id = leaf();
  const testing::Identity other = leaf();
  auto response = [](const ossl::X509& cert, testing::OcspStatus status,
                     testing::Validity validity = testing::Validity::days_from_now(1)) {
    return pki().intermediate.issue_ocsp_response(cert, status, validity).value();
  };
  OCSP_RESPONSE* unauthorized = OCSP_response_create(OCSP_RESPONSE_STATUS_UNAUTHORIZED, nullptr);
  unsigned char* unauth_der = nullptr;
  const int unauth_len = i2d_OCSP_RESPONSE(unauthorized, &unauth_der);
  REQUIRE(unauth_len > 0);
  const Bytes unauthorized_bytes(reinterpret_cast<std::byte*>(unauth_der),
                                 reinterpret_cast<std::byte*>(unauth_der) + unauth_len);
  OPENSSL_free(unauth_der);
  OCSP_RESPONSE_free(unauthorized);
  struct Case {
    const char* name;
    Bytes der;
    const char* says;
  };
  const Case cases[] = {
      {"stale", response(id.cert, testing::OcspStatus::Good, testing::Validity::expired()),
       "is stale: its nextUpdate"},
      {"not yet valid",
       response(id.cert, testing::OcspStatus::Good, testing::Validity::not_yet_valid()),
       "is not yet valid"},
      {"another certificate", response(other.cert, testing::OcspStatus::Good),
       "not for any certificate this context serves"},
      {"revoked", response(id.cert, testing::OcspStatus::Revoked),
       "revoked (reason: keyCompromise"},
      {"unknown", response(id.cert, testing::OcspStatus::Unknown), "unknown to the responder"},
      {"not successful", unauthorized_bytes, "answered \"unauthorized\""},
      {"garbage", Bytes{std::byte{1}, std::byte{2}, std::byte{3}}, "not a DER OCSP response"},
  };
  SslCtx server = server_for(id, TlsVersion::Tls13).build().value();
  for (const Case& c : cases) {
    CAPTURE(std::string(c.name));
    auto r = server.set_ocsp_response(c.der);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().to_string().find(c.says) != std::string::npos);
    CHECK(r.error().to_string().find("SslCtx::set_ocsp_response") != std::string::npos);
  }
  auto missing = server.set_ocsp_response_file("/nonexistent/resp.der");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().to_string().find("/nonexistent/resp.der") != std::string::npos);
  auto built = server_for(id, TlsVersion::Tls13).ocsp_response(cases[0].der).build();
  REQUIRE_FALSE(built.has_value());
  CHECK(built.error().to_string().find("is stale") != std::string::npos);
}

TEST_CASE("a context that asks for no staple is not held to must-staple by a CRL-only policy") {
  // A raw client context gets a verification policy only for SslCtx::set_crls(); it sends
  // no status_request, so a must-staple server cannot staple and must not be refused.
  const testing::Identity must = leaf(true);
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    SslCtx client = SslCtx::new_client().value();
    REQUIRE(client.add_trusted_cert(pki().root.cert()).has_value());
    client.set_verify(SslVerifyMode::PEER);
    REQUIRE(client.set_crls({pki().intermediate.issue_crl({}).value()}).has_value());
    Attempt a = attempt(client, server_for(must, v).build().value());
    CHECK_MESSAGE(a.outcome.ok, describe(a));
    CHECK(a.pair.client.verify_result().ok());
  }
}
