#include <ossl/session.hpp>  // first: proves the header is self-contained

#include "support/free_counter.hpp"
#include "support/handshake.hpp"

#include <doctest/doctest.h>
#include <openssl/err.h>

#include <chrono>
#include <string>
#include <string_view>

using namespace ossl;
using namespace ossl_test;

TEST_CASE("TLS 1.3: the session becomes resumable only after the client reads the tickets") {
  Contexts ctx = make_contexts(Config{.version = TlsVersion::Tls13});
  Pair first = connect(ctx);
  auto early = first.client.get1_session();
  REQUIRE(early);
  CHECK_FALSE(early->is_resumable());

  read_tickets(first.client);
  auto session = first.client.get1_session();
  REQUIRE(session);
  CHECK(session->is_resumable());
  CHECK(session->has_ticket());
  CHECK(session->protocol_version() == TlsVersion::Tls13);

  Pair second = connect(ctx, *session);
  CHECK(second.client.session_reused());
  CHECK(second.server.session_reused());
}

TEST_CASE("TLS 1.2: the session is resumable right after the handshake and resumes") {
  Contexts ctx = make_contexts(Config{.version = TlsVersion::Tls12});
  Pair first = connect(ctx);
  auto session = first.client.get1_session();
  REQUIRE(session);
  CHECK(session->is_resumable());
  CHECK(session->protocol_version() == TlsVersion::Tls12);
  CHECK(session->cipher_name() == first.client.cipher_name());
  CHECK(session->timeout().count() > 0);
  const auto age = SslSession::Clock::now() - session->time();
  CHECK(age >= std::chrono::seconds(-2));
  CHECK(age < std::chrono::seconds(60));
  CHECK_FALSE(session->id().empty());
  // No servername callback: the server does not acknowledge SNI, so OpenSSL records
  // no hostname in the session on either side.
  CHECK(session->hostname().empty());

  Pair second = connect(ctx, *session);
  CHECK(second.client.session_reused());
}

TEST_CASE("resumption with a session of a verified client (session id context set)") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    Contexts ctx = make_contexts(Config{.version = v, .client_cert = true});
    Pair first = connect(ctx);
    if (v == TlsVersion::Tls13) read_tickets(first.client);
    Pair second = connect(ctx, *first.client.get1_session());
    CHECK(second.client.session_reused());
  }
}

TEST_CASE("a session survives DER serialisation and still resumes") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    Contexts ctx = make_contexts(Config{.version = v});
    Pair first = connect(ctx);
    if (v == TlsVersion::Tls13) read_tickets(first.client);
    auto der = first.client.get1_session()->to_der();
    REQUIRE(der.has_value());
    auto restored = SslSession::from_der(*der);
    REQUIRE(restored.has_value());
    CHECK(restored->is_resumable());
    CHECK(restored->protocol_version() == v);
    Pair second = connect(ctx, *restored);
    CHECK(second.client.session_reused());
  }
}

TEST_CASE("session() holds a reference of its own; get1_session() owns one") {
  static const int idx = free_counter_index(CRYPTO_EX_INDEX_SSL_SESSION);
  Contexts ctx = make_contexts(Config{.version = TlsVersion::Tls12});
  SUBCASE("the handle keeps the session alive after its Ssl is gone") {
    int frees = 0;
    Pair pair = connect(ctx);
    {
      auto handle = pair.client.session();
      REQUIRE(handle);
      REQUIRE(SSL_SESSION_set_ex_data((*handle)->native_handle(), idx, &frees) == 1);
      CHECK((*handle)->native_handle() == SSL_get_session(pair.client.native_handle()));
      auto copy = *handle;  // a copy is one more reference
      auto& alias = copy;
      copy = alias;  // self-assignment keeps it
      CHECK(copy->native_handle() == (*handle)->native_handle());
      pair.client = Ssl();  // the client cache is off by default
      CHECK(frees == 0);    // both handles still hold it
      CHECK(copy->protocol_version() == TlsVersion::Tls12);
    }
    CHECK(frees == 1);  // the last handle released it
  }
  SUBCASE("owned: the session outlives its Ssl") {
    int frees = 0;
    Pair pair = connect(ctx);
    auto owned = pair.client.get1_session();
    REQUIRE(owned);
    REQUIRE(SSL_SESSION_set_ex_data(owned->native_handle(), idx, &frees) == 1);
    REQUIRE(pair.client.shutdown().has_value());  // see the next test case
    pair.client = Ssl();
    CHECK(frees == 0);
    CHECK(owned->is_resumable());
    SslSession copy = *owned;  // up-ref copy
    owned.reset();
    CHECK(frees == 0);
    copy = SslSession();
    CHECK(frees == 1);
  }
  SUBCASE("a borrowed view converts into an owned copy") {
    Pair pair = connect(ctx);
    SslSession kept = **pair.client.session();  // up-ref copy of the borrowed session
    REQUIRE(pair.client.shutdown().has_value());
    pair.client = Ssl();
    CHECK(kept.is_resumable());
  }
}

TEST_CASE("a connection freed without shutdown() leaves its session unresumable") {
  // OpenSSL's rule (ssl_clear_bad_session): a connection that did not send
  // close_notify may have been cut, so SSL_free marks its session not resumable.
  for (bool clean : {true, false}) {
    CAPTURE(clean);
    Contexts ctx = make_contexts(Config{.version = TlsVersion::Tls12});
    Pair pair = connect(ctx);
    auto session = pair.client.get1_session();
    REQUIRE(session);
    if (clean) REQUIRE(pair.client.shutdown().value() == ShutdownResult::Sent);
    pair.client = Ssl();
    CHECK(session->is_resumable() == clean);
  }
}

TEST_CASE("bad session input is a clear error") {
  struct Case {
    const char* name;
    std::vector<std::byte> der;
    const char* expect;
  };
  std::vector<std::byte> garbage(40, std::byte{0x5a});
  Contexts ctx = make_contexts(Config{.version = TlsVersion::Tls12});
  Pair pair = connect(ctx);
  auto good = pair.client.get1_session()->to_der().value();
  auto truncated = good;
  truncated.resize(good.size() / 2);
  auto trailing = good;
  trailing.push_back(std::byte{0});
  for (const auto& c : {Case{"empty", {}, "empty input"}, Case{"garbage", garbage, "from_der"},
                        Case{"truncated", truncated, "from_der"},
                        Case{"trailing bytes", trailing, "1 trailing bytes"}}) {
    CAPTURE(c.name);
    auto r = SslSession::from_der(c.der);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().to_string().find(c.expect) != std::string::npos);
    CHECK(ERR_peek_error() == 0);
  }
  SSL_SESSION* raw = SSL_get1_session(pair.client.native_handle());
  REQUIRE(raw != nullptr);
  auto shared = SslSession::share(raw);  // adds a reference; ours is still ours
  SSL_SESSION_free(raw);
  REQUIRE(shared.has_value());
  CHECK(shared->is_resumable());
  auto null = SslSession::adopt(nullptr);
  REQUIRE_FALSE(null.has_value());
  CHECK(null.error().to_string().find("SslSession::adopt: null pointer") != std::string::npos);
  SslSession empty;
  CHECK_FALSE(empty.to_der().has_value());
  CHECK_FALSE(empty.is_resumable());
  CHECK(empty.id().empty());
}

TEST_CASE("TLS 1.3: a session() handle stays valid while tickets replace the session") {
  // A TLS 1.3 client replaces its session for every NewSessionTicket it reads; a view
  // without a reference would point at freed memory here (valgrind: invalid read).
  static const int idx = free_counter_index(CRYPTO_EX_INDEX_SSL_SESSION);
  Contexts ctx = make_contexts(Config{.version = TlsVersion::Tls13});
  Pair pair = connect(ctx);
  auto before = pair.client.session();
  REQUIRE(before);
  int frees = 0;
  REQUIRE(SSL_SESSION_set_ex_data((*before)->native_handle(), idx, &frees) == 1);
  CHECK_FALSE((*before)->is_resumable());
  read_tickets(pair.client);  // two tickets: the session is replaced twice
  auto after = pair.client.session();
  REQUIRE(after);
  CHECK((*after)->native_handle() != (*before)->native_handle());
  // The handle's reference keeps the first session: reading it is valid (ASan and
  // valgrind run this), and releasing the handle frees it. Sessions made from tickets
  // are copies that share the counter, so count from here.
  CHECK((*before)->protocol_version() == TlsVersion::Tls13);
  CHECK((*before)->cipher_name() == pair.client.cipher_name());
  CHECK((*after)->is_resumable());
  const int freed_so_far = frees;
  before.reset();
  CHECK(frees == freed_so_far + 1);
}

namespace {

// A client context made by the builder (the verification policy of every test below);
// `danger` accepts any certificate, `trust` adds the test root.
SslCtx builder_client(TlsVersion v, bool danger = false, bool trust = true) {
  auto b = SslCtxBuilder<Client>::create();
  b.min_proto_version(v).max_proto_version(v);
  if (danger) b.danger_accept_invalid_certs();
  if (trust) b.ca_cert(pki().root.cert());
  auto ctx = b.build();
  REQUIRE_MESSAGE(ctx.has_value(), ctx.error().to_string());
  return std::move(*ctx);
}

// A session from a full handshake of `client_ctx` to `host` (tickets read for TLS 1.3).
SslSession session_for(const SslCtx& client_ctx, const SslCtx& server_ctx, std::string_view host) {
  Pair pair = make_pair(client_ctx, server_ctx);
  REQUIRE(pair.client.set_peer_host(host).has_value());
  const HandshakeOutcome out = complete_handshake(pair);
  REQUIRE_MESSAGE(out.ok, out.describe());
  if (pair.client.version() == TlsVersion::Tls13) read_tickets(pair.client);
  auto s = pair.client.get1_session();
  REQUIRE(s);
  REQUIRE(s->is_resumable());
  REQUIRE(pair.client.shutdown().has_value());  // freed without it, it would not resume
  return *s;
}

}  // namespace

TEST_CASE("a session resumes only where its authentication holds") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    const SslCtx server = make_contexts(Config{.version = v}).server;
    const SslCtx strict = builder_client(v);
    const SslSession localhost = session_for(strict, server, "localhost");

    SUBCASE("same context, same host: resumes") {
      Pair pair = make_pair(strict, server);
      REQUIRE(pair.client.set_peer_host("localhost").has_value());
      REQUIRE(pair.client.set_session(localhost).has_value());
      REQUIRE(complete_handshake(pair).ok);
      CHECK(pair.client.session_reused());
      CHECK(pair.client.verify_result().ok());
    }
    SUBCASE("another host: refused, naming the host as the reason") {
      auto ssl = strict.new_ssl_for_host("evil.example");
      REQUIRE(ssl.has_value());
      auto r = ssl->set_session(localhost);
      REQUIRE_FALSE(r.has_value());
      CHECK(r.error().to_string().find("another host") != std::string::npos);
      CHECK(ERR_peek_error() == 0);
    }
    SUBCASE("a connection that names no host: refused") {
      auto ssl = strict.new_ssl();
      REQUIRE(ssl.has_value());
      auto r = ssl->set_session(localhost);
      REQUIRE_FALSE(r.has_value());
      CHECK(r.error().to_string().find("another host") != std::string::npos);
    }
    SUBCASE("a verified session of a danger_accept_invalid_certs context: refused elsewhere") {
      const SslCtx danger = builder_client(v, true);
      const SslSession unverified = session_for(danger, server, "localhost");
      auto ssl = strict.new_ssl_for_host("localhost");
      REQUIRE(ssl.has_value());
      auto r = ssl->set_session(unverified);
      REQUIRE_FALSE(r.has_value());
      CHECK(r.error().to_string().find("another context") != std::string::npos);
      // The danger context still resumes its own sessions.
      Pair own = make_pair(danger, server);
      REQUIRE(own.client.set_peer_host("localhost").has_value());
      REQUIRE(own.client.set_session(unverified).has_value());
      REQUIRE(complete_handshake(own).ok);
      CHECK(own.client.session_reused());
    }
    SUBCASE("another strict context trusting the same root: refused") {
      const SslCtx other = builder_client(v);
      auto ssl = other.new_ssl_for_host("localhost");
      REQUIRE(ssl.has_value());
      CHECK_FALSE(ssl->set_session(localhost).has_value());
    }
    SUBCASE("the host changed after set_session: the session is withdrawn, and verified anew") {
      Pair pair = make_pair(strict, server);
      REQUIRE(pair.client.set_peer_host("localhost").has_value());
      REQUIRE(pair.client.set_session(localhost).has_value());
      REQUIRE(pair.client.set_peer_host("evil.example").has_value());
      const HandshakeOutcome out = complete_handshake(pair);
      CHECK_FALSE(out.ok);  // a full handshake: the certificate is not for evil.example
      CHECK_FALSE(pair.client.session_reused());
      CHECK(pair.client.verify_result().code == X509_V_ERR_HOSTNAME_MISMATCH);
    }
    SUBCASE("offered through the raw handle, a session for another host fails the handshake") {
      // The binding is the session id context, which OpenSSL's client compares with the
      // connection's when the server resumes: raw code cannot slip the session past.
      Pair pair = make_pair(strict, server);
      REQUIRE(pair.client.set_peer_host("evil.example").has_value());
      REQUIRE(SSL_set_session(pair.client.native_handle(), localhost.native_handle()) == 1);
      const HandshakeOutcome out = complete_handshake(pair);
      REQUIRE_FALSE(out.ok);
      REQUIRE(out.client_error);
      CHECK(out.client_error->to_string().find("different context") != std::string::npos);
    }
    SUBCASE("a session whose verification failed never resumes") {
      // A danger context that does not trust the root: verification fails, the
      // handshake carries on, and the session is left without a binding.
      const SslCtx danger = builder_client(v, true, false);
      const SslSession failed = session_for(danger, server, "localhost");
      for (const SslCtx* ctx : {&danger, &strict}) {
        auto ssl = ctx->new_ssl_for_host("localhost");
        REQUIRE(ssl.has_value());
        auto r = ssl->set_session(failed);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().to_string().find("no record") != std::string::npos);
      }
    }
  }
}
