#include <ossl/builder.hpp>  // first: proves the header is self-contained

#include "support/handshake.hpp"
#include "support/process.hpp"

#include <doctest/doctest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

using namespace ossl;
using namespace ossl_test;
using namespace std::literals;

using ClientB = SslCtxBuilder<Client>;
using ServerB = SslCtxBuilder<Server>;

// ----------------------------------------------------------------- typestate
// Each role-specific step is available on its role only; both directions, every step.
#define ROLE_STEP(concept_name, call)                                                   \
  template <class B>                                                                    \
  concept concept_name = requires(B & b, const ossl::X509& c, const Pkey<Private>& k) { \
    call;                                                                               \
  };

ROLE_STEP(HasCertificate, b.certificate(c))
ROLE_STEP(HasAddChainCert, b.add_chain_cert(c))
ROLE_STEP(HasPrivateKey, b.private_key(k))
ROLE_STEP(HasCheckPrivateKey, b.check_private_key())
ROLE_STEP(HasVerifyClient, b.verify_client(true))
ROLE_STEP(HasClientCaCert, b.client_ca_cert(c))
ROLE_STEP(HasClientCaFile, b.client_ca_file("ca.pem"))
ROLE_STEP(HasSessionIdContext, b.session_id_context("x"))
ROLE_STEP(HasNumTickets, b.num_tickets(1))
ROLE_STEP(HasAlpnOnMismatch, b.alpn_on_mismatch(AlpnMismatch::Continue))
ROLE_STEP(HasAlpnSelectCallback, b.alpn_select_callback(AlpnSelector()))
ROLE_STEP(HasDefaultCaPaths, b.default_ca_paths())
ROLE_STEP(HasCaBundleFile, b.ca_bundle_file("ca.pem"))
ROLE_STEP(HasCaCert, b.ca_cert(c))
ROLE_STEP(HasVerifyPeer, b.verify_peer())
ROLE_STEP(HasVerifyHostname, b.verify_hostname("example.com"))
ROLE_STEP(HasVerifyHostnameFlags, b.verify_hostname_flags(HostnameFlags::NONE))
ROLE_STEP(HasClientCert, b.client_cert(c))
ROLE_STEP(HasClientChainCert, b.client_chain_cert(c))
ROLE_STEP(HasClientKey, b.client_key(k))
ROLE_STEP(HasDangerAcceptInvalidCerts, b.danger_accept_invalid_certs())
ROLE_STEP(HasDangerSkipHostname, b.danger_skip_hostname_verification())
ROLE_STEP(HasMinProto, b.min_proto_version(TlsVersion::Tls12))
ROLE_STEP(HasMaxProto, b.max_proto_version(TlsVersion::Tls13))
ROLE_STEP(HasCipherList, b.cipher_list("x"))
ROLE_STEP(HasCiphersuites, b.ciphersuites("x"))
ROLE_STEP(HasSessionCacheMode, b.session_cache_mode(0))
ROLE_STEP(HasAlpnProtocols, b.alpn_protocols("\x02h2"))
ROLE_STEP(HasAlpnProtosList, b.alpn_protos_list({"h2"}))
ROLE_STEP(HasBuild, b.build())
ROLE_STEP(HasSniCertificate, b.sni_certificate("a.example", c, k))
ROLE_STEP(HasSniUnknownName, b.sni_unknown_name(UnknownServerName::Refuse))
ROLE_STEP(HasDangerKeyLog, b.danger_key_log(KeyLogCallback()))
ROLE_STEP(HasIdentityPkcs12, b.identity_pkcs12(std::span<const std::byte>(), "pw"))
ROLE_STEP(HasEarlyData, b.early_data(16384))
ROLE_STEP(HasDangerEarlyDataReplay, b.danger_allow_early_data_replay())
ROLE_STEP(HasSessionStore, b.session_store(std::shared_ptr<SessionStore>()))
ROLE_STEP(HasTicketKeys, b.ticket_keys(std::vector<TicketKey>()))
ROLE_STEP(HasTicketKeyFiles, b.ticket_key_files(std::span<const std::string>()))
ROLE_STEP(HasOcspResponse, b.ocsp_response(std::span<const std::byte>()))
ROLE_STEP(HasOcspResponseFile, b.ocsp_response_file("ocsp.der"))
ROLE_STEP(HasClientSessionCache, b.client_session_cache(std::shared_ptr<ClientSessionCache>()))
ROLE_STEP(HasCrl, b.crl(std::declval<const X509Crl&>()))
ROLE_STEP(HasCrlFile, b.crl_file("crl.pem"))
ROLE_STEP(HasCrlCheck, b.crl_check(CrlCheck::Leaf))
ROLE_STEP(HasOcspStapling, b.ocsp_stapling(OcspPolicy::Required))
ROLE_STEP(HasPinSpki, b.pin_spki_sha256("x"))
ROLE_STEP(HasVerifyHook, b.verify_hook(VerifyHook()))
ROLE_STEP(HasDangerMatchCn, b.danger_match_subject_common_name())
ROLE_STEP(HasDangerCaAsLeaf, b.danger_accept_ca_as_leaf())
ROLE_STEP(HasCertificateChainFile, b.certificate_chain_file("chain.pem"))
ROLE_STEP(HasPrivateKeyFile, b.private_key_file("key.pem"))
ROLE_STEP(HasPrivateKeyFilePassphrase, b.private_key_file("key.pem", "pw"))

#define SERVER_ONLY(C) static_assert(C<ServerB> && !C<ClientB>, #C " must be server-only")
#define CLIENT_ONLY(C) static_assert(C<ClientB> && !C<ServerB>, #C " must be client-only")
#define BOTH(C) static_assert(C<ClientB> && C<ServerB>, #C " must be on both builders")
SERVER_ONLY(HasCertificate);
SERVER_ONLY(HasAddChainCert);
SERVER_ONLY(HasPrivateKey);
SERVER_ONLY(HasCheckPrivateKey);
SERVER_ONLY(HasVerifyClient);
SERVER_ONLY(HasClientCaCert);
SERVER_ONLY(HasClientCaFile);
SERVER_ONLY(HasSessionIdContext);
SERVER_ONLY(HasNumTickets);
SERVER_ONLY(HasAlpnOnMismatch);
SERVER_ONLY(HasAlpnSelectCallback);
CLIENT_ONLY(HasDefaultCaPaths);
CLIENT_ONLY(HasCaBundleFile);
CLIENT_ONLY(HasCaCert);
CLIENT_ONLY(HasVerifyPeer);
CLIENT_ONLY(HasVerifyHostname);
CLIENT_ONLY(HasVerifyHostnameFlags);
CLIENT_ONLY(HasClientCert);
CLIENT_ONLY(HasClientChainCert);
CLIENT_ONLY(HasClientKey);
CLIENT_ONLY(HasDangerAcceptInvalidCerts);
CLIENT_ONLY(HasDangerSkipHostname);
SERVER_ONLY(HasSniCertificate);
SERVER_ONLY(HasSniUnknownName);
SERVER_ONLY(HasEarlyData);
SERVER_ONLY(HasDangerEarlyDataReplay);
SERVER_ONLY(HasSessionStore);
SERVER_ONLY(HasTicketKeys);
SERVER_ONLY(HasTicketKeyFiles);
SERVER_ONLY(HasOcspResponse);
SERVER_ONLY(HasOcspResponseFile);
CLIENT_ONLY(HasClientSessionCache);
CLIENT_ONLY(HasCrl);
CLIENT_ONLY(HasCrlFile);
CLIENT_ONLY(HasCrlCheck);
CLIENT_ONLY(HasOcspStapling);
CLIENT_ONLY(HasPinSpki);
CLIENT_ONLY(HasVerifyHook);
CLIENT_ONLY(HasDangerMatchCn);
CLIENT_ONLY(HasDangerCaAsLeaf);
BOTH(HasCertificateChainFile);
BOTH(HasPrivateKeyFile);
BOTH(HasPrivateKeyFilePassphrase);
BOTH(HasDangerKeyLog);
BOTH(HasIdentityPkcs12);
BOTH(HasMinProto);
BOTH(HasMaxProto);
BOTH(HasCipherList);
BOTH(HasCiphersuites);
BOTH(HasSessionCacheMode);
BOTH(HasAlpnProtocols);
BOTH(HasAlpnProtosList);
BOTH(HasBuild);

// A public key can never be a server's private key.
template <class B>
concept TakesPublicKey = requires(B& b, const Pkey<Public>& k) {
  b.private_key(k);
};
static_assert(!TakesPublicKey<ServerB>);
static_assert(!std::is_copy_constructible_v<ClientB>);

// The wrong role's step fails with a first line a person can act on: it names the step
// and its role (g++ 12: "use of deleted function 'ossl::role_mismatch::server_only_step
// ...::certificate(...)'"; clang 16: "'certificate' is unavailable: certificate() is a
// server-only step; ..."), not a list of unsatisfied constraints. Compiled here with this
// build's compiler, so each CI compiler proves its own diagnostic.
TEST_CASE("a step of the other role fails to compile with an error naming the step and role") {
  struct Case {
    const char* code;
    const char* step;
    const char* role;  // as in "server-only" or "server_only"
  };
  const Case cases[] = {
      {"auto a = ossl::SslCtxBuilder<ossl::Client>::create().certificate(cert);", "certificate",
       "server"},
      {"auto b = ossl::SslCtxBuilder<ossl::Server>::create().verify_peer();", "verify_peer",
       "client"},
      {"auto named = ossl::SslCtxBuilder<ossl::Client>::create(); named.private_key(key);",
       "private_key", "server"},
      {"auto c = ossl::SslCtxBuilder<ossl::Server>::create().danger_accept_invalid_certs();",
       "danger_accept_invalid_certs", "client"},
  };
  std::string code =
      "#include <ossl/builder.hpp>\n"
      "void f(const ossl::X509& cert, const ossl::Pkey<ossl::Private>& key) {\n";
  for (const Case& c : cases)
    code += std::string("  { ") + c.code + " }\n";
  code += "}\n";
  TempDir dir;
  const std::string source = dir.write("wrong_role.cpp", code);

  std::vector<std::string> argv;
  std::istringstream cxx(OSSL_TEST_CXX);
  for (std::string word; cxx >> word;)
    argv.push_back(word);
  REQUIRE_FALSE(argv.empty());
  std::istringstream includes(OSSL_TEST_CXX_INCLUDES);
  for (std::string inc; std::getline(includes, inc, ':');)
    argv.push_back("-I" + inc);
  for (const char* arg : {"-std=c++20", "-fsyntax-only", "-fno-diagnostics-color"})
    argv.emplace_back(arg);
  argv.push_back(source);
  const RunResult result = run(argv, 120s);
  INFO("compiler output:\n" << result.output);
  REQUIRE(result.status != 0);

  std::vector<std::string> errors;
  std::istringstream lines(result.output);
  for (std::string line; std::getline(lines, line);)
    if (line.find("error:") != std::string::npos) errors.push_back(line);
  REQUIRE(errors.size() >= std::size(cases));
  // Every error names a step and its role; the first line is about the first call.
  const auto names = [](const std::string& line, const Case& c) {
    const std::string role = c.role;
    return line.find(c.step) != std::string::npos &&
           (line.find(role + "-only step") != std::string::npos ||
            line.find(role + "_only_step") != std::string::npos);
  };
  CHECK(names(errors.front(), cases[0]));
  for (const Case& c : cases) {
    CAPTURE(c.step);
    CHECK(std::any_of(errors.begin(), errors.end(),
                      [&](const std::string& line) { return names(line, c); }));
  }
  for (const std::string& line : errors) {
    CAPTURE(line);
    CHECK(std::any_of(std::begin(cases), std::end(cases),
                      [&](const Case& c) { return names(line, c); }));
  }
  CHECK(result.output.find("constraints not satisfied") == std::string::npos);
  CHECK(result.output.find("evaluated to 'false'") == std::string::npos);
}

// -------------------------------------------------------------------- helpers
namespace {

// The shared chain (tests/support): attempt(client, server, {.host = ...}).
Attempt handshake(const SslCtx& client, const SslCtx& server, std::string_view host = "localhost") {
  return attempt(client, server, ConnectOptions{.host = std::string(host)});
}

std::string error_text(const std::optional<SslIoError>& e) {
  return e ? e->to_string() : "";
}

}  // namespace

// --------------------------------------------------------------------- fluency

TEST_CASE("builders chain on temporaries and on named builders") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    auto server = server_builder(v).build();
    REQUIRE_MESSAGE(server.has_value(), server.error().to_string());

    // A temporary chain.
    auto a = ClientB::create().ca_cert(pki().root.cert()).max_proto_version(v).build();
    REQUIRE(a.has_value());
    // A named builder, steps as statements.
    auto named = ClientB::create();
    named.ca_cert(pki().root.cert());
    named.max_proto_version(v).min_proto_version(TlsVersion::Tls12);
    auto b = named.build();
    REQUIRE(b.has_value());
    // A partial chain kept in a variable, finished later.
    auto partial = ClientB::create().ca_cert(pki().root.cert());
    auto c = std::move(partial).max_proto_version(v).build();
    REQUIRE(c.has_value());

    for (const SslCtx* ctx : {&*a, &*b, &*c}) {
      Attempt o = handshake(*ctx, *server);
      CHECK_MESSAGE(o.outcome.ok, o.outcome.describe());
      CHECK(o.pair.client.version() == v);
    }
  }
}

TEST_CASE("the first failing step is kept with its name; later steps do nothing") {
  auto builder = ClientB::create();
  builder.min_proto_version(TlsVersion::Tls12)
      .cipher_list("NOT-A-CIPHER")         // fails
      .ca_bundle_file("/nonexistent.pem")  // would fail too, but must not run
      .ciphersuites("ALSO-BOGUS");         // would fail too
  REQUIRE(builder.error() != nullptr);
  auto ctx = builder.build();
  REQUIRE_FALSE(ctx.has_value());
  const std::string text = ctx.error().to_string();
  CHECK(ctx.error().context().starts_with("SslCtxBuilder<Client>::cipher_list"));
  CHECK(text.find("NOT-A-CIPHER") != std::string::npos);
  CHECK(ctx.error().contains(ERR_LIB_SSL, SSL_R_NO_CIPHER_MATCH));
  CHECK(text.find("nonexistent") == std::string::npos);
  CHECK(text.find("ALSO-BOGUS") == std::string::npos);
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("a builder is spent after build(): later steps and builds are errors") {
  auto builder = ClientB::create();
  REQUIRE(builder.build().has_value());
  builder.min_proto_version(TlsVersion::Tls13);
  auto again = builder.build();
  REQUIRE_FALSE(again.has_value());
  CHECK(again.error().to_string().find("step after build()") != std::string::npos);
}

TEST_CASE("a moved-from builder is spent: its steps and build() say it was moved") {
  struct Case {
    const char* name;
    bool failed_before_move;
  };
  for (const Case c : {Case{"clean builder", false}, Case{"builder with an error", true}}) {
    CAPTURE(c.name);
    auto source = ClientB::create();
    if (c.failed_before_move) source.cipher_list("NOT-A-CIPHER");
    auto target = std::move(source);
    source.min_proto_version(TlsVersion::Tls13);  // NOLINT(bugprone-use-after-move): tested
    auto spent = source.build();                  // NOLINT(bugprone-use-after-move)
    REQUIRE_FALSE(spent.has_value());
    CHECK(spent.error().to_string().find("moved from") != std::string::npos);
    CHECK(spent.error().context().find("SslCtxBuilder<Client>::build") != std::string::npos);
    // The builder moved to carries on where the source stopped.
    auto built = target.build();
    CHECK(built.has_value() == !c.failed_before_move);
    if (c.failed_before_move) {
      CHECK(built.error().to_string().find("cipher_list") != std::string::npos);
    }
    // Move assignment marks its source too.
    auto assigned = ServerB::create();
    auto other = ServerB::create();
    assigned = std::move(other);
    CHECK(other.build().error().to_string().find("moved from") != std::string::npos);  // NOLINT
  }
}

// -------------------------------------------------------------- secure defaults

TEST_CASE("client defaults: TLS 1.2 floor, verification on, system trust store") {
  auto ctx = ClientB::create().build().value();
  CHECK(ctx.min_proto_version() == TlsVersion::Tls12);
  CHECK(ctx.verify_mode() == SslVerifyMode::PEER);
  CHECK(X509_VERIFY_PARAM_get_hostflags(SSL_CTX_get0_param(ctx.native_handle())) ==
        (X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT));
  // Our test root is not in the system store: the server is not trusted.
  auto server = server_builder().build().value();
  Attempt o = handshake(ctx, server);
  CHECK_FALSE(o.outcome.ok);
  CHECK(o.pair.client.verify_result().code == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

TEST_CASE("a client connection must name the host it expects") {
  auto server = server_builder().build().value();
  auto client = client_builder().build().value();
  SUBCASE("no host: the handshake fails and says what to do") {
    Attempt o = handshake(client, server, "");
    CHECK_FALSE(o.outcome.ok);
    REQUIRE(o.outcome.client_error);
    CHECK(o.pair.client.verify_result().code == X509_V_ERR_APPLICATION_VERIFICATION);
    CHECK_MESSAGE(error_text(o.outcome.client_error).find("names no host") != std::string::npos,
                  error_text(o.outcome.client_error));
  }
  SUBCASE("new_ssl_for_host names it in one call") {
    auto ssl = client.new_ssl_for_host("localhost").value();
    auto srv = server.new_ssl().value();
    auto bios = Bio::new_bio_pair().value();
    ssl.set_bio_duplex(std::move(bios.first));
    srv.set_bio_duplex(std::move(bios.second));
    srv.set_accept_state();
    Pair pair{std::move(ssl), std::move(srv)};
    CHECK(complete_handshake(pair).ok);
    CHECK(pair.server.hostname() == "localhost"sv);  // SNI was sent
  }
  SUBCASE("a context-level verify_hostname names it for every connection") {
    auto pinned = client_builder().verify_hostname("localhost").build().value();
    CHECK(handshake(pinned, server, "").outcome.ok);
    auto wrong = client_builder().verify_hostname("example.com").build().value();
    Attempt o = handshake(wrong, server, "");
    CHECK_FALSE(o.outcome.ok);
    CHECK(o.pair.client.verify_result().code == X509_V_ERR_HOSTNAME_MISMATCH);
  }
  SUBCASE("danger_skip_hostname_verification allows it, verifying the chain only") {
    auto lax = client_builder().danger_skip_hostname_verification().build().value();
    CHECK(handshake(lax, server, "").outcome.ok);
  }
}

TEST_CASE("SNI is sent for DNS names and never for IP literals") {
  auto server = server_builder().build().value();
  auto client = client_builder().build().value();
  Attempt dns = handshake(client, server, "localhost");
  REQUIRE(dns.outcome.ok);
  CHECK(dns.pair.server.hostname() == "localhost"sv);
  Attempt ip = handshake(client, server, "127.0.0.1");
  REQUIRE_MESSAGE(ip.outcome.ok, ip.outcome.describe());  // the IP SAN matched
  CHECK_FALSE(ip.pair.server.hostname().has_value());
  Attempt wrong_ip = handshake(client, server, "10.0.0.1");
  CHECK_FALSE(wrong_ip.outcome.ok);
  CHECK(wrong_ip.pair.client.verify_result().code == X509_V_ERR_IP_ADDRESS_MISMATCH);
}

TEST_CASE("danger_accept_invalid_certs turns verification off, loudly named") {
  auto untrusting = ClientB::create().danger_accept_invalid_certs().build().value();
  CHECK(untrusting.verify_mode() == SslVerifyMode::NONE);
  auto server = server_builder().build().value();
  CHECK(handshake(untrusting, server, "").outcome.ok);
  // verify_peer() undoes it.
  auto again = ClientB::create().danger_accept_invalid_certs().verify_peer().build().value();
  CHECK(again.verify_mode() == SslVerifyMode::PEER);
}

TEST_CASE("trusted and untrusted chains; add_chain_cert supplies the intermediate") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    const Pki& p = pki();
    auto client = client_builder(v).build().value();
    CHECK(handshake(client, server_builder(v).build().value()).outcome.ok);

    auto no_chain = ServerB::create()
                        .max_proto_version(v)
                        .certificate(p.server.cert)
                        .private_key(p.server.key)
                        .build()
                        .value();
    Attempt missing = handshake(client, no_chain);
    CHECK_FALSE(missing.outcome.ok);
    CHECK(missing.pair.client.verify_result().code == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);

    auto other_root = testing::TestCa::create_root("another root").value();
    auto stranger =
        ClientB::create().max_proto_version(v).ca_cert(other_root.cert()).build().value();
    Attempt untrusted = handshake(stranger, server_builder(v).build().value());
    CHECK_FALSE(untrusted.outcome.ok);
    REQUIRE(untrusted.outcome.client_error);
    CHECK(untrusted.outcome.client_error->stack().contains(ERR_LIB_SSL,
                                                           SSL_R_CERTIFICATE_VERIFY_FAILED));
  }
}

TEST_CASE("server build() refuses incomplete or inconsistent configurations") {
  const Pki& p = pki();
  struct Case {
    const char* name;
    Result<SslCtx> result;
    const char* expect;
  };
  Case cases[] = {
      {"no certificate", ServerB::create().build(), "no certificate"},
      {"certificate without key", ServerB::create().certificate(p.server.cert).build(),
       "a certificate without its private key"},
      {"key of another certificate",
       ServerB::create().private_key(p.client.key).certificate(p.server.cert).build(),
       "SslCtxBuilder<Server>::build"},
      {"verify_client without CAs", server_builder().verify_client(true).build(),
       "client_ca_cert() or client_ca_file()"},
      {"client CA file missing", server_builder().client_ca_file("/nonexistent/ca.pem").build(),
       "/nonexistent/ca.pem"},
      {"session id context too long",
       server_builder().session_id_context(std::string(40, 'x')).build(),
       "exceeds the limit of 32"},
  };
  for (auto& c : cases) {
    CAPTURE(c.name);
    REQUIRE_FALSE(c.result.has_value());
    CHECK_MESSAGE(c.result.error().to_string().find(c.expect) != std::string::npos,
                  c.result.error().to_string());
  }
  CHECK(ERR_peek_error() == 0);
}

// ------------------------------------------------------------ client certificates

TEST_CASE("client certificates: required/requested x present/absent") {
  const Pki& p = pki();
  struct Case {
    const char* name;
    bool require;
    bool present;
    bool ok;
  };
  for (TlsVersion v : kVersions) {
    for (auto c : {Case{"required, present", true, true, true},
                   Case{"required, missing", true, false, false},
                   Case{"requested, present", false, true, true},
                   Case{"requested, absent", false, false, true}}) {
      CAPTURE(to_string(v));
      CAPTURE(c.name);
      auto server =
          server_builder(v).verify_client(c.require).client_ca_cert(p.root.cert()).build();
      REQUIRE_MESSAGE(server.has_value(), server.error().to_string());
      auto cb = client_builder(v);
      if (c.present) {
        cb.client_cert(p.client.cert)
            .client_chain_cert(p.intermediate.cert())
            .client_key(p.client.key);
      }
      auto client = std::move(cb).build().value();
      Attempt o = handshake(client, *server);
      CHECK_MESSAGE(o.outcome.ok == c.ok, o.outcome.describe());
      if (c.ok) {
        CHECK(o.pair.server.peer_certificate().has_value() == c.present);
      } else {
        REQUIRE(o.outcome.server_error);
        CHECK(o.outcome.server_error->stack().contains(ERR_LIB_SSL,
                                                       SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE));
      }
    }
  }
}

namespace {

// Builds a server that requires a client certificate and a client, each given its
// identity by `server_identity` / `client_identity` (both trust only the root), and
// checks that they complete a handshake of version `v` in which each side's chain went
// on the wire: the client verified leaf <- intermediate <- root, and the server saw the
// client's certificate.
void check_identities(TlsVersion v, const std::function<void(ServerB&)>& server_identity,
                      const std::function<void(ClientB&)>& client_identity) {
  const Pki& p = pki();
  ServerB sb = ServerB::create();
  sb.min_proto_version(v).max_proto_version(v);
  server_identity(sb);
  auto server = std::move(sb).verify_client(true).client_ca_cert(p.root.cert()).build();
  REQUIRE_MESSAGE(server.has_value(), server.error().to_string());
  ClientB cb = client_builder(v);
  client_identity(cb);
  auto client = std::move(cb).build();
  REQUIRE_MESSAGE(client.has_value(), client.error().to_string());
  Attempt o = handshake(*client, *server);
  REQUIRE_MESSAGE(o.outcome.ok, o.outcome.describe());
  CHECK(o.pair.client.verify_result().ok());
  CHECK(o.pair.client.peer_certificate().value().to_der().value() ==
        p.server.cert.to_der().value());
  CHECK(o.pair.server.peer_certificate().value().to_der().value() ==
        p.client.cert.to_der().value());
}

}  // namespace

TEST_CASE("identity_pkcs12: server and client identities from PKCS#12 archives") {
  const Pki& p = pki();
  auto server_p12 =
      Pkcs12::create("server pw", p.server.key, p.server.cert, p.server.chain).value().to_der();
  auto client_p12 =
      Pkcs12::create("client pw", p.client.key, p.client.cert, p.client.chain).value().to_der();
  REQUIRE(server_p12.has_value());
  REQUIRE(client_p12.has_value());
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    check_identities(
        v, [&](ServerB& b) { b.identity_pkcs12(*server_p12, "server pw"); },
        [&](ClientB& b) { b.identity_pkcs12(*client_p12, "client pw"); });
  }
}

TEST_CASE("identities from PEM files: fullchain and key, combined, encrypted, for both roles") {
  const Pki& p = pki();
  TempDir dir;
  auto pem = [](const auto& object) { return object.to_pem().value(); };
  const std::string server_chain =
      dir.write("server-fullchain.pem", pem(p.server.cert) + pem(p.intermediate.cert()));
  const std::string server_key = dir.write("server.key", pem(p.server.key));
  const std::string combined = dir.write(
      "server-combined.pem", pem(p.server.key) + pem(p.server.cert) + pem(p.intermediate.cert()));
  const std::string client_chain =
      dir.write("client-fullchain.pem", pem(p.client.cert) + pem(p.intermediate.cert()));
  const std::string client_key =
      dir.write("client.key", p.client.key.to_pem_encrypted("client pw").value());
  struct Case {
    std::string name;
    std::string chain;
    std::string key;
  };
  for (TlsVersion v : kVersions) {
    for (const Case& c : {Case{"separate files", server_chain, server_key},
                          Case{"one combined file", combined, combined}}) {
      CAPTURE(to_string(v));
      CAPTURE(c.name);
      // Both sides trust only the root: the intermediates must come from the files.
      check_identities(
          v, [&](ServerB& b) { b.certificate_chain_file(c.chain).private_key_file(c.key); },
          [&](ClientB& b) {
            b.certificate_chain_file(client_chain).private_key_file(client_key, "client pw");
          });
    }
  }
}

TEST_CASE("certificate_chain_file and private_key_file name the file and what it holds instead") {
  const Pki& p = pki();
  TempDir dir;
  const std::string key = dir.write("server.key", p.server.key.to_pem().value());
  const std::string cert = dir.write("server.pem", p.server.cert.to_pem().value());
  const std::string encrypted =
      dir.write("encrypted.key", p.server.key.to_pem_encrypted("pw").value());
  const auto der = p.server.cert.to_der().value();
  const std::string der_file =
      dir.write("server.der", std::string(reinterpret_cast<const char*>(der.data()), der.size()));
  const std::string other_key =
      dir.write("other.key", Pkey<Private>::generate_ec(EcCurve::P256).value().to_pem().value());
  struct Case {
    std::string name;
    std::function<void(ServerB&)> steps;
    std::vector<std::string> says;
  };
  const std::string missing = dir.path("missing.pem");
  const std::vector<Case> cases = {
      {"a key where the chain goes",
       [&](ServerB& b) { b.certificate_chain_file(key); },
       {"certificate_chain_file", key, "holds a PRIVATE KEY block, not a certificate"}},
      {"a certificate where the key goes",
       [&](ServerB& b) { b.certificate_chain_file(cert).private_key_file(cert); },
       {"private_key_file", cert, "holds a CERTIFICATE block, not a private key"}},
      {"a DER certificate",
       [&](ServerB& b) { b.certificate_chain_file(der_file); },
       {"certificate_chain_file", der_file, "holds no PEM block"}},
      {"a missing file",
       [&](ServerB& b) { b.certificate_chain_file(missing); },
       {"certificate_chain_file", missing, "No such file"}},
      {"an encrypted key without its passphrase",
       [&](ServerB& b) { b.certificate_chain_file(cert).private_key_file(encrypted); },
       {"private_key_file", encrypted, "the key is encrypted; give its passphrase"}},
      {"an encrypted key with a wrong passphrase",
       [&](ServerB& b) { b.certificate_chain_file(cert).private_key_file(encrypted, "wrong"); },
       {"private_key_file", encrypted, "wrong passphrase"}},
      {"a key that does not match the certificate",
       [&](ServerB& b) { b.certificate_chain_file(cert).private_key_file(other_key); },
       {"private_key_file"}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    ServerB b = ServerB::create();
    c.steps(b);
    auto built = std::move(b).build();
    REQUIRE_FALSE(built.has_value());
    const std::string text = built.error().to_string();
    for (const std::string& part : c.says) {
      CHECK_MESSAGE(text.find(part) != std::string::npos, text);
    }
  }
  // The passphrase overload reads the encrypted key.
  auto ok =
      ServerB::create().certificate_chain_file(cert).private_key_file(encrypted, "pw").build();
  CHECK_MESSAGE(ok.has_value(), ok.error().to_string());
}

TEST_CASE("sni_certificate: a server presents the certificate for the name asked for") {
  const Pki& p = pki();
  testing::LeafSpec spec;
  spec.dns_names = {"api.example"};
  const testing::Identity api = p.intermediate.issue(spec).value();
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    auto server = server_builder(v)
                      .sni_certificate("api.example", api.cert, api.key, api.chain)
                      .sni_unknown_name(UnknownServerName::Refuse)
                      .build();
    REQUIRE_MESSAGE(server.has_value(), server.error().to_string());
    auto client = client_builder(v).build().value();
    for (std::string_view host : {"api.example"sv, "localhost"sv}) {
      CAPTURE(host);
      Attempt o = handshake(client, *server, host);  // verifies the chain and the name
      REQUIRE_MESSAGE(o.outcome.ok, o.outcome.describe());
      const ossl::X509& expected = host == "api.example" ? api.cert : p.server.cert;
      CHECK(o.pair.client.peer_certificate()->to_der().value() == expected.to_der().value());
    }
    Attempt refused = handshake(client, *server, "other.example");
    CHECK_FALSE(refused.outcome.ok);
  }
  auto bad = ServerB::create().sni_certificate("10.0.0.1", api.cert, api.key).build();
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().to_string().find("SslCtxBuilder<Server>::sni_certificate") !=
        std::string::npos);
  CHECK(bad.error().to_string().find("is an IP address") != std::string::npos);
}

TEST_CASE("danger_key_log: both roles log the secrets of their connections") {
  std::vector<std::string> client_lines, server_lines;
  auto server = server_builder(TlsVersion::Tls12)
                    .danger_key_log([&](std::string_view l) { server_lines.emplace_back(l); })
                    .build()
                    .value();
  auto client = client_builder(TlsVersion::Tls12)
                    .danger_key_log([&](std::string_view l) { client_lines.emplace_back(l); })
                    .build()
                    .value();
  Attempt o = handshake(client, server);
  REQUIRE_MESSAGE(o.outcome.ok, o.outcome.describe());
  REQUIRE(client_lines.size() == 1);
  CHECK(client_lines == server_lines);
  CHECK(client_lines[0].starts_with("CLIENT_RANDOM "));
}

TEST_CASE("identity_pkcs12 refuses archives it cannot use, naming why") {
  const Pki& p = pki();
  auto good = Pkcs12::create("pw", p.server.key, p.server.cert).value().to_der().value();
  // A certificate-only archive, as some tools export a trust bundle.
  PKCS12* raw =
      PKCS12_create("pw", nullptr, nullptr, p.server.cert.native_handle(), nullptr, 0, 0, 0, 0, 0);
  REQUIRE(raw != nullptr);
  Pkcs12 cert_only_archive = Pkcs12::adopt(raw).value();
  auto cert_only = cert_only_archive.to_der().value();
  struct Case {
    const char* name;
    std::vector<std::byte> der;
    std::string_view passphrase;
    std::string_view says;
  };
  for (const auto& c :
       {Case{"wrong passphrase", good, "nope", "wrong passphrase"},
        Case{"no key in the archive", cert_only, "pw", "holds no private key"},
        Case{"not an archive", p.server.cert.to_der().value(), "pw", "Pkcs12::from_der"},
        Case{"empty input", {}, "pw", "empty input"}}) {
    CAPTURE(c.name);
    auto server = ServerB::create().identity_pkcs12(c.der, c.passphrase).build();
    REQUIRE_FALSE(server.has_value());
    const std::string text = server.error().to_string();
    CHECK_MESSAGE(text.find(c.says) != std::string::npos, text);
    CHECK(text.find("SslCtxBuilder<Server>::identity_pkcs12") != std::string::npos);
    CHECK(ERR_peek_error() == 0);
  }
}

TEST_CASE("a verified client resumes: the session id context is set by default") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    const Pki& p = pki();
    auto server =
        server_builder(v).verify_client(true).client_ca_cert(p.root.cert()).build().value();
    auto client = client_builder(v)
                      .client_cert(p.client.cert)
                      .client_chain_cert(p.intermediate.cert())
                      .client_key(p.client.key)
                      .build()
                      .value();
    Attempt first = handshake(client, server);
    REQUIRE(first.outcome.ok);
    if (v == TlsVersion::Tls13) read_tickets(first.pair.client);
    Pair second = make_pair(client, server);
    REQUIRE(second.client.set_peer_host("localhost").has_value());
    REQUIRE(second.client.set_session(*first.pair.client.get1_session()).has_value());
    REQUIRE(complete_handshake(second).ok);
    CHECK(second.client.session_reused());
  }
}

// ------------------------------------------------------- versions and ciphers

TEST_CASE("no version overlap fails the handshake") {
  auto server = server_builder(TlsVersion::Tls13).build().value();
  auto client = client_builder(TlsVersion::Tls12).build().value();
  Attempt o = handshake(client, server);
  CHECK_FALSE(o.outcome.ok);
  REQUIRE(o.outcome.server_error);
  CHECK(o.outcome.server_error->stack().contains(ERR_LIB_SSL, SSL_R_UNSUPPORTED_PROTOCOL));
}

TEST_CASE("cipher lists with nothing in common fail the handshake") {
  struct Case {
    TlsVersion version;
    const char* client;
    const char* server;
  };
  for (auto c :
       {Case{TlsVersion::Tls12, "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"},
        Case{TlsVersion::Tls13, "TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256"}}) {
    CAPTURE(to_string(c.version));
    auto cb = client_builder(c.version);
    auto sb = server_builder(c.version);
    if (c.version == TlsVersion::Tls12) {
      cb.cipher_list(c.client);
      sb.cipher_list(c.server);
    } else {
      cb.ciphersuites(c.client);
      sb.ciphersuites(c.server);
    }
    Attempt o = handshake(std::move(cb).build().value(), std::move(sb).build().value());
    CHECK_FALSE(o.outcome.ok);
    REQUIRE(o.outcome.server_error);
    CHECK(o.outcome.server_error->stack().contains(ERR_LIB_SSL, SSL_R_NO_SHARED_CIPHER));
  }
}

TEST_CASE("Mozilla presets set what the guideline says") {
  SUBCASE("modern: TLS 1.3 only") {
    auto ctx = ClientB::create().mozilla_modern().build().value();
    CHECK(ctx.min_proto_version() == TlsVersion::Tls13);
    CHECK(ctx.max_proto_version() == TlsVersion::Tls13);
    auto old_server = server_builder(TlsVersion::Tls12).build().value();
    auto modern_client = client_builder().mozilla_modern().build().value();
    CHECK_FALSE(handshake(modern_client, old_server).outcome.ok);
    auto modern_server = server_builder().mozilla_modern().build().value();
    Attempt o = handshake(modern_client, modern_server);
    REQUIRE(o.outcome.ok);
    CHECK(o.pair.client.version() == TlsVersion::Tls13);
  }
  SUBCASE("intermediate: TLS 1.2 and 1.3 with the guideline's TLS 1.2 ciphers") {
    auto ctx = ServerB::create().mozilla_intermediate();
    auto built = std::move(ctx)
                     .certificate(pki().server.cert)
                     .add_chain_cert(pki().intermediate.cert())
                     .private_key(pki().server.key)
                     .build();
    REQUIRE(built.has_value());
    CHECK(built->min_proto_version() == TlsVersion::Tls12);
    CHECK(built->max_proto_version() == TlsVersion::Tls13);
    std::set<std::string> tls12;
    STACK_OF(SSL_CIPHER)* ciphers = SSL_CTX_get_ciphers(built->native_handle());  // get0
    for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); ++i) {
      const SSL_CIPHER* c = sk_SSL_CIPHER_value(ciphers, i);
      if (std::string_view(SSL_CIPHER_get_version(c)) != "TLSv1.3") {  // the TLS 1.2 list
        tls12.insert(SSL_CIPHER_get_name(c));
      }
    }
    const std::set<std::string> expected = {
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
        "DHE-RSA-AES128-GCM-SHA256",     "DHE-RSA-AES256-GCM-SHA384",
        "DHE-RSA-CHACHA20-POLY1305"};
    CHECK(tls12 == expected);
    auto client = client_builder(TlsVersion::Tls12)
                      .mozilla_intermediate()
                      .max_proto_version(TlsVersion::Tls12)
                      .build()
                      .value();
    Attempt o = handshake(client, *built);
    REQUIRE_MESSAGE(o.outcome.ok, o.outcome.describe());
    CHECK(o.pair.client.cipher_name() == "ECDHE-ECDSA-AES128-GCM-SHA256");
  }
}

TEST_CASE("session cache mode reads back from the built context") {
  auto off = ClientB::create().session_cache_mode(0).build().value();
  CHECK(off.session_cache_mode() == SessionCacheMode::OFF);
  auto both = server_builder().session_cache_mode(SessionCacheMode::BOTH).build().value();
  CHECK(both.session_cache_mode() == SessionCacheMode::BOTH);
}

// ------------------------------------------------------------------------ ALPN

TEST_CASE("ALPN: server preference, several offers, no overlap by policy, no offer") {
  struct Case {
    const char* name;
    std::vector<std::string_view> server;
    std::vector<std::string_view> client;  // empty: the client offers no ALPN
    AlpnMismatch policy;
    bool ok;
    std::string_view selected;
  };
  const Case cases[] = {
      {"server preference wins",
       {"h2", "http/1.1"},
       {"http/1.1", "h2"},
       AlpnMismatch::Fail,
       true,
       "h2"},
      {"one in common",
       {"h2", "http/1.1"},
       {"spdy/3", "http/1.1"},
       AlpnMismatch::Fail,
       true,
       "http/1.1"},
      {"no overlap, fail", {"h2"}, {"http/1.1"}, AlpnMismatch::Fail, false, ""},
      {"no overlap, continue", {"h2"}, {"http/1.1"}, AlpnMismatch::Continue, true, ""},
      {"client offers none", {"h2", "http/1.1"}, {}, AlpnMismatch::Fail, true, ""},
      {"server has none", {}, {"h2"}, AlpnMismatch::Fail, true, ""},
  };
  for (TlsVersion v : kVersions) {
    for (const auto& c : cases) {
      CAPTURE(to_string(v));
      CAPTURE(c.name);
      auto sb = server_builder(v).alpn_on_mismatch(c.policy);
      if (!c.server.empty()) sb.alpn_protos_list(c.server);
      auto cb = client_builder(v);
      if (!c.client.empty()) cb.alpn_protos_list(c.client);
      Attempt o = handshake(std::move(cb).build().value(), std::move(sb).build().value());
      CHECK_MESSAGE(o.outcome.ok == c.ok, o.outcome.describe());
      if (c.ok) {
        CHECK(o.pair.client.alpn_selected() == c.selected);
        CHECK(o.pair.server.alpn_selected() == c.selected);
      } else {
        REQUIRE(o.outcome.server_error);
        CHECK(o.outcome.server_error->stack().contains(ERR_LIB_SSL, SSL_R_NO_APPLICATION_PROTOCOL));
        // The helper stopped at the server's failure; the client now reads the alert.
        auto alert = o.pair.client.do_handshake();
        REQUIRE_FALSE(alert.has_value());
        CHECK_MESSAGE(
            alert.error().stack().contains(ERR_LIB_SSL, SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL),
            alert.error().to_string());
      }
    }
  }
}

TEST_CASE("ALPN: a custom selector picks; a name nobody offered fails the handshake") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    auto last = server_builder(v)
                    .alpn_select_callback([](std::span<const std::string_view> offered) {
                      return std::optional<std::string_view>(offered.back());
                    })
                    .build()
                    .value();
    auto client =
        client_builder(v).alpn_protos_list({"h2", "http/1.1", "x-custom"}).build().value();
    Attempt o = handshake(client, last);
    REQUIRE(o.outcome.ok);
    CHECK(o.pair.client.alpn_selected() == "x-custom");

    auto liar = server_builder(v)
                    .alpn_select_callback([](std::span<const std::string_view>) {
                      return std::optional<std::string_view>("never-offered");
                    })
                    .build()
                    .value();
    CHECK_FALSE(handshake(client, liar).outcome.ok);

    auto none = server_builder(v)
                    .alpn_on_mismatch(AlpnMismatch::Continue)
                    .alpn_select_callback([](std::span<const std::string_view>) {
                      return std::optional<std::string_view>();
                    })
                    .build()
                    .value();
    Attempt n = handshake(client, none);
    REQUIRE(n.outcome.ok);
    CHECK(n.pair.client.alpn_selected().empty());
  }
}

TEST_CASE("ALPN lists are validated at the step that takes them") {
  const std::string too_long(256, 'a');
  struct Case {
    const char* name;
    Result<SslCtx> result;
    const char* expect;
  };
  Case cases[] = {
      {"empty name", ClientB::create().alpn_protos_list({"h2", ""}).build(),
       "SslCtxBuilder<Client>::alpn_protos_list"},
      {"name over 255 bytes", ClientB::create().alpn_protos_list({too_long}).build(),
       "at most 255"},
      {"bad length prefix", ClientB::create().alpn_protocols("\x05h2"sv).build(),
       "runs past the end"},
      {"zero length prefix", server_builder().alpn_protocols("\x02h2\x00"sv).build(),
       "SslCtxBuilder<Server>::alpn_protocols"},
  };
  for (auto& c : cases) {
    CAPTURE(c.name);
    REQUIRE_FALSE(c.result.has_value());
    CHECK_MESSAGE(c.result.error().to_string().find(c.expect) != std::string::npos,
                  c.result.error().to_string());
  }
  auto wire = ClientB::create().alpn_protocols("\x02h2\x08http/1.1"sv).build();
  CHECK(wire.has_value());
}

// ---------------------------------------------------------------- hostnames

TEST_CASE("hostname checks: certificate names x hostnames x flags, through handshakes") {
  using HF = HostnameFlags;
  struct Case {
    const char* name;
    std::vector<std::string> dns;
    std::vector<std::string> ips;
    const char* cn;
    const char* host;
    HostnameFlags flags;
    long expect;          // X509_V_OK or the verify error, with danger_match_subject_common_name()
    bool via_cn = false;  // matches only through the subject CN: the default refuses it
  };
  const long kMismatch = X509_V_ERR_HOSTNAME_MISMATCH;
  const Case cases[] = {
      {"exact match",
       {"www.example.com"},
       {},
       "leaf",
       "www.example.com",
       HF::NO_PARTIAL_WILDCARDS,
       X509_V_OK},
      {"wrong host",
       {"www.example.com"},
       {},
       "leaf",
       "mail.example.com",
       HF::NO_PARTIAL_WILDCARDS,
       kMismatch},
      {"wildcard, one label",
       {"*.example.com"},
       {},
       "leaf",
       "a.example.com",
       HF::NO_PARTIAL_WILDCARDS,
       X509_V_OK},
      {"wildcard, two labels",
       {"*.example.com"},
       {},
       "leaf",
       "a.b.example.com",
       HF::NO_PARTIAL_WILDCARDS,
       kMismatch},
      {"wildcard, bare domain",
       {"*.example.com"},
       {},
       "leaf",
       "example.com",
       HF::NO_PARTIAL_WILDCARDS,
       kMismatch},
      {"wildcard, NO_WILDCARDS",
       {"*.example.com"},
       {},
       "leaf",
       "a.example.com",
       HF::NO_WILDCARDS,
       kMismatch},
      {"partial wildcard allowed",
       {"f*.example.com"},
       {},
       "leaf",
       "foo.example.com",
       HF::NONE,
       X509_V_OK},
      {"partial wildcard refused",
       {"f*.example.com"},
       {},
       "leaf",
       "foo.example.com",
       HF::NO_PARTIAL_WILDCARDS,
       kMismatch},
      {"IP SAN, IP literal",
       {},
       {"127.0.0.1"},
       "leaf",
       "127.0.0.1",
       HF::NO_PARTIAL_WILDCARDS,
       X509_V_OK},
      {"IP SAN, other IP",
       {},
       {"127.0.0.1"},
       "leaf",
       "127.0.0.2",
       HF::NO_PARTIAL_WILDCARDS,
       X509_V_ERR_IP_ADDRESS_MISMATCH},
      {"IPv6 SAN", {}, {"::1"}, "leaf", "::1", HF::NO_PARTIAL_WILDCARDS, X509_V_OK},
      {"IP literal vs DNS SAN",
       {"127.0.0.1.example"},
       {},
       "leaf",
       "127.0.0.1",
       HF::NONE,
       X509_V_ERR_IP_ADDRESS_MISMATCH},
      {"name only in the CN",
       {},
       {},
       "cn-only.example.com",
       "cn-only.example.com",
       HF::NO_PARTIAL_WILDCARDS,
       X509_V_OK,
       true},
      {"name only in the CN, NEVER_CHECK_SUBJECT",
       {},
       {},
       "cn-only.example.com",
       "cn-only.example.com",
       HF::NEVER_CHECK_SUBJECT,
       kMismatch},
      {"CN ignored beside DNS SANs",
       {"san.example.com"},
       {},
       "cn.example.com",
       "cn.example.com",
       HF::NONE,
       kMismatch},
      {"CN checked with ALWAYS_CHECK_SUBJECT",
       {"san.example.com"},
       {},
       "cn.example.com",
       "cn.example.com",
       HF::ALWAYS_CHECK_SUBJECT,
       X509_V_OK,
       true},
      {"leading dot, any depth",
       {"a.b.example.com"},
       {},
       "leaf",
       ".example.com",
       HF::NONE,
       X509_V_OK},
      {"leading dot, SINGLE_LABEL_SUBDOMAINS",
       {"a.b.example.com"},
       {},
       "leaf",
       ".example.com",
       HF::SINGLE_LABEL_SUBDOMAINS,
       kMismatch},
      {"leading dot, one label",
       {"a.example.com"},
       {},
       "leaf",
       ".example.com",
       HF::SINGLE_LABEL_SUBDOMAINS,
       X509_V_OK},
  };
  const SslCtx strict = client_builder().build().value();
  const SslCtx lenient = client_builder().danger_match_subject_common_name().build().value();
  for (const auto& c : cases) {
    CAPTURE(std::string(c.name));
    testing::LeafSpec spec;
    spec.common_name = c.cn;
    spec.dns_names = c.dns;
    spec.ip_addresses = c.ips;
    auto id = pki().intermediate.issue(spec).value();
    auto server = ServerB::create()
                      .certificate(id.cert)
                      .add_chain_cert(pki().intermediate.cert())
                      .private_key(id.key)
                      .build()
                      .value();
    for (const bool default_policy : {true, false}) {
      CAPTURE(default_policy);
      const long expect = default_policy && c.via_cn ? kMismatch : c.expect;
      Pair pair = make_pair(default_policy ? strict : lenient, server);
      pair.client.set_verify_hostname_flags(c.flags);
      REQUIRE(pair.client.set_verify_hostname(c.host).has_value());
      const HandshakeOutcome out = complete_handshake(pair);
      CHECK_MESSAGE(out.ok == (expect == X509_V_OK), out.describe());
      CHECK(pair.client.verify_result().code == expect);
      if (expect != X509_V_OK) {
        REQUIRE(out.client_error);
        CHECK(out.client_error->stack().contains(ERR_LIB_SSL, SSL_R_CERTIFICATE_VERIFY_FAILED));
      }
      if (default_policy && c.via_cn) {  // the refusal says why, in the error and the result
        CHECK(out.describe().find("only in its subject common name") != std::string::npos);
        CHECK(pair.client.verify_result().message().find("only in its subject common name") !=
              std::string_view::npos);
      }
    }
  }
}

TEST_CASE("set_peer_host refuses partial wildcards unless its flags allow them") {
  testing::LeafSpec spec;
  spec.dns_names = {"f*.example.com"};
  auto id = pki().intermediate.issue(spec).value();
  auto server = ServerB::create()
                    .certificate(id.cert)
                    .add_chain_cert(pki().intermediate.cert())
                    .private_key(id.key)
                    .build()
                    .value();
  auto client = client_builder().build().value();
  Pair strict = make_pair(client, server);
  REQUIRE(strict.client.set_peer_host("foo.example.com").has_value());
  CHECK_FALSE(complete_handshake(strict).ok);
  CHECK(strict.client.verify_result().code == X509_V_ERR_HOSTNAME_MISMATCH);
  Pair lax = make_pair(client, server);
  REQUIRE(lax.client.set_peer_host("foo.example.com", HostnameFlags::NONE).has_value());
  CHECK(complete_handshake(lax).ok);
}

TEST_CASE("client_ca_file adds to the CA names client_ca_cert listed, never replaces them") {
  const Pki& p = pki();
  char path[] = "/tmp/ossl-client-ca-XXXXXX";
  const int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  const std::string pem = p.root.cert().to_pem().value();
  REQUIRE(::write(fd, pem.data(), pem.size()) == static_cast<ssize_t>(pem.size()));
  ::close(fd);
  auto server = server_builder()
                    .verify_client(true)
                    .client_ca_cert(p.intermediate.cert())
                    .client_ca_file(path)
                    .build();
  ::unlink(path);
  REQUIRE_MESSAGE(server.has_value(), server.error().to_string());
  // get0: the context's list of names sent in the CertificateRequest.
  const STACK_OF(X509_NAME)* names = SSL_CTX_get_client_CA_list(server->native_handle());
  REQUIRE(names != nullptr);
  CHECK(sk_X509_NAME_num(names) == 2);
}

// ------------------------------------------------------------ security level

namespace {

constexpr const char* kSecLevelCase =
    "builders set security level 2: RSA-1024 and 1024-bit DHE refused under a level-1 config";

// A raw server context at security level 0 presenting `id`, TLS 1.2 only.
SSL_CTX* weak_server(const testing::Identity& id) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  REQUIRE(ctx != nullptr);
  SSL_CTX_set_security_level(ctx, 0);
  REQUIRE(SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION) == 1);
  REQUIRE(SSL_CTX_use_certificate(ctx, id.cert.native_handle()) == 1);
  REQUIRE(SSL_CTX_use_PrivateKey(ctx, id.key.native_handle()) == 1);
  for (const auto& c : id.chain)
    REQUIRE(SSL_CTX_add1_chain_cert(ctx, c.native_handle()) == 1);
  return ctx;
}

// The 1024-bit MODP group of RFC 2409 (generator 2) as DH parameters.
EVP_PKEY* dh1024() {
  BIGNUM* p = BN_get_rfc2409_prime_1024(nullptr);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  REQUIRE((p != nullptr && bld != nullptr));
  REQUIRE(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_P, p) == 1);
  REQUIRE(OSSL_PARAM_BLD_push_uint(bld, OSSL_PKEY_PARAM_FFC_G, 2) == 1);
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* pctx = EVP_PKEY_CTX_new_from_name(nullptr, "DH", nullptr);
  EVP_PKEY* dh = nullptr;
  REQUIRE(EVP_PKEY_fromdata_init(pctx) == 1);
  REQUIRE(EVP_PKEY_fromdata(pctx, &dh, EVP_PKEY_KEY_PARAMETERS, params) == 1);
  EVP_PKEY_CTX_free(pctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_free(p);
  return dh;
}

// A raw client at the configuration's level (the control: what OpenSSL alone accepts).
SslCtx raw_client(const char* ciphers) {
  auto ctx = SslCtx::new_client().value();
  ctx.set_verify(SslVerifyMode::PEER);
  REQUIRE(ctx.add_trusted_cert(pki().root.cert()).has_value());
  REQUIRE(ctx.set_cipher_list(ciphers).has_value());
  return ctx;
}

}  // namespace

TEST_CASE(
    "builders set security level 2: RSA-1024 and 1024-bit DHE refused under a level-1 config") {
  if (std::getenv("OSSL_TEST_SECLEVEL1") == nullptr) {
    // Run this test case again in a child process whose OpenSSL configuration (read
    // once, at initialisation) sets security level 1, as upstream OpenSSL 3.0/3.1 do.
    TempDir dir;
    const std::string conf = dir.path("seclevel1.cnf");
    {
      std::FILE* f = std::fopen(conf.c_str(), "w");
      REQUIRE(f != nullptr);
      std::fputs(
          "openssl_conf = init\n[init]\nssl_conf = ssl\n[ssl]\nsystem_default = sys\n"
          "[sys]\nCipherString = DEFAULT@SECLEVEL=1\n",
          f);
      std::fclose(f);
    }
    ::setenv("OPENSSL_CONF", conf.c_str(), 1);
    ::setenv("OSSL_TEST_SECLEVEL1", "1", 1);
    const RunResult child = run({self_path(), std::string("--test-case=") + kSecLevelCase}, 120s);
    ::unsetenv("OSSL_TEST_SECLEVEL1");
    ::unsetenv("OPENSSL_CONF");
    CHECK_MESSAGE(child.status == 0, child.output);
    CHECK_MESSAGE(child.output.find("1 passed") != std::string::npos, child.output);
    return;
  }
  // The configuration took effect: a context OpenSSL makes starts at level 1.
  SSL_CTX* plain = SSL_CTX_new(TLS_method());
  REQUIRE(plain != nullptr);
  REQUIRE(SSL_CTX_get_security_level(plain) == 1);
  SSL_CTX_free(plain);
  CHECK(SSL_CTX_get_security_level(client_builder().build().value().native_handle()) == 2);
  CHECK(SSL_CTX_get_security_level(server_builder().build().value().native_handle()) == 2);

  SUBCASE("an RSA-1024 server certificate") {
    testing::LeafSpec spec;
    spec.dns_names = {"localhost"};
    spec.key_type = testing::KeyType::Rsa1024;
    const testing::Identity weak = pki().intermediate.issue(spec).value();
    const SslCtx server = SslCtx::adopt(weak_server(weak)).value();
    CHECK(handshake(raw_client("DEFAULT"), server).outcome.ok);  // level 1 accepts it
    Attempt o = handshake(client_builder(TlsVersion::Tls12).build().value(), server);
    CHECK_FALSE(o.outcome.ok);
    CHECK(o.pair.client.verify_result().code == X509_V_ERR_EE_KEY_TOO_SMALL);
  }
  SUBCASE("1024-bit DHE parameters") {
    testing::LeafSpec spec;
    spec.dns_names = {"localhost"};
    spec.key_type = testing::KeyType::Rsa2048;
    const testing::Identity rsa = pki().intermediate.issue(spec).value();
    SSL_CTX* raw = weak_server(rsa);
    REQUIRE(SSL_CTX_set0_tmp_dh_pkey(raw, dh1024()) == 1);  // takes the key
    // Clients that offer no FFDHE group (RFC 7919): a server then uses its own DH
    // parameters instead of negotiating ffdhe2048 and up, as OpenSSL 4.0 would.
    const SslCtx server = SslCtx::adopt(raw).value();
    constexpr const char* kDhe = "DHE-RSA-AES128-GCM-SHA256";
    SslCtx control_client = raw_client(kDhe);
    REQUIRE(control_client.set_groups_list("X25519:P-256").has_value());
    Attempt control = handshake(control_client, server);
    REQUIRE_MESSAGE(control.outcome.ok, control.outcome.describe());  // level 1 accepts it
    CHECK(control.pair.client.cipher_name() == kDhe);
    Attempt o = handshake(client_builder(TlsVersion::Tls12)
                              .cipher_list(kDhe)
                              .groups_list("X25519:P-256")
                              .build()
                              .value(),
                          server);
    CHECK_FALSE(o.outcome.ok);
    REQUIRE(o.outcome.client_error);
    CHECK(o.outcome.client_error->stack().contains(ERR_LIB_SSL, SSL_R_DH_KEY_TOO_SMALL));
  }
  ERR_clear_error();
}

TEST_CASE("mozilla_intermediate offers DHE with ffdhe2048 parameters") {
  testing::LeafSpec spec;
  spec.dns_names = {"localhost"};
  spec.key_type = testing::KeyType::Rsa2048;
  const testing::Identity rsa = pki().intermediate.issue(spec).value();
  auto server = ServerB::create()
                    .mozilla_intermediate()
                    .certificate(rsa.cert)
                    .add_chain_cert(pki().intermediate.cert())
                    .private_key(rsa.key)
                    .build();
  REQUIRE_MESSAGE(server.has_value(), server.error().to_string());
  constexpr const char* kDhe = "DHE-RSA-AES128-GCM-SHA256";
  auto client = client_builder(TlsVersion::Tls12).cipher_list(kDhe).build().value();
  Attempt o = handshake(client, *server);
  REQUIRE_MESSAGE(o.outcome.ok, o.outcome.describe());
  CHECK(o.pair.client.cipher_name() == kDhe);
  // The server's DH group: 2048 bits, as the RSA-2048 certificate calls for.
  EVP_PKEY* tmp = nullptr;
  REQUIRE(SSL_get_peer_tmp_key(o.pair.client.native_handle(), &tmp) == 1);
  CHECK(EVP_PKEY_get_bits(tmp) == 2048);
  EVP_PKEY_free(tmp);
}

TEST_CASE("presets keep the post-quantum hybrid group first where OpenSSL has it") {
  // Whether the linked OpenSSL knows the group, asked of OpenSSL itself.
  SSL_CTX* probe = SSL_CTX_new(TLS_method());
  REQUIRE(probe != nullptr);
  ERR_set_mark();
  const bool has_hybrid = SSL_CTX_set1_groups_list(probe, "X25519MLKEM768") == 1;
  ERR_pop_to_mark();
  SSL_CTX_free(probe);
  CAPTURE(has_hybrid);
  auto server = server_builder().mozilla_modern().build().value();
  auto client = client_builder().mozilla_modern().build().value();
  Attempt o = handshake(client, server);
  REQUIRE(o.outcome.ok);
  CHECK(o.pair.client.group_name() == (has_hybrid ? "X25519MLKEM768" : "x25519"));
}

TEST_CASE("a default server accepts only forward-secret AEAD suites in TLS 1.2") {
  // Every TLS 1.2 suite OpenSSL knows, offered alone by a client that accepts anything
  // (security level 0), against default servers with an ECDSA and with an RSA
  // certificate: the suites accepted are listed, and must all be ECDHE + AEAD.
  SSL_CTX* all = SSL_CTX_new(TLS_client_method());
  REQUIRE(all != nullptr);
  REQUIRE(SSL_CTX_set_cipher_list(all, "ALL:COMPLEMENTOFALL:@SECLEVEL=0") == 1);
  std::vector<std::string> names;
  STACK_OF(SSL_CIPHER)* ciphers = SSL_CTX_get_ciphers(all);
  for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); ++i) {
    const SSL_CIPHER* c = sk_SSL_CIPHER_value(ciphers, i);
    // The TLS 1.3 suites are configured apart (and are all forward-secret AEAD).
    if (std::string_view(SSL_CIPHER_get_version(c)) != "TLSv1.3")
      names.emplace_back(SSL_CIPHER_get_name(c));
  }
  SSL_CTX_free(all);
  REQUIRE(names.size() > 20);  // RSA, DHE, PSK, CBC, ... suites to refuse

  testing::LeafSpec spec;
  spec.dns_names = {"localhost"};
  spec.key_type = testing::KeyType::Rsa2048;
  const testing::Identity rsa = pki().intermediate.issue(spec).value();
  struct Server {
    const char* name;
    SslCtx ctx;
    std::vector<std::string> expected;
  };
  Server servers[] = {
      {"ECDSA",
       server_builder(TlsVersion::Tls12).build().value(),
       {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305"}},
      {"RSA",
       ServerB::create()
           .max_proto_version(TlsVersion::Tls12)
           .certificate(rsa.cert)
           .add_chain_cert(pki().intermediate.cert())
           .private_key(rsa.key)
           .build()
           .value(),
       {"ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-RSA-CHACHA20-POLY1305"}},
  };
  for (Server& server : servers) {
    CAPTURE(std::string(server.name));
    std::vector<std::string> accepted;
    for (const std::string& name : names) {
      SslCtx client = raw_client((name + ":@SECLEVEL=0").c_str());
      REQUIRE(client.set_max_proto_version(TlsVersion::Tls12).has_value());
      if (handshake(client, server.ctx).outcome.ok) accepted.push_back(name);
    }
    ERR_clear_error();
    std::string list;
    for (const auto& a : accepted)
      list += a + " ";
    CAPTURE(list);
    std::sort(accepted.begin(), accepted.end());
    std::sort(server.expected.begin(), server.expected.end());
    CHECK(accepted == server.expected);
  }
}
