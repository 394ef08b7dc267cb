#include <ossl/testing/certs.hpp>  // first: proves the header is self-contained

#include "../support/handshake.hpp"

#include <doctest/doctest.h>
#include <openssl/err.h>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>

using namespace ossl;
using namespace ossl::testing;
using namespace ossl_test;

TEST_CASE("generated chains verify: root -> intermediate -> leaf for every key type") {
  for (KeyType type :
       {KeyType::EcP256, KeyType::EcP384, KeyType::Ed25519, KeyType::Rsa2048, KeyType::Rsa1024}) {
    CAPTURE(static_cast<int>(type));
    auto root = TestCa::create_root("root", type).value();
    auto inter = root.create_intermediate("inter", type).value();
    LeafSpec spec;
    spec.dns_names = {"localhost", "*.example.com"};
    spec.ip_addresses = {"127.0.0.1", "::1"};
    spec.key_type = type;
    Identity id = inter.issue(spec).value();
    REQUIRE(id.chain.size() == 1);
    CHECK(id.chain[0] == inter.cert());
    CHECK(id.cert.issuer_name().value() == inter.cert().subject_name().value());
    CHECK(id.cert.check_private_key(id.key).has_value());
    auto sans = id.cert.subject_alt_names().value();
    REQUIRE(sans.size() == 4);
    CHECK(sans[3].value == "::1");

    // Verify with OpenSSL's own chain builder.
    X509_STORE* store = X509_STORE_new();
    X509_STORE_add_cert(store, root.cert().native_handle());
    STACK_OF(X509)* untrusted = sk_X509_new_null();
    sk_X509_push(untrusted, inter.cert().native_handle());
    X509_STORE_CTX* vctx = X509_STORE_CTX_new();
    REQUIRE(X509_STORE_CTX_init(vctx, store, id.cert.native_handle(), untrusted) == 1);
    CHECK(X509_verify_cert(vctx) == 1);
    CHECK(X509_STORE_CTX_get_error(vctx) == X509_V_OK);
    X509_STORE_CTX_free(vctx);
    sk_X509_free(untrusted);
    X509_STORE_free(store);
  }
}

TEST_CASE("validity windows: expired and not yet valid certificates fail verification") {
  struct Case {
    const char* name;
    Validity validity;
    long expect;
  };
  for (const auto& c :
       {Case{"expired", Validity::expired(), X509_V_ERR_CERT_HAS_EXPIRED},
        Case{"not yet valid", Validity::not_yet_valid(), X509_V_ERR_CERT_NOT_YET_VALID}}) {
    CAPTURE(c.name);
    LeafSpec spec;
    spec.dns_names = {"localhost"};
    spec.validity = c.validity;
    Identity id = pki().intermediate.issue(spec).value();
    Contexts ctx = make_contexts(Config{});
    REQUIRE(ctx.server.use_certificate(id.cert).has_value());
    REQUIRE(ctx.server.use_private_key(id.key).has_value());
    Pair pair = make_pair(ctx.client, ctx.server);
    CHECK_FALSE(complete_handshake(pair).ok);
    CHECK(pair.client.verify_result().code == c.expect);
  }
}

TEST_CASE("invalid names are refused with the name in the error") {
  LeafSpec bad_dns;
  bad_dns.dns_names = {"has space.example"};
  auto r1 = pki().root.issue(bad_dns);
  REQUIRE_FALSE(r1.has_value());
  CHECK(r1.error().to_string().find("has space.example") != std::string::npos);
  LeafSpec bad_ip;
  bad_ip.ip_addresses = {"300.1.1.1"};
  auto r2 = pki().root.issue(bad_ip);
  REQUIRE_FALSE(r2.has_value());
  CHECK(r2.error().to_string().find("300.1.1.1") != std::string::npos);
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("write_pem writes the chain bundle and a private key file only the owner reads") {
  char dir[] = "/tmp/ossl-certs-XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  const std::string cert_path = std::string(dir) + "/cert.pem";
  const std::string key_path = std::string(dir) + "/key.pem";
  REQUIRE(pki().server.write_pem(cert_path, key_path).has_value());
  struct stat st {};
  REQUIRE(::stat(key_path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  SslCtx ctx = SslCtx::new_client().value();
  CHECK(ctx.load_verify_file(cert_path).has_value());  // the PEM bundle parses
  auto bad = pki().server.write_pem("/nonexistent/dir/cert.pem", key_path);
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().to_string().find("/nonexistent/dir/cert.pem") != std::string::npos);
  ::unlink(cert_path.c_str());
  ::unlink(key_path.c_str());
  ::rmdir(dir);
}

TEST_CASE("key usage and extended key usage decide what a certificate may be used for") {
  struct Case {
    const char* name;
    Usage usage;
    std::string key_usage;
    long expect;
  };
  for (const auto& c :
       {Case{"server leaf", Usage::Server, "", X509_V_OK},
        Case{"server and client leaf", Usage::ServerAndClient, "", X509_V_OK},
        Case{"client-only leaf as a server", Usage::Client, "", X509_V_ERR_INVALID_PURPOSE},
        Case{"keyCertSign only", Usage::Server, "critical,keyCertSign",
             X509_V_ERR_INVALID_PURPOSE}}) {
    CAPTURE(c.name);
    LeafSpec spec;
    spec.dns_names = {"localhost"};
    spec.usage = c.usage;
    spec.key_usage = c.key_usage;
    Identity id = pki().intermediate.issue(spec).value();
    Contexts ctx = make_contexts(Config{});
    REQUIRE(ctx.server.use_certificate(id.cert).has_value());
    REQUIRE(ctx.server.use_private_key(id.key).has_value());
    Pair pair = make_pair(ctx.client, ctx.server);
    REQUIRE(pair.client.set_verify_hostname("localhost").has_value());
    CHECK(complete_handshake(pair).ok == (c.expect == X509_V_OK));
    CHECK(pair.client.verify_result().code == c.expect);
  }
  LeafSpec bad;
  bad.key_usage = "critical,notAKeyUsage";
  auto r = pki().root.issue(bad);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().to_string().find("notAKeyUsage") != std::string::npos);
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("signature digests: SHA-1 is what was asked for, and OpenSSL's verifier refuses it") {
  struct Case {
    KeyType issuer;
    int expect_nid;
  };
  for (const Case& c : {Case{KeyType::EcP256, NID_ecdsa_with_SHA1},
                        Case{KeyType::Rsa2048, NID_sha1WithRSAEncryption}}) {
    CAPTURE(static_cast<int>(c.issuer));
    auto root = TestCa::create_root("root", c.issuer).value();
    LeafSpec spec;
    spec.dns_names = {"localhost"};
    CHECK(X509_get_signature_nid(root.issue(spec).value().cert.native_handle()) ==
          (c.issuer == KeyType::EcP256 ? NID_ecdsa_with_SHA256 : NID_sha256WithRSAEncryption));
    spec.signature_digest = SignatureDigest::Sha1;
    const Identity id = root.issue(spec).value();
    CHECK(X509_get_signature_nid(id.cert.native_handle()) == c.expect_nid);
    X509_STORE* store = X509_STORE_new();
    X509_STORE_add_cert(store, root.cert().native_handle());
    X509_STORE_CTX* vctx = X509_STORE_CTX_new();
    REQUIRE(X509_STORE_CTX_init(vctx, store, id.cert.native_handle(), nullptr) == 1);
    X509_VERIFY_PARAM_set_auth_level(X509_STORE_CTX_get0_param(vctx), 2);
    CHECK(X509_verify_cert(vctx) != 1);
    CHECK(X509_STORE_CTX_get_error(vctx) == X509_V_ERR_CA_MD_TOO_WEAK);
    X509_STORE_CTX_free(vctx);
    X509_STORE_free(store);
  }
}

TEST_CASE("a self-signed leaf is its own issuer, refused unless it is itself trusted") {
  LeafSpec spec;
  spec.dns_names = {"localhost"};
  const Identity id = TestCa::self_signed(spec).value();
  CHECK(id.chain.empty());
  CHECK(id.cert.subject_name().value() == id.cert.issuer_name().value());
  CHECK(X509_self_signed(id.cert.native_handle(), 1) == 1);  // names and signature
  CHECK(id.cert.check_private_key(id.key).has_value());
  CHECK((X509_get_extension_flags(id.cert.native_handle()) & EXFLAG_CA) == 0);
  for (bool trusted : {false, true}) {
    CAPTURE(trusted);
    X509_STORE* store = X509_STORE_new();
    if (trusted) X509_STORE_add_cert(store, id.cert.native_handle());
    X509_STORE_CTX* vctx = X509_STORE_CTX_new();
    REQUIRE(X509_STORE_CTX_init(vctx, store, id.cert.native_handle(), nullptr) == 1);
    CHECK((X509_verify_cert(vctx) == 1) == trusted);
    CHECK(X509_STORE_CTX_get_error(vctx) ==
          (trusted ? X509_V_OK : X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT));
    X509_STORE_CTX_free(vctx);
    X509_STORE_free(store);
  }
}
