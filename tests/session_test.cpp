#include <ossl/session.hpp>  // first: proves the header is self-contained

#include "support/free_counter.hpp"
#include "support/handshake.hpp"

#include <doctest/doctest.h>
#include <openssl/err.h>

#include <chrono>

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

TEST_CASE("session() borrows without a reference; get1_session() owns one") {
  static const int idx = free_counter_index(CRYPTO_EX_INDEX_SSL_SESSION);
  Contexts ctx = make_contexts(Config{.version = TlsVersion::Tls12});
  SUBCASE("borrowed: the session dies with its Ssl") {
    int frees = 0;
    Pair pair = connect(ctx);
    {
      auto borrowed = pair.client.session();
      REQUIRE(borrowed);
      REQUIRE(SSL_SESSION_set_ex_data((*borrowed)->native_handle(), idx, &frees) == 1);
      CHECK((*borrowed)->native_handle() == SSL_get_session(pair.client.native_handle()));
      auto copy = *borrowed;  // copying the view is another view, no reference
      auto& alias = copy;
      copy = alias;  // self-assignment keeps the view (it once dropped it)
      CHECK(copy->native_handle() == (*borrowed)->native_handle());
      CHECK(copy->is_resumable());
    }
    CHECK(frees == 0);
    pair.client = Ssl();  // the client cache is off by default: the Ssl held the only ref
    CHECK(frees == 1);
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
