#include <ossl/pkey.hpp>  // first: proves the header is self-contained

#include "support/free_counter.hpp"
#include "support/process.hpp"

#include <doctest/doctest.h>
#include <openssl/err.h>

#include <string>
#include <vector>

using namespace ossl;
using namespace ossl_test;
using namespace std::literals;

// HasPrivate gates signing steps at compile time.
static_assert(HasPrivate<Private> && !HasPrivate<Public>);
template <class K>
concept CanEncrypt = requires(const Pkey<K>& k) {
  k.to_pem_encrypted("x");
};
static_assert(CanEncrypt<Private> && !CanEncrypt<Public>);

TEST_CASE("keys of every supported type generate and round-trip through PEM and DER") {
  struct Case {
    const char* name;
    Result<Pkey<Private>> key;
    std::string_view type;
    int bits;
  };
  Case cases[] = {
      {"P-256", Pkey<Private>::generate_ec(EcCurve::P256), "EC", 256},
      {"P-384", Pkey<Private>::generate_ec(EcCurve::P384), "EC", 384},
      {"Ed25519", Pkey<Private>::generate_ed25519(), "ED25519", 256},
      {"RSA-2048", Pkey<Private>::generate_rsa(2048), "RSA", 2048},
  };
  for (auto& c : cases) {
    CAPTURE(c.name);
    REQUIRE(c.key.has_value());
    const Pkey<Private>& key = *c.key;
    CHECK(key.type_name() == c.type);
    CHECK(key.bits() == c.bits);

    auto pem = key.to_pem().value();
    CHECK(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    CHECK(Pkey<Private>::from_pem(pem).value().public_equals(key));

    auto der = key.to_der().value();
    CHECK(Pkey<Private>::from_der(der).value().public_equals(key));

    auto pub = key.public_key().value();
    CHECK(pub.public_equals(key));
    auto pub_pem = pub.to_pem().value();
    CHECK(pub_pem.starts_with("-----BEGIN PUBLIC KEY-----"));
    CHECK(Pkey<Public>::from_pem(pub_pem).value().public_equals(key));
    CHECK(Pkey<Public>::from_der(pub.to_der().value()).value().public_equals(key));
  }
}

TEST_CASE("an encrypted private key needs the right passphrase") {
  auto key = Pkey<Private>::generate_ec(EcCurve::P256).value();
  auto pem = key.to_pem_encrypted("correct horse").value();
  CHECK(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
  CHECK(Pkey<Private>::from_pem_passphrase(pem, "correct horse").value().public_equals(key));

  auto wrong = Pkey<Private>::from_pem_passphrase(pem, "wrong");
  REQUIRE_FALSE(wrong.has_value());
  CHECK(wrong.error().to_string().find("wrong passphrase") != std::string::npos);
  auto none = Pkey<Private>::from_pem(pem);  // never prompts on the terminal
  REQUIRE_FALSE(none.has_value());
  CHECK(none.error().to_string().find("use from_pem_passphrase") != std::string::npos);
  auto huge = Pkey<Private>::from_pem_passphrase(pem, std::string(5000, 'p'));
  REQUIRE_FALSE(huge.has_value());
  CHECK(huge.error().to_string().find("passphrase longer") != std::string::npos);
  auto empty = key.to_pem_encrypted("");
  REQUIRE_FALSE(empty.has_value());
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("bad key input is a clear error and leaves the queue empty") {
  auto key = Pkey<Private>::generate_ec(EcCurve::P256).value();
  auto pem = key.to_pem().value();
  auto der = key.to_der().value();
  auto trailing = der;
  trailing.push_back(std::byte{0});
  auto pub_pem = key.public_key().value().to_pem().value();
  struct Case {
    const char* name;
    ErrorStack error;
    const char* expect;
  };
  auto err = [](auto r) { return r.has_value() ? ErrorStack() : r.error(); };
  Case cases[] = {
      {"empty PEM", err(Pkey<Private>::from_pem(""sv)), "empty input"},
      {"garbage PEM", err(Pkey<Private>::from_pem("garbage"sv)), "no PEM private key found"},
      {"truncated PEM", err(Pkey<Private>::from_pem(std::string_view(pem).substr(0, 60))),
       "no PEM private key found"},
      {"public PEM as private", err(Pkey<Private>::from_pem(pub_pem)), "no PEM private key"},
      {"private PEM as public", err(Pkey<Public>::from_pem(pem)), "no PEM public key found"},
      {"garbage DER", err(Pkey<Private>::from_der(std::vector<std::byte>(16, std::byte{7}))),
       "from_der"},
      {"trailing DER", err(Pkey<Private>::from_der(trailing)), "1 trailing bytes"},
      {"weak RSA", err(Pkey<Private>::generate_rsa(1024)), "too weak"},
      {"null adopt", err(Pkey<Private>::adopt(nullptr)), "Pkey<Private>::adopt: null pointer"},
  };
  for (auto& c : cases) {
    CAPTURE(c.name);
    REQUIRE_FALSE(c.error.empty());
    CHECK_MESSAGE(c.error.to_string().find(c.expect) != std::string::npos, c.error.to_string());
  }
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("Pkey copies share one EVP_PKEY and free it once") {
  static const int idx = ossl_test::free_counter_index(CRYPTO_EX_INDEX_EVP_PKEY);
  int frees = 0;
  {
    auto a = Pkey<Private>::generate_ed25519().value();
    REQUIRE(EVP_PKEY_set_ex_data(a.native_handle(), idx, &frees) == 1);
    Pkey<Private> b = a;
    CHECK(b.native_handle() == a.native_handle());
    a = Pkey<Private>();
    CHECK(frees == 0);
    CHECK(b.bits() == 256);
  }
  CHECK(frees == 1);
  EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  REQUIRE(raw != nullptr);
  auto shared = Pkey<Private>::share(raw);
  EVP_PKEY_free(raw);
  REQUIRE(shared.has_value());
  CHECK(shared->type_name() == "ED25519");
  EVP_PKEY* released = shared->release();
  CHECK_FALSE(*shared);
  EVP_PKEY_free(released);
  Pkey<Public> empty;
  CHECK(empty.bits() == 0);
  CHECK_FALSE(empty.to_der().has_value());
}

TEST_CASE("a public key cannot become a Pkey<Private> through adopt or share") {
  auto key = Pkey<Private>::generate_ec(EcCurve::P256).value();
  const Pkey<Public> pub = key.public_key().value();
  auto shared = Pkey<Private>::share(pub.native_handle());
  REQUIRE_FALSE(shared.has_value());
  CHECK(shared.error().to_string().find("no private component") != std::string::npos);
  EVP_PKEY* raw = pub.native_handle();
  REQUIRE(EVP_PKEY_up_ref(raw) == 1);  // adopt consumes this reference, error or not
  auto adopted = Pkey<Private>::adopt(raw);
  REQUIRE_FALSE(adopted.has_value());
  CHECK(adopted.error().to_string().find("no private component") != std::string::npos);
  CHECK(ERR_peek_error() == 0);
  // Private keys of every type still pass, and public ones may always be Pkey<Public>.
  for (auto k :
       {Pkey<Private>::generate_ec(EcCurve::P384).value(),
        Pkey<Private>::generate_ed25519().value(), Pkey<Private>::generate_rsa(2048).value()}) {
    CAPTURE(k.type_name());
    CHECK(Pkey<Private>::share(k.native_handle()).has_value());
    CHECK(Pkey<Public>::share(k.native_handle()).has_value());
  }
  CHECK(Pkey<Public>::share(pub.native_handle()).has_value());
}

TEST_CASE(
    "key files: plain, combined with a certificate, encrypted, and what a file holds instead") {
  TempDir dir;
  auto key = Pkey<Private>::generate_ec(EcCurve::P256).value();
  const std::string key_pem = key.to_pem().value();
  const std::string public_pem = key.public_key().value().to_pem().value();
  const std::string plain = dir.write("plain.key", key_pem);
  // A certificate-shaped block first, as in a combined PEM file: the key is still found.
  const std::string combined = dir.write(
      "combined.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" + key_pem);
  const std::string encrypted = dir.write("encrypted.key", key.to_pem_encrypted("pw").value());
  const std::string pub = dir.write("public.pem", public_pem);

  CHECK(Pkey<Private>::from_pem_file(plain).value().public_equals(key));
  CHECK(Pkey<Private>::from_pem_file(combined).value().public_equals(key));
  CHECK(Pkey<Private>::from_pem_file(encrypted, "pw").value().public_equals(key));
  CHECK(Pkey<Private>::from_pem_file(plain, "unused").value().public_equals(key));
  CHECK(Pkey<Public>::from_pem_file(pub).value().to_pem().value() == public_pem);

  struct Case {
    std::string name;
    Result<Pkey<Private>> (*load)(const std::string&);
    std::string path;
    std::string says;
  };
  const auto no_pass = [](const std::string& p) { return Pkey<Private>::from_pem_file(p); };
  const auto wrong_pass = [](const std::string& p) { return Pkey<Private>::from_pem_file(p, "x"); };
  const std::vector<Case> cases = {
      {"a missing file", no_pass, dir.path("missing.key"), "No such file"},
      {"a certificate file", no_pass,
       dir.write("cert.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
       "holds a CERTIFICATE block, not a private key"},
      {"a public key", no_pass, pub, "holds a PUBLIC KEY block, not a private key"},
      {"an encrypted key without a passphrase", no_pass, encrypted,
       "the key is encrypted; give its passphrase: from_pem_file(path, passphrase)"},
      {"an encrypted key with a wrong passphrase", wrong_pass, encrypted, "wrong passphrase"},
      {"a damaged key", no_pass,
       dir.write("damaged.key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
       "no PEM private key found"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    auto loaded = c.load(c.path);
    REQUIRE_FALSE(loaded.has_value());
    const std::string text = loaded.error().to_string();
    CHECK_MESSAGE(text.find("Pkey<Private>::from_pem_file") != std::string::npos, text);
    CHECK_MESSAGE(text.find(c.path) != std::string::npos, text);
    CHECK_MESSAGE(text.find(c.says) != std::string::npos, text);
  }
  auto private_as_public = Pkey<Public>::from_pem_file(plain);
  REQUIRE_FALSE(private_as_public.has_value());
  CHECK(private_as_public.error().to_string().find("holds a PRIVATE KEY block, not a public key") !=
        std::string::npos);
  CHECK(ERR_peek_error() == 0);
}
