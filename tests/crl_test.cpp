#include <ossl/crl.hpp>  // first: proves the header is self-contained

#include "support/handshake.hpp"
#include "support/openssl_ca.hpp"
#include "support/process.hpp"

#include <doctest/doctest.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

using namespace ossl;
using namespace ossl_test;

namespace {

using Clock = std::chrono::system_clock;

X509Crl crl_of(const testing::TestCa& ca, std::vector<ossl::X509> revoked,
               testing::Validity validity = testing::Validity::days_from_now(7), int reason = 1) {
  return ca.issue_crl(revoked, validity, reason).value();
}

std::string describe(const Attempt& a) {
  return a.outcome.describe() +
         " | verify_result: " + std::string(a.pair.client.verify_result().message());
}

}  // namespace

// ------------------------------------------------------------------ X509Crl

TEST_CASE("X509Crl: PEM, DER, bundles and files round-trip; bad input is an error") {
  const X509Crl crl = crl_of(pki().intermediate, {pki().server.cert});
  const std::string pem = crl.to_pem().value();
  const std::vector<std::byte> der = crl.to_der().value();
  CHECK(X509Crl::from_pem(pem).value().to_der().value() == der);
  CHECK(X509Crl::from_der(der).value().to_der().value() == der);
  CHECK(crl.lists(pki().server.cert));
  CHECK_FALSE(crl.lists(pki().client.cert));
  CHECK(crl.issuer_name().value() == pki().intermediate.cert().subject_name().value());
  const auto next = crl.next_update().value();
  REQUIRE(next.has_value());
  CHECK(*next > Clock::now() + std::chrono::hours(24 * 6));
  CHECK(crl.last_update().value() < Clock::now());

  const X509Crl other = crl_of(pki().root, {});
  auto both = X509Crl::stack_from_pem(pem + other.to_pem().value()).value();
  REQUIRE(both.size() == 2);
  CHECK(both[1].to_der().value() == other.to_der().value());

  TempDir dir;
  {
    std::ofstream(dir.path("crls.pem")) << pem << other.to_pem().value();
    std::ofstream(dir.path("crl.der"), std::ios::binary)
        .write(reinterpret_cast<const char*>(der.data()), static_cast<std::streamsize>(der.size()));
    std::ofstream(dir.path("garbage")) << "not a CRL";
  }
  CHECK(X509Crl::load_file(dir.path("crls.pem")).value().size() == 2);
  CHECK(X509Crl::load_file(dir.path("crl.der")).value().front().to_der().value() == der);

  struct Bad {
    const char* name;
    Result<std::vector<X509Crl>> result;
    std::string names;
  };
  Bad bad[] = {
      {"missing file", X509Crl::load_file(dir.path("missing.pem")), dir.path("missing.pem")},
      {"garbage file", X509Crl::load_file(dir.path("garbage")), dir.path("garbage")},
      {"no PEM block", X509Crl::stack_from_pem("hello"), "no valid PEM CRL"},
      {"second block cut", X509Crl::stack_from_pem(pem + pem.substr(0, pem.size() / 2)),
       "malformed CRL #2"},
  };
  for (const Bad& b : bad) {
    CAPTURE(std::string(b.name));
    REQUIRE_FALSE(b.result.has_value());
    CHECK(b.result.error().to_string().find(b.names) != std::string::npos);
  }
  std::vector<std::byte> trailing = der;
  trailing.push_back(std::byte{0});
  auto t = X509Crl::from_der(trailing);
  REQUIRE_FALSE(t.has_value());
  CHECK(t.error().to_string().find("trailing") != std::string::npos);
  CHECK_FALSE(X509Crl::from_pem("").has_value());
}

// ------------------------------------------------------------ revocation in handshakes

TEST_CASE("CRLs: a revoked server certificate fails with OpenSSL's code and the CRL's reason") {
  const X509Crl leaf_revoked =
      crl_of(pki().intermediate, {pki().server.cert}, testing::Validity::days_from_now(7), 1);
  const X509Crl none_revoked = crl_of(pki().intermediate, {});
  const X509Crl root_none = crl_of(pki().root, {});
  const X509Crl intermediate_revoked =
      crl_of(pki().root, {pki().intermediate.cert()}, testing::Validity::days_from_now(7), 2);
  const X509Crl expired = crl_of(pki().intermediate, {}, testing::Validity::expired());
  struct Case {
    const char* name;
    std::vector<X509Crl> crls;
    std::optional<CrlCheck> scope;
    long expect;
    const char* reason;  // in verify_result().message() and the error, when revoked
  };
  const Case cases[] = {
      {"leaf listed",
       {leaf_revoked},
       std::nullopt,
       X509_V_ERR_CERT_REVOKED,
       "(reason: keyCompromise"},
      {"leaf not listed", {none_revoked}, std::nullopt, X509_V_OK, ""},
      {"intermediate listed, leaf-only check",
       {none_revoked, intermediate_revoked},
       CrlCheck::Leaf,
       X509_V_OK,
       ""},
      {"intermediate listed, chain check",
       {none_revoked, intermediate_revoked},
       CrlCheck::Chain,
       X509_V_ERR_CERT_REVOKED,
       "(reason: cACompromise"},
      {"chain check, the root's CRL missing",
       {none_revoked},
       CrlCheck::Chain,
       X509_V_ERR_UNABLE_TO_GET_CRL,
       ""},
      {"chain check, all clean", {none_revoked, root_none}, CrlCheck::Chain, X509_V_OK, ""},
      {"the leaf issuer's CRL missing",
       {root_none},
       std::nullopt,
       X509_V_ERR_UNABLE_TO_GET_CRL,
       ""},
      {"expired CRL", {expired}, std::nullopt, X509_V_ERR_CRL_HAS_EXPIRED, ""},
  };
  for (TlsVersion v : kVersions) {
    const SslCtx server = server_builder(v).build().value();
    for (const Case& c : cases) {
      CAPTURE(to_string(v));
      CAPTURE(std::string(c.name));
      auto builder = client_builder(v);
      for (const X509Crl& crl : c.crls)
        builder.crl(crl);
      if (c.scope) builder.crl_check(*c.scope);
      const SslCtx client = std::move(builder).build().value();
      Attempt a = attempt(client, server);
      CHECK_MESSAGE(a.outcome.ok == (c.expect == X509_V_OK), describe(a));
      CHECK(a.pair.client.verify_result().code == c.expect);
      if (c.expect == X509_V_ERR_CERT_REVOKED) {
        const std::string message(a.pair.client.verify_result().message());
        CHECK(message.find(c.reason) != std::string::npos);
        CHECK(message.find("is revoked") != std::string::npos);
        CHECK(message.find("certificate revoked") != std::string::npos);  // OpenSSL's text
        CHECK(a.outcome.describe().find(c.reason) != std::string::npos);
      }
    }
  }
}

TEST_CASE("CRLs from `openssl ca`: crl_file loads them; revoked refused, the rest accepted") {
  OpensslCa ca(pki().intermediate);
  testing::LeafSpec spec;
  spec.dns_names = {"localhost"};
  const testing::Identity good = pki().intermediate.issue(spec).value();
  ca.add_valid(good.cert);
  ca.revoke(pki().server.cert, "superseded");
  const std::string crl = ca.gencrl();
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    const SslCtx client = client_builder(v).crl_file(crl).build().value();
    Attempt revoked = attempt(client, server_builder(v).build().value());
    CHECK_FALSE(revoked.outcome.ok);
    CHECK(revoked.pair.client.verify_result().code == X509_V_ERR_CERT_REVOKED);
    CHECK(std::string(revoked.pair.client.verify_result().message()).find("superseded") !=
          std::string::npos);
    const SslCtx good_server = SslCtxBuilder<Server>::create()
                                   .max_proto_version(v)
                                   .certificate(good.cert)
                                   .add_chain_cert(pki().intermediate.cert())
                                   .private_key(good.key)
                                   .build()
                                   .value();
    Attempt accepted = attempt(client, good_server);
    CHECK_MESSAGE(accepted.outcome.ok, describe(accepted));
  }
}

TEST_CASE("CRLs: a new list set on a live context applies to the next handshake") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    SslCtx client = client_builder(v).crl(crl_of(pki().intermediate, {})).build().value();
    const SslCtx server = server_builder(v).build().value();
    Pair first = connect(client, server);
    read_tickets(first.client);
    const SslSession before = first.client.get1_session().value();
    // The control: before the update, the session resumes.
    CHECK(connect(client, server, ConnectOptions{.session = before}).client.session_reused());
    const testing::Validity fresher{Clock::now() - std::chrono::minutes(30),
                                    Clock::now() + std::chrono::hours(24)};
    REQUIRE(
        client.set_crls({crl_of(pki().intermediate, {pki().server.cert}, fresher)}).has_value());
    Attempt a = attempt(client, server);
    CHECK_FALSE(a.outcome.ok);
    CHECK(a.pair.client.verify_result().code == X509_V_ERR_CERT_REVOKED);
    // A session verified under the old list is not resumed past the revocation.
    auto ssl = client.new_ssl_for_host("localhost").value();
    CHECK_FALSE(ssl.set_session(before).has_value());
    // An empty list: the leaf's issuer then has no CRL, which leaf checking refuses.
    REQUIRE(client.set_crls({}).has_value());
    CHECK(attempt(client, server).pair.client.verify_result().code == X509_V_ERR_UNABLE_TO_GET_CRL);
  }
}

TEST_CASE("CRL builder steps: misuse is an error naming the step") {
  auto no_crl = client_builder().crl_check(CrlCheck::Chain).build();
  REQUIRE_FALSE(no_crl.has_value());
  CHECK(no_crl.error().to_string().find("crl_check() without a CRL") != std::string::npos);
  auto missing = client_builder().crl_file("/nonexistent/crl.pem").build();
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().to_string().find("crl_file") != std::string::npos);
  CHECK(missing.error().to_string().find("/nonexistent/crl.pem") != std::string::npos);
  auto empty = client_builder().crl(X509Crl()).build();
  REQUIRE_FALSE(empty.has_value());
  CHECK(empty.error().to_string().find("empty CRL") != std::string::npos);
}

TEST_CASE("X509Crl: a CRL entry extension that does not decode leaves no record behind") {
  // Found by fuzz_ocsp: OpenSSL keeps such a CRL (its entries are decoded lazily), but
  // the failed decode queued a record that the bundle reader used to leave on the queue.
  std::vector<std::byte> der = crl_of(pki().intermediate, {pki().server.cert}).to_der().value();
  // The reason code extension's value: OCTET STRING { ENUMERATED 1 }; the ENUMERATED tag
  // becomes a constructed one.
  const std::byte reason[] = {std::byte{0x04}, std::byte{0x03}, std::byte{0x0a}, std::byte{0x01},
                              std::byte{0x01}};
  auto at = std::search(der.begin(), der.end(), std::begin(reason), std::end(reason));
  REQUIRE(at != der.end());
  at[2] = std::byte{0x2a};
  BIO* mem = BIO_new(BIO_s_mem());
  REQUIRE(PEM_write_bio(mem, "X509 CRL", "", reinterpret_cast<const unsigned char*>(der.data()),
                        static_cast<long>(der.size())) > 0);
  char* text = nullptr;
  const long n = BIO_get_mem_data(mem, &text);
  const std::string pem(text, static_cast<std::size_t>(n));
  BIO_free(mem);
  REQUIRE(ERR_peek_error() == 0);
  (void)X509Crl::from_der(der);
  CHECK(ERR_peek_error() == 0);
  (void)X509Crl::from_pem(pem);
  CHECK(ERR_peek_error() == 0);
  (void)X509Crl::stack_from_pem(pem + pem);
  CHECK(ERR_peek_error() == 0);
  ERR_clear_error();
}
