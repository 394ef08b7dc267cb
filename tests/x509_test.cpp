#include <ossl/x509.hpp>  // first: proves the header is self-contained

#include "support/free_counter.hpp"
#include "support/handshake.hpp"
#include "support/process.hpp"

#include <doctest/doctest.h>
#include <openssl/err.h>

#include <chrono>

using namespace ossl;
using namespace ossl_test;
using namespace std::literals;

TEST_CASE("a certificate round-trips through PEM and DER") {
  const ossl::X509& cert = pki().server.cert;
  auto pem = cert.to_pem().value();
  CHECK(pem.starts_with("-----BEGIN CERTIFICATE-----"));
  auto from_pem = ossl::X509::from_pem(pem).value();
  CHECK(from_pem == cert);
  auto der = cert.to_der().value();
  auto from_der = ossl::X509::from_der(der).value();
  CHECK(from_der == cert);
  CHECK(from_der.to_der().value() == der);
  auto bytes = std::as_bytes(std::span(pem.data(), pem.size()));
  CHECK(ossl::X509::from_pem(bytes).value() == cert);
}

TEST_CASE("subject, issuer, names, dates, serial and fingerprint read back") {
  const Pki& p = pki();
  const ossl::X509& cert = p.server.cert;
  CHECK(cert.subject_name().value() == "CN=localhost,O=ossl test");
  CHECK(cert.issuer_name().value() == "CN=ossl test intermediate,O=ossl test");
  CHECK(cert.common_name().value() == "localhost");
  auto sans = cert.subject_alt_names().value();
  REQUIRE(sans.size() == 2);
  CHECK(sans[0] == GeneralName{GeneralName::Type::Dns, "localhost"});
  CHECK(sans[1] == GeneralName{GeneralName::Type::Ip, "127.0.0.1"});
  const auto now = std::chrono::system_clock::now();
  CHECK(cert.not_before().value() < now);
  CHECK(cert.not_after().value() > now + std::chrono::hours(24 * 29));
  CHECK(cert.serial_hex().value().size() >= 30);
  auto fp = cert.fingerprint_sha256().value();
  CHECK(fp != std::array<std::byte, 32>{});
  CHECK(fp == ossl::X509::from_der(cert.to_der().value()).value().fingerprint_sha256().value());
  CHECK(fp != p.client.cert.fingerprint_sha256().value());
  CHECK(p.root.cert().subject_alt_names().value().empty());
}

TEST_CASE("public key and private key matching") {
  const Pki& p = pki();
  auto pub = p.server.cert.public_key().value();
  CHECK(pub.public_equals(p.server.key));
  CHECK_FALSE(pub.public_equals(p.client.key));
  CHECK(p.server.cert.check_private_key(p.server.key).has_value());
  auto mismatch = p.server.cert.check_private_key(p.client.key);
  REQUIRE_FALSE(mismatch.has_value());
  CHECK(mismatch.error().to_string().find("does not match") != std::string::npos);
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("check_host and check_ip match SANs") {
  const ossl::X509& cert = pki().server.cert;
  CHECK(cert.check_host("localhost"));
  CHECK_FALSE(cert.check_host("example.com"));
  CHECK_FALSE(cert.check_host("local\0host"sv));
  CHECK(cert.check_ip("127.0.0.1"));
  CHECK_FALSE(cert.check_ip("127.0.0.2"));
  CHECK_FALSE(cert.check_ip("not an ip"));
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("check_ip and bundle loading keep the caller's own error queue") {
  // Both pop what OpenSSL queues on their normal paths (text that is no address, the
  // end of a bundle) and nothing else: an error the caller had queued stays.
  const Pki& p = pki();
  const std::string bundle = p.server.cert.to_pem().value() + p.root.cert().to_pem().value();
  ERR_raise(ERR_LIB_USER, 77);
  CHECK_FALSE(pki().server.cert.check_ip("not an ip"));
  CHECK(ossl::X509::stack_from_pem(bundle).value().size() == 2);
  CHECK(ERR_GET_REASON(ERR_get_error()) == 77);
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("a certificate with a malformed extension parses without leaving a record queued") {
  // Found by fuzz_x509: its authority key identifier has a length that runs past the
  // extension. OpenSSL parses the certificate but flags the extension invalid when its
  // extension cache is built (which ossl does on parsing, see cache_extensions), and
  // queued "invalid certificate" for the caller to trip over.
  constexpr std::string_view kBadAkid =
      "-----BEGIN CERTIFICATE-----\n"
      "MIIB2zCCAYGgAwIBAgIQQbMuTdMDlKg9w746fmHyUTAKBggqhkjOPQQDAjAoMRIw\n"
      "EAYDVQQKDAlvc3NsIHRlc3QxEjAQBgNVBAMMCWZ1enogcm9vdDAeFw0yNjExMjMy\n"
      "MTA3MDJaFw0yNjEyMjMyMjA3MDJaMCgxEjAQBgNVBAoMCW9zc2wgdGVzdDESMBAG\n"
      "A1UEAwwJbG9jYWxob3N0MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAECUZQ2faW\n"
      "vUJHifOCyA7k0fICaVMzUnvj46sbxnViswhSO4FJhCaAXDXZ7Y7UuEXYIsrFnQQh\n"
      "X2NUHVxV7piWe6OBjDCBiTAMBgNVHRMBAf8EAjAAMA4GA1UdDwEB/wQEAwIFoDAT\n"
      "BgNVHSUEDDAKBggrBgEFBQcDATAdBgNVHQ4EFgQUJc3IqQyMoXXx/9GwSCMC4DNZ\n"
      "yGAwHwYDVR0jBBgwFoAaGTBU3BkfihdsxPP5hlEQDkTrQuowFAYDVR0RBA0wC4IJ\n"
      "bG9jYWxob3N0MAoGCCqGSM49BAMCA0gAMEUCIQDEZiGN5+wK7+kOLW2ZwSVXeFvp\n"
      "AaX8Xk6LLEHzvpwcwAIgDQDcQGddlz/s1kOllMI9xW2xiFStXQ+KbrSgNXgsa8s=\n"
      "-----END CERTIFICATE-----\n";
  auto cert = ossl::X509::from_pem(kBadAkid);
  REQUIRE(cert.has_value());
  CHECK(ERR_peek_error() == 0);
  auto again = ossl::X509::from_der(cert->to_der().value());
  REQUIRE(again.has_value());
  CHECK(ERR_peek_error() == 0);
  ERR_raise(ERR_LIB_USER, 77);  // and a record the caller had queued stays
  CHECK(ossl::X509::from_pem(kBadAkid).has_value());
  CHECK(ERR_GET_REASON(ERR_get_error()) == 77);
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("check_host on a malformed subjectAltName answers false and leaves no record queued") {
  // Found by fuzz_x509: an otherName whose length runs past its SAN. The certificate
  // parses; decoding the SAN for the name check fails inside X509_check_host, which
  // queued the ASN.1 records for the caller to trip over.
  constexpr std::string_view kBadSan =
      "-----BEGIN CERTIFICATE-----\n"
      "MIIB2zCCAYGgAwIBAgIQCYbtBu0Ztl7E7g53+Ku2WzAKBggqhkjOPQQDAjAoMRIw\n"
      "EAYDVQQKDAlvc3NsIHRlc3QxEjAQBgNVBAMMCWZ1enogcm9vdDAeFw0yNjExMjMy\n"
      "MTE5MjFaFw0yNjEyMjMyMjE5MjFaMCgxEjAQBgNVBAoMCW9zc2wgdGVzdDESMBAG\n"
      "A1UEAwwJbG9jYWxob3N0MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEXqo4zql6\n"
      "EIQ/qUa80LOm05ZDx+AVCOZr7lM/z9SNdhqqxZ2bop9nPZ2t/C5urutG4ahaIdOY\n"
      "vLo+tOkHusfWf6OBjDCBiTAMBgNVHRMBAf8EAjAAMA4GA1UdDwEB/wQEAwIFoDAT\n"
      "BgNVHSUEDDAKBggrBgEFBQcDATAdBgNVHQ4EFgQUcmxElqpantrBJk0U8TEa+BcI\n"
      "6FgwHwYDVR0jBBgwFoAUHZeRlasPIVktpGGsVcSXSKHj0iMwFAYDVR0RBA0wC4JI\n"
      "bG9jYWxob3N0MAoGCCqGSM49BAMCA0gAMEUCIDcU/mOf5ccs8HdE4Vj3zii9OwRN\n"
      "qXxFxtmXGT3VV/0VAiEAmMfMBDAjpz5QURqd1REDQzzUBS5WZn8tmV1XQX2acpY=\n"
      "-----END CERTIFICATE-----\n";
  auto cert = ossl::X509::from_pem(kBadSan);
  REQUIRE(cert.has_value());
  ERR_raise(ERR_LIB_USER, 77);  // a record the caller had queued stays, alone
  CHECK_FALSE(cert->check_host("localhost"));
  CHECK(ERR_GET_REASON(ERR_get_error()) == 77);
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("a PEM bundle loads into a vector in order") {
  const Pki& p = pki();
  std::string bundle = p.server.cert.to_pem().value() + p.intermediate.cert().to_pem().value() +
                       p.root.cert().to_pem().value();
  auto certs = ossl::X509::stack_from_pem(bundle).value();
  REQUIRE(certs.size() == 3);
  CHECK(certs[0] == p.server.cert);
  CHECK(certs[1] == p.intermediate.cert());
  CHECK(certs[2] == p.root.cert());
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("bad certificate input is a clear error and leaves the queue empty") {
  const std::string pem = pki().server.cert.to_pem().value();
  const auto der = pki().server.cert.to_der().value();
  auto trailing = der;
  trailing.push_back(std::byte{1});
  auto cut = der;
  cut.resize(der.size() - 10);
  struct Case {
    const char* name;
    Result<ossl::X509> result;
    const char* expect;
  };
  Case cases[] = {
      {"empty PEM", ossl::X509::from_pem(""sv), "empty input"},
      {"garbage PEM", ossl::X509::from_pem("hello world"sv), "no valid PEM certificate"},
      {"truncated PEM", ossl::X509::from_pem(std::string_view(pem).substr(0, pem.size() / 2)),
       "no valid PEM certificate"},
      {"empty DER", ossl::X509::from_der({}), "empty input"},
      {"truncated DER", ossl::X509::from_der(cut), "X509::from_der"},
      {"trailing DER", ossl::X509::from_der(trailing), "1 trailing bytes"},
      {"null adopt", ossl::X509::adopt(nullptr), "X509::adopt: null pointer"},
  };
  for (auto& c : cases) {
    CAPTURE(c.name);
    REQUIRE_FALSE(c.result.has_value());
    CHECK_MESSAGE(c.result.error().to_string().find(c.expect) != std::string::npos,
                  c.result.error().to_string());
  }
  auto bundle = ossl::X509::stack_from_pem(
      pem + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
  REQUIRE_FALSE(bundle.has_value());
  CHECK(bundle.error().to_string().find("malformed certificate #2") != std::string::npos);
  auto none = ossl::X509::stack_from_pem("no certificates here");
  REQUIRE_FALSE(none.has_value());
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("X509 copies share one certificate and free it once") {
  static const int idx = free_counter_index(CRYPTO_EX_INDEX_X509);
  int frees = 0;
  {
    auto a = ossl::X509::from_der(pki().root.cert().to_der().value()).value();
    REQUIRE(X509_set_ex_data(a.native_handle(), idx, &frees) == 1);
    ossl::X509 b = a;
    ossl::X509 c;
    c = b;
    CHECK(c.native_handle() == a.native_handle());
    a = ossl::X509();
    b = ossl::X509();
    CHECK(frees == 0);
  }
  CHECK(frees == 1);
  ::X509* raw = X509_dup(pki().root.cert().native_handle());
  auto shared = ossl::X509::share(raw);  // adds a reference; the caller frees its own
  X509_free(raw);
  REQUIRE(shared.has_value());
  CHECK(*shared == pki().root.cert());
  CHECK_FALSE(ossl::X509::share(nullptr).has_value());
  ossl::X509 empty;
  CHECK_FALSE(empty.to_pem().has_value());
  CHECK(empty.subject_name().error().to_string().find("empty X509") != std::string::npos);
}

TEST_CASE(
    "certificate files: the first certificate, every certificate, and what a file holds instead") {
  const Pki& p = pki();
  TempDir dir;
  const std::string leaf = p.server.cert.to_pem().value();
  const std::string chain = leaf + p.intermediate.cert().to_pem().value();
  const std::string fullchain = dir.write("fullchain.pem", chain);

  // from_pem_file reads the first certificate only; stack_from_pem_file reads them all.
  CHECK(ossl::X509::from_pem_file(fullchain).value().to_pem().value() == leaf);
  auto all = ossl::X509::stack_from_pem_file(fullchain);
  REQUIRE_MESSAGE(all.has_value(), all.error().to_string());
  REQUIRE(all->size() == 2);
  CHECK(all->at(1).to_der().value() == p.intermediate.cert().to_der().value());

  const auto der = p.server.cert.to_der().value();
  struct Case {
    std::string name;
    std::string path;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"a missing file", dir.path("missing.pem"), "No such file"},
      {"an empty file", dir.write("empty.pem", ""), "empty file"},
      {"a key file", dir.write("key.pem", p.server.key.to_pem().value()),
       "holds a PRIVATE KEY block, not a certificate"},
      {"two keys",
       dir.write("keys.pem", p.server.key.to_pem().value() + p.client.key.to_pem().value()),
       "holds 2 PEM blocks (PRIVATE KEY, PRIVATE KEY), none a certificate"},
      {"a DER file",
       dir.write("cert.der",
                 std::string_view(reinterpret_cast<const char*>(der.data()), der.size())),
       "holds no PEM block"},
      {"a damaged certificate",
       dir.write("damaged.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
       "damaged.pem"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    for (bool stack : {false, true}) {
      CAPTURE(stack);
      const ErrorStack e = stack ? ossl::X509::stack_from_pem_file(c.path).error()
                                 : ossl::X509::from_pem_file(c.path).error();
      const std::string text = e.to_string();
      CHECK_MESSAGE(text.find(c.path) != std::string::npos, text);
      CHECK_MESSAGE(text.find(c.says) != std::string::npos, text);
      CHECK_MESSAGE(text.find(stack ? "X509::stack_from_pem_file" : "X509::from_pem_file") !=
                        std::string::npos,
                    text);
    }
  }
  CHECK(ERR_peek_error() == 0);
}
