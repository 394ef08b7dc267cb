#include <ossl/pkcs12.hpp>  // first: proves the header is self-contained

#include <ossl/testing/certs.hpp>

#include <doctest/doctest.h>
#include <openssl/err.h>
#include <openssl/provider.h>

#include <memory>
#include <string>
#include <vector>

using namespace ossl;
using namespace std::literals;

namespace {

std::vector<std::byte> der_of(const ossl::X509& cert) {
  return cert.to_der().value();
}
std::vector<std::byte> public_der_of(const Pkey<Private>& key) {
  return key.public_key().value().to_der().value();
}
bool mentions(const ErrorStack& e, std::string_view text) {
  return e.to_string().find(text) != std::string::npos;
}

// root -> inter1 -> inter2 -> leaf: a chain long enough to show its order.
struct ChainPki {
  testing::TestCa root = testing::TestCa::create_root().value();
  testing::TestCa inter1 = root.create_intermediate("inter1").value();
  testing::TestCa inter2 = inter1.create_intermediate("inter2").value();
};
const ChainPki& chain_pki() {
  static const ChainPki p;
  return p;
}

// An archive made the way OpenSSL 1.x (and `openssl pkcs12 -export -legacy`) made them:
// certificates under RC2-40, the key under 3DES. RC2 lives in the legacy provider, so
// the archive is made in a library context of its own that loads it; the default
// context, which ossl uses, never sees that provider.
std::vector<std::byte> legacy_archive(const testing::Identity& id, const char* pass) {
  struct LibCtxFree {
    void operator()(OSSL_LIB_CTX* c) const noexcept { OSSL_LIB_CTX_free(c); }
  };
  std::unique_ptr<OSSL_LIB_CTX, LibCtxFree> libctx(OSSL_LIB_CTX_new());
  REQUIRE(libctx);
  OSSL_PROVIDER* legacy = OSSL_PROVIDER_load(libctx.get(), "legacy");
  OSSL_PROVIDER* deflt = OSSL_PROVIDER_load(libctx.get(), "default");
  REQUIRE_MESSAGE(legacy != nullptr,
                  "OpenSSL's legacy provider (ossl-modules/legacy.so) "
                  "is needed to make the test archive");
  REQUIRE(deflt != nullptr);
  PKCS12* p12 = PKCS12_create_ex(pass, nullptr, id.key.native_handle(), id.cert.native_handle(),
                                 nullptr, NID_pbe_WithSHA1And3_Key_TripleDES_CBC,
                                 NID_pbe_WithSHA1And40BitRC2_CBC, 0, 0, 0, libctx.get(), nullptr);
  REQUIRE(p12 != nullptr);
  int len = i2d_PKCS12(p12, nullptr);
  REQUIRE(len > 0);
  std::vector<std::byte> der(static_cast<std::size_t>(len));
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  REQUIRE(i2d_PKCS12(p12, &out) == len);
  PKCS12_free(p12);
  OSSL_PROVIDER_unload(deflt);
  OSSL_PROVIDER_unload(legacy);
  return der;
}

}  // namespace

TEST_CASE("an archive returns its key, certificate and chain, in order, for every key type") {
  const ChainPki& p = chain_pki();
  for (auto type : {testing::KeyType::EcP256, testing::KeyType::EcP384, testing::KeyType::Ed25519,
                    testing::KeyType::Rsa2048}) {
    CAPTURE(static_cast<int>(type));
    testing::LeafSpec spec;
    spec.key_type = type;
    testing::Identity id = p.inter2.issue(spec).value();
    REQUIRE(id.chain.size() == 2);  // inter2, inter1
    auto archive = Pkcs12::create("s3cret", id.key, id.cert, id.chain, "my server");
    REQUIRE_MESSAGE(archive.has_value(), archive.error().to_string());

    // Through DER and back, as a .p12 file would go.
    auto der = archive->to_der().value();
    auto loaded = Pkcs12::from_der(der);
    REQUIRE_MESSAGE(loaded.has_value(), loaded.error().to_string());
    auto parsed = loaded->parse("s3cret");
    REQUIRE_MESSAGE(parsed.has_value(), parsed.error().to_string());

    REQUIRE(parsed->key.has_value());
    REQUIRE(parsed->cert.has_value());
    CHECK(public_der_of(*parsed->key) == public_der_of(id.key));
    CHECK(der_of(*parsed->cert) == der_of(id.cert));
    REQUIRE(parsed->chain.size() == 2);
    CHECK(der_of(parsed->chain[0]) == der_of(p.inter2.cert()));
    CHECK(der_of(parsed->chain[1]) == der_of(p.inter1.cert()));
    CHECK(ERR_peek_error() == 0);
  }
}

TEST_CASE("an archive without a chain parses to an empty chain") {
  testing::Identity id = chain_pki().root.issue({}).value();
  auto parsed = Pkcs12::create("pw", id.key, id.cert).value().parse("pw");
  REQUIRE_MESSAGE(parsed.has_value(), parsed.error().to_string());
  CHECK(parsed->chain.empty());
  CHECK(parsed->cert.has_value());
}

TEST_CASE("passphrases: the right one opens, a wrong one is named, empty means none") {
  testing::Identity id = chain_pki().root.issue({}).value();
  struct Case {
    const char* name;
    std::string_view made_with;
    std::string_view opened_with;
    bool opens;
  };
  for (auto c : {Case{"right passphrase", "correct horse", "correct horse", true},
                 Case{"wrong passphrase", "correct horse", "battery staple", false},
                 Case{"empty instead of the passphrase", "correct horse", "", false},
                 Case{"made without a passphrase, opened without", "", "", true},
                 Case{"made without a passphrase, opened with one", "", "x", false},
                 Case{"non-ASCII UTF-8 passphrase", "p\xC3\xA4ss", "p\xC3\xA4ss", true},
                 Case{"long passphrase",
                      std::string_view("0123456789abcdef0123456789abcdef"
                                       "0123456789abcdef0123456789abcdef"
                                       "0123456789abcdef0123456789abcdef"
                                       "0123456789abcdef0123456789abcdef"
                                       "0123456789abcdef0123456789abcdef"),
                      std::string_view("0123456789abcdef0123456789abcdef"
                                       "0123456789abcdef0123456789abcdef"
                                       "0123456789abcdef0123456789abcdef"
                                       "0123456789abcdef0123456789abcdef"
                                       "0123456789abcdef0123456789abcdef"),
                      true}}) {
    CAPTURE(c.name);
    auto archive = Pkcs12::create(c.made_with, id.key, id.cert);
    REQUIRE_MESSAGE(archive.has_value(), archive.error().to_string());
    auto parsed = archive->parse(c.opened_with);
    CHECK(parsed.has_value() == c.opens);
    if (!c.opens) {
      REQUIRE_FALSE(parsed.has_value());
      CHECK(parsed.error().contains(ERR_LIB_PKCS12, PKCS12_R_MAC_VERIFY_FAILURE));
      CHECK(mentions(parsed.error(), "wrong passphrase"));
      CHECK(parsed.error().context() == "Pkcs12::parse");
    }
    CHECK(ERR_peek_error() == 0);
  }
}

TEST_CASE("a legacy archive (RC2-40) fails with an error that names the legacy provider") {
  testing::Identity id = chain_pki().root.issue({}).value();
  std::vector<std::byte> der = legacy_archive(id, "pw");
  auto archive = Pkcs12::from_der(der);
  REQUIRE_MESSAGE(archive.has_value(), archive.error().to_string());  // structure is fine
  auto parsed = archive->parse("pw");
  REQUIRE_FALSE(parsed.has_value());
  CHECK(mentions(parsed.error(), "legacy provider"));
  CHECK(mentions(parsed.error(), "RC2-40"));
  CHECK_FALSE(mentions(parsed.error(), "wrong passphrase"));  // the MAC (SHA-1) verified
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("bad archives and bad arguments are errors that name the problem") {
  testing::Identity id = chain_pki().root.issue({}).value();
  testing::Identity other = chain_pki().root.issue({}).value();
  auto good = Pkcs12::create("pw", id.key, id.cert).value().to_der().value();

  SUBCASE("DER: empty, trailing bytes, truncated, not PKCS#12") {
    struct Case {
      const char* name;
      std::vector<std::byte> der;
      std::string_view says;
    };
    auto trailing = good;
    trailing.push_back(std::byte{0});
    std::vector<std::byte> truncated(good.begin(),
                                     good.begin() + static_cast<std::ptrdiff_t>(good.size() / 2));
    std::vector<std::byte> cert_der = der_of(id.cert);
    for (const auto& c :
         {Case{"empty", {}, "empty input"}, Case{"trailing byte", trailing, "1 trailing bytes"},
          Case{"truncated", truncated, "Pkcs12::from_der"},
          Case{"a certificate, not an archive", cert_der, "Pkcs12::from_der"}}) {
      CAPTURE(c.name);
      auto r = Pkcs12::from_der(c.der);
      REQUIRE_FALSE(r.has_value());
      CHECK(mentions(r.error(), c.says));
      CHECK(ERR_peek_error() == 0);
    }
  }
  SUBCASE("create: a key that is not the certificate's") {
    auto r = Pkcs12::create("pw", other.key, id.cert);
    REQUIRE_FALSE(r.has_value());
    CHECK(mentions(r.error(), "does not match the certificate"));
  }
  SUBCASE("create: empty key, empty certificate, empty chain entry") {
    CHECK(mentions(Pkcs12::create("pw", Pkey<Private>(), id.cert).error(), "empty key"));
    CHECK(mentions(Pkcs12::create("pw", id.key, ossl::X509()).error(), "empty certificate"));
    std::vector<ossl::X509> chain{chain_pki().root.cert(), ossl::X509()};
    CHECK(mentions(Pkcs12::create("pw", id.key, id.cert, chain).error(), "at index 1"));
  }
  SUBCASE("NUL bytes in a passphrase or a friendly name") {
    CHECK(mentions(Pkcs12::create("p\0w"sv, id.key, id.cert).error(), "embedded NUL"));
    CHECK(mentions(Pkcs12::create("pw", id.key, id.cert, {}, "a\0b"sv).error(), "embedded NUL"));
    auto archive = Pkcs12::from_der(good).value();
    CHECK(mentions(archive.parse("p\0w"sv).error(), "embedded NUL"));
  }
  SUBCASE("an empty Pkcs12") {
    Pkcs12 empty;
    CHECK_FALSE(empty);
    CHECK(mentions(empty.parse("pw").error(), "empty Pkcs12"));
    CHECK(mentions(empty.to_der().error(), "empty Pkcs12"));
  }
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("adopt, release and moves hand the PKCS12 over exactly once") {
  testing::Identity id = chain_pki().root.issue({}).value();
  Pkcs12 a = Pkcs12::create("pw", id.key, id.cert).value();
  PKCS12* raw = a.release();
  REQUIRE(raw != nullptr);
  CHECK_FALSE(a);
  Pkcs12 b = Pkcs12::adopt(raw).value();
  CHECK(b.native_handle() == raw);
  Pkcs12 c = std::move(b);
  CHECK_FALSE(b);  // NOLINT(bugprone-use-after-move): moved-from state is specified
  CHECK(c.native_handle() == raw);
  CHECK(c.parse("pw").has_value());
  CHECK(mentions(Pkcs12::adopt(nullptr).error(), "Pkcs12::adopt: null pointer"));
}
