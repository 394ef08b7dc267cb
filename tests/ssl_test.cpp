#include <ossl/ssl.hpp>  // first: proves the header is self-contained

#include "support/free_counter.hpp"
#include "support/handshake.hpp"

#include <doctest/doctest.h>
#include <openssl/err.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

using namespace ossl;
using namespace ossl_test;
using namespace std::literals;

static_assert(!std::is_copy_constructible_v<Ssl> && !std::is_copy_assignable_v<Ssl>);
static_assert(std::is_nothrow_move_constructible_v<Ssl> && std::is_nothrow_move_assignable_v<Ssl>);
static_assert(std::is_copy_constructible_v<SslCtx>);

TEST_CASE("handshake completes over a BIO pair and reports what was negotiated") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    Connection c = connect(Config{.version = v});
    for (Ssl* side : {&c.pair.client, &c.pair.server}) {
      CHECK(side->version() == v);
      CHECK_FALSE(side->cipher_name().empty());
      CHECK(side->group_name() == "x25519");
      CHECK(side->is_init_finished());
      CHECK_FALSE(side->session_reused());
    }
    CHECK_FALSE(c.pair.client.is_server());
    CHECK(c.pair.server.is_server());
    CHECK(c.pair.client.verify_result().ok());
    CHECK(c.pair.server.hostname() == "localhost"sv);

    CHECK(c.pair.client.write("ping"sv).value() == 4);
    char buf[4];
    CHECK(c.pair.server.read(buf).value() == 4);
    CHECK(std::string_view(buf, 4) == "ping");
  }
}

TEST_CASE("a stalled handshake stops at the round cap and reports both sides") {
  Contexts ctx = make_contexts(Config{});
  auto client = ctx.client.new_ssl().value();
  auto server = ctx.server.new_ssl().value();
  auto a = Bio::new_bio_pair().value();
  auto b = Bio::new_bio_pair().value();
  // Each side talks into a different pair: nobody ever hears the other.
  client.set_bio_duplex(std::move(a.first));
  server.set_bio_duplex(std::move(b.first));
  client.set_connect_state();
  server.set_accept_state();
  Pair pair{std::move(client), std::move(server)};
  const HandshakeOutcome out = complete_handshake(pair, 8);
  CHECK_FALSE(out.ok);
  CHECK(out.rounds == 8);
  REQUIRE(out.client_error);
  REQUIRE(out.server_error);
  CHECK(*out.client_error == SslIoError::Kind::WantRead);
  CHECK(*out.server_error == SslIoError::Kind::WantRead);
  CHECK(out.describe().find("client: WantRead") != std::string::npos);
}

TEST_CASE("SslCtx copies share one SSL_CTX and free it once") {
  static const int idx = free_counter_index(CRYPTO_EX_INDEX_SSL_CTX);
  int frees = 0;
  {
    SslCtx a = SslCtx::new_client().value();
    REQUIRE(SSL_CTX_set_ex_data(a.native_handle(), idx, &frees) == 1);
    SslCtx b = a;
    SslCtx c;
    c = b;
    CHECK(b.native_handle() == a.native_handle());
    CHECK(c.native_handle() == a.native_handle());
    {
      SslCtx d = std::move(b);
      CHECK_FALSE(b);
    }
    CHECK(frees == 0);
    a = SslCtx();
    CHECK(frees == 0);
  }
  CHECK(frees == 1);
}

TEST_CASE("an Ssl keeps its context alive after the last SslCtx is gone") {
  static const int idx = free_counter_index(CRYPTO_EX_INDEX_SSL_CTX);
  int frees = 0;
  Ssl ssl;
  {
    SslCtx ctx = SslCtx::new_client().value();
    REQUIRE(SSL_CTX_set_ex_data(ctx.native_handle(), idx, &frees) == 1);
    ssl = ctx.new_ssl().value();
  }
  CHECK(frees == 0);
  CHECK(ssl.ctx().has_value());
  ssl = Ssl();
  CHECK(frees == 1);
}

TEST_CASE("a moved-from Ssl is empty and every call on it is a clear error") {
  Connection c = connect(Config{});
  Ssl moved = std::move(c.pair.client);
  CHECK(moved);
  CHECK_FALSE(c.pair.client);
  char buf[8];
  auto r = c.pair.client.read(buf);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().stack().to_string().find("Ssl::read: empty Ssl") != std::string::npos);
  CHECK_FALSE(c.pair.client.write("x"sv).has_value());
  CHECK_FALSE(c.pair.client.do_handshake().has_value());
  CHECK_FALSE(c.pair.client.shutdown().has_value());
  CHECK_FALSE(c.pair.client.set_hostname("a.example").has_value());
  CHECK_FALSE(c.pair.client.peer_certificate().has_value());
  CHECK(c.pair.client.pending() == 0);
  auto bio = Bio::new_mem().value();
  c.pair.client.set_bio_duplex(std::move(bio));
  CHECK(bio);  // an empty Ssl does not take the BIO
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("set_bio takes separate read and write BIOs; bytes shuttled by hand finish a handshake") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    Contexts ctx = make_contexts(Config{.version = v});
    auto client = ctx.client.new_ssl().value();
    auto server = ctx.server.new_ssl().value();
    client.set_bio(Bio::new_mem().value(), Bio::new_mem().value());
    auto srv_in = Bio::new_mem().value();
    auto srv_out = Bio::new_mem().value();
    server.set_bio(std::move(srv_in), std::move(srv_out));
    CHECK_FALSE(srv_in);  // ownership moved into the Ssl
    CHECK_FALSE(srv_out);
    REQUIRE(client.set_verify_hostname("localhost").has_value());
    client.set_connect_state();
    server.set_accept_state();
    // get0 BIOs: still owned by their SSL.
    auto shuttle = [](SSL* from, SSL* to) {
      char buf[4096];
      int n = 0;
      while ((n = BIO_read(SSL_get_wbio(from), buf, sizeof buf)) > 0) {
        REQUIRE(BIO_write(SSL_get_rbio(to), buf, n) == n);
      }
    };
    bool done = false;
    for (int round = 0; round < 16 && !done; ++round) {
      auto c = client.do_handshake();
      shuttle(client.native_handle(), server.native_handle());
      auto s = server.do_handshake();
      shuttle(server.native_handle(), client.native_handle());
      if (!c) REQUIRE_MESSAGE(c.error().would_block(), c.error().to_string());
      if (!s) REQUIRE_MESSAGE(s.error().would_block(), s.error().to_string());
      done = c.has_value() && s.has_value();
    }
    CHECK(done);
  }
}

TEST_CASE("non-blocking reads are typed: WantRead, ZeroReturn and truncation are distinct") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    SUBCASE("nothing buffered is WantRead") {
      Connection c = connect(Config{.version = v});
      char buf[16];
      auto r = c.pair.server.read(buf);
      REQUIRE_FALSE(r.has_value());
      CHECK(r.error() == SslIoError::Kind::WantRead);
      CHECK(r.error().would_block());
      CHECK(r.error().stack().empty());
    }
    SUBCASE("close_notify is ZeroReturn, and shutdown goes Sent then Complete") {
      Connection c = connect(Config{.version = v});
      CHECK(c.pair.client.shutdown().value() == ShutdownResult::Sent);
      CHECK(c.pair.client.shutdown_state() == ShutdownState{true, false});
      char buf[16];
      auto r = c.pair.server.read(buf);
      REQUIRE_FALSE(r.has_value());
      CHECK(r.error() == SslIoError::Kind::ZeroReturn);
      CHECK_FALSE(r.error().truncated());
      CHECK(c.pair.server.shutdown_state() == ShutdownState{false, true});
      CHECK(c.pair.server.shutdown().value() == ShutdownResult::Complete);
      CHECK(c.pair.client.shutdown().value() == ShutdownResult::Complete);
      CHECK(c.pair.client.shutdown_state() == ShutdownState{true, true});
    }
    SUBCASE("a second shutdown before the peer answers is still Sent") {
      Connection c = connect(Config{.version = v});
      CHECK(c.pair.client.shutdown().value() == ShutdownResult::Sent);
      CHECK(c.pair.client.shutdown().value() == ShutdownResult::Sent);
    }
    SUBCASE("a peer that vanishes without close_notify is truncation") {
      Connection c = connect(Config{.version = v});
      c.pair.server = Ssl();  // frees its BIO half: the pair reports end of data
      char buf[16];
      auto r = c.pair.client.read(buf);
      REQUIRE_FALSE(r.has_value());
      CHECK(r.error() == SslIoError::Kind::Ssl);
      CHECK(r.error().truncated());
      CHECK(r.error().to_string().find("truncated") != std::string::npos);
      CHECK(c.pair.client.has_fatal_error());
      CHECK(ERR_peek_error() == 0);
    }
  }
}

TEST_CASE("a write retried after WantWrite may come from a moved buffer") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    Contexts ctx = make_contexts(Config{.version = v});
    Pair pair = make_pair(ctx.client, ctx.server, 1024);  // small pair buffers
    REQUIRE(pair.client.set_verify_hostname("localhost").has_value());
    REQUIRE_MESSAGE(complete_handshake(pair).ok, "handshake");
    if (v == TlsVersion::Tls13) read_tickets(pair.client);

    std::string payload(16000, 'x');
    for (std::size_t i = 0; i < payload.size(); ++i)
      payload[i] = static_cast<char>('a' + i % 26);
    auto first = std::make_unique<std::string>(payload);
    auto w = pair.client.write(std::string_view(*first));
    REQUIRE_FALSE(w.has_value());
    REQUIRE(w.error() == SslIoError::Kind::WantWrite);

    // Move the bytes elsewhere and free the original before retrying.
    std::vector<char> moved(first->begin(), first->end());
    first.reset();
    std::string received;
    std::vector<char> buf(4096);
    bool written = false;
    for (int round = 0; round < 200 && received.size() < payload.size(); ++round) {
      if (!written) {
        auto again = pair.client.write(std::string_view(moved.data(), moved.size()));
        if (again) {
          CHECK(*again == payload.size());
          written = true;
        } else {
          REQUIRE_MESSAGE(again.error() == SslIoError::Kind::WantWrite, again.error().to_string());
        }
      }
      auto r = pair.server.read(std::span(buf));
      if (r) {
        received.append(buf.data(), *r);
      } else {
        REQUIRE_MESSAGE(r.error() == SslIoError::Kind::WantRead, r.error().to_string());
      }
    }
    CHECK(written);
    CHECK(received == payload);
  }
}

TEST_CASE("shutdown is refused after a fatal error and before the handshake") {
  SUBCASE("after a failed verification") {
    Contexts ctx = make_contexts(Config{.verify_server = false});
    ctx.client.set_verify(SslVerifyMode::PEER);  // but the root is not trusted
    Pair pair = make_pair(ctx.client, ctx.server);
    const HandshakeOutcome out = complete_handshake(pair);
    REQUIRE_FALSE(out.ok);
    REQUIRE(out.client_error);
    CHECK(*out.client_error == SslIoError::Kind::Ssl);
    CHECK(pair.client.verify_result().code == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    CHECK(out.client_error->stack().contains(ERR_LIB_SSL, SSL_R_CERTIFICATE_VERIFY_FAILED));
    auto s = pair.client.shutdown();
    REQUIRE_FALSE(s.has_value());
    CHECK(s.error().to_string().find("refused after a fatal error") != std::string::npos);
    CHECK(pair.client.shutdown_state() == ShutdownState{false, false});
  }
  SUBCASE("before any handshake") {
    Contexts ctx = make_contexts(Config{});
    Pair pair = make_pair(ctx.client, ctx.server);
    auto s = pair.client.shutdown();
    REQUIRE_FALSE(s.has_value());
    CHECK(s.error().contains(ERR_LIB_SSL, SSL_R_SHUTDOWN_WHILE_IN_INIT));
  }
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("peer_certificate and peer_cert_chain on both sides of a three-level chain") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    Connection c = connect(Config{.version = v, .client_cert = true});
    const Pki& p = pki();

    auto leaf = c.pair.client.peer_certificate();
    REQUIRE(leaf);
    CHECK(*leaf == p.server.cert);
    auto chain = c.pair.client.peer_cert_chain();
    REQUIRE(chain);
    REQUIRE(chain->size() == 2);  // client side: leaf + intermediate
    CHECK((*chain)[0] == p.server.cert);
    CHECK((*chain)[1] == p.intermediate.cert());

    auto client_leaf = c.pair.server.peer_certificate();
    REQUIRE(client_leaf);
    CHECK(*client_leaf == p.client.cert);
    auto server_view = c.pair.server.peer_cert_chain();
    REQUIRE(server_view);
    REQUIRE(server_view->size() == 1);  // server side: OpenSSL omits the client leaf
    CHECK((*server_view)[0] == p.intermediate.cert());
  }
}

TEST_CASE("no peer certificate before the handshake or when the client sends none") {
  Contexts ctx = make_contexts(Config{});
  Pair pair = make_pair(ctx.client, ctx.server);
  CHECK_FALSE(pair.client.peer_certificate());
  CHECK_FALSE(pair.client.peer_cert_chain());
  REQUIRE(complete_handshake(pair).ok);
  CHECK_FALSE(pair.server.peer_certificate());
  CHECK_FALSE(pair.server.peer_cert_chain());
}

TEST_CASE("client certificates: required and missing fails, required and present passes") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    Contexts ctx = make_contexts(Config{.version = v, .client_cert = true});
    SUBCASE("present") {
      Pair pair = connect(ctx);
      CHECK(pair.server.verify_result().ok());
    }
    SUBCASE("missing") {
      auto bare = make_contexts(Config{.version = v});
      Contexts mixed{bare.client, ctx.server};
      Pair pair = make_pair(mixed.client, mixed.server);
      const HandshakeOutcome out = complete_handshake(pair);
      CHECK_FALSE(out.ok);
      REQUIRE(out.server_error);
      CHECK(*out.server_error == SslIoError::Kind::Ssl);
      CHECK(
          out.server_error->stack().contains(ERR_LIB_SSL, SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE));
    }
  }
}

TEST_CASE("no version overlap fails the handshake on both sides") {
  Contexts ctx = make_contexts(Config{.version = TlsVersion::Tls12});
  REQUIRE(ctx.server.set_min_proto_version(TlsVersion::Tls13).has_value());
  REQUIRE(ctx.server.set_max_proto_version(TlsVersion::Tls13).has_value());
  Pair pair = make_pair(ctx.client, ctx.server);
  const HandshakeOutcome out = complete_handshake(pair);
  CHECK_FALSE(out.ok);
  REQUIRE(out.server_error);
  CHECK(out.server_error->stack().contains(ERR_LIB_SSL, SSL_R_UNSUPPORTED_PROTOCOL));
}

TEST_CASE("macro APIs go through SSL_CTRL codes and read back what was set") {
  SslCtx ctx = SslCtx::create().value();
  CHECK(ctx.min_proto_version() == TlsVersion::Tls12);  // ossl's default floor
  CHECK(ctx.max_proto_version() == std::nullopt);

  struct VersionCase {
    TlsVersion min, max;
  };
  for (auto c : {VersionCase{TlsVersion::Tls12, TlsVersion::Tls12},
                 VersionCase{TlsVersion::Tls12, TlsVersion::Tls13},
                 VersionCase{TlsVersion::Tls13, TlsVersion::Tls13}}) {
    REQUIRE(ctx.set_min_proto_version(c.min).has_value());
    REQUIRE(ctx.set_max_proto_version(c.max).has_value());
    CHECK(ctx.min_proto_version() == c.min);
    CHECK(ctx.max_proto_version() == c.max);
  }

  for (auto mode : {SessionCacheMode::OFF, SessionCacheMode::CLIENT, SessionCacheMode::BOTH,
                    SessionCacheMode::SERVER | SessionCacheMode::NO_INTERNAL}) {
    ctx.set_session_cache_mode(mode);
    CHECK(ctx.session_cache_mode() == mode);
  }
  ctx.set_session_cache_mode(SessionCacheMode::SERVER);
  ctx.disable_session_cache();
  CHECK(ctx.session_cache_mode() == SessionCacheMode::OFF);

  ctx.set_session_cache_size(123);
  CHECK(ctx.session_cache_size() == 123);

  CHECK((ctx.mode() & SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER) != 0);
  ctx.set_mode(SSL_MODE_RELEASE_BUFFERS);
  CHECK((ctx.mode() & SSL_MODE_RELEASE_BUFFERS) != 0);

  ctx.set_options(SSL_OP_NO_RENEGOTIATION);
  CHECK((ctx.options() & SSL_OP_NO_RENEGOTIATION) != 0);
  ctx.clear_options(SSL_OP_NO_RENEGOTIATION);
  CHECK((ctx.options() & SSL_OP_NO_RENEGOTIATION) == 0);

  ctx.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);
  CHECK(ctx.verify_mode() == (SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT));

  REQUIRE(ctx.set_num_tickets(3).has_value());
  CHECK(ctx.num_tickets() == 3);

  const Pki& p = pki();
  REQUIRE(ctx.use_certificate(p.server.cert).has_value());
  CHECK(ctx.certificate() == p.server.cert);
  REQUIRE(ctx.add_chain_cert(p.intermediate.cert()).has_value());
  auto chain = ctx.chain_certs();
  REQUIRE(chain.size() == 1);
  CHECK(chain[0] == p.intermediate.cert());

  auto ssl = ctx.new_ssl().value();
  REQUIRE(ssl.set_hostname("example.com").has_value());
  CHECK(ssl.hostname() == "example.com"sv);
}

TEST_CASE("set_groups_list decides the negotiated group") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    Contexts ctx = make_contexts(Config{.version = v});
    REQUIRE(ctx.client.set_groups_list("P-256").has_value());
    Pair pair = connect(ctx);
    CHECK(pair.client.group_name() == "secp256r1");
  }
  SslCtx ctx = SslCtx::new_client().value();
  auto bad = ctx.set_groups_list("no-such-group");
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().to_string().find("no-such-group") != std::string::npos);
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("bad input to contexts and connections is a clear error and leaves the queue empty") {
  const Pki& p = pki();
  SslCtx ctx = SslCtx::new_server().value();
  struct Case {
    const char* name;
    Result<void> result;
    const char* expect;  // must appear in the error text
  };
  auto ssl = SslCtx::new_client().value().new_ssl().value();
  Case cases[] = {
      {"unknown cipher", ctx.set_cipher_list("NOT-A-CIPHER"), "NOT-A-CIPHER"},
      {"cipher with NUL", ctx.set_cipher_list("AES128\0-SHA"sv), "embedded NUL byte at offset 6"},
      {"unknown ciphersuite", ctx.set_ciphersuites("TLS_FAKE_SHA256"), "TLS_FAKE_SHA256"},
      {"hostname with NUL", ssl.set_hostname("local\0host"sv), "embedded NUL"},
      {"empty hostname", ssl.set_hostname(""), "empty host name"},
      {"IP literal as SNI", ssl.set_hostname("127.0.0.1"), "is an IP address"},
      {"overlong hostname", ssl.set_hostname(std::string(256, 'a')), "longer than 255"},
      {"verify host with NUL", ssl.set_verify_hostname("a\0b"sv), "embedded NUL"},
      {"missing CA file", ctx.load_verify_file("/nonexistent/ca.pem"), "/nonexistent/ca.pem"},
      {"session id context too long", ctx.set_session_id_context(std::string(33, 'x')),
       "exceeds the limit of 32"},
  };
  for (auto& c : cases) {
    CAPTURE(c.name);
    REQUIRE_FALSE(c.result.has_value());
    CHECK_MESSAGE(c.result.error().to_string().find(c.expect) != std::string::npos,
                  c.result.error().to_string());
  }
  CHECK(ERR_peek_error() == 0);

  SUBCASE("a key that does not match the certificate") {
    REQUIRE(ctx.use_certificate(p.server.cert).has_value());
    auto r = ctx.use_private_key(p.client.key);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().contains(ERR_LIB_X509, X509_R_KEY_VALUES_MISMATCH));
    CHECK(ERR_peek_error() == 0);
  }
  SUBCASE("check_private_key without a key") {
    REQUIRE(ctx.use_certificate(p.server.cert).has_value());
    auto r = ctx.check_private_key();
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().to_string().find("certificate and key do not match") != std::string::npos);
    CHECK(ERR_peek_error() == 0);
  }
}

TEST_CASE("errors never leak between calls: the queue is cleared before I/O and drained after") {
  Connection c = connect(Config{});
  ERR_raise_data(ERR_LIB_SSL, SSL_R_BAD_LENGTH, "stale error from unrelated code");
  REQUIRE(ERR_peek_error() != 0);
  char buf[8];
  auto r = c.pair.server.read(buf);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == SslIoError::Kind::WantRead);  // not misread as an SSL error
  CHECK(ERR_peek_error() == 0);

  // A failing call drains its records into the error: none stay queued.
  auto fail = SslCtx::new_server().value().set_cipher_list("BOGUS");
  REQUIRE_FALSE(fail.has_value());
  CHECK_FALSE(fail.error().empty());
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("adopt, share and release hand raw pointers across the boundary") {
  SUBCASE("adopt takes over the caller's reference") {
    SSL_CTX* raw = SSL_CTX_new(TLS_client_method());
    REQUIRE(raw != nullptr);
    auto ctx = SslCtx::adopt(raw);  // raw is not freed by the caller
    REQUIRE(ctx.has_value());
    CHECK(ctx->native_handle() == raw);
    CHECK(ctx->new_ssl().has_value());
  }
  SUBCASE("share adds a reference; the caller still frees its own") {
    SSL_CTX* raw = SSL_CTX_new(TLS_server_method());
    REQUIRE(raw != nullptr);
    auto ctx = SslCtx::share(raw);
    REQUIRE(ctx.has_value());
    SSL_CTX_free(raw);
    CHECK(ctx->new_ssl().has_value());  // still alive through our reference
  }
  SUBCASE("release gives the pointer back") {
    SslCtx ctx = SslCtx::new_client().value();
    SSL_CTX* raw = ctx.release();
    CHECK_FALSE(ctx);
    SSL_CTX_free(raw);
  }
  SUBCASE("adopting an existing SSL") {
    SslCtx ctx = SslCtx::new_client().value();
    auto ssl = Ssl::adopt(SSL_new(ctx.native_handle()));
    REQUIRE(ssl.has_value());
    CHECK_FALSE(ssl->is_server());
  }
  SUBCASE("null pointers are errors naming the type") {
    auto a = SslCtx::adopt(nullptr);
    REQUIRE_FALSE(a.has_value());
    CHECK(a.error().to_string().find("SslCtx::adopt: null pointer") != std::string::npos);
    auto b = SslCtx::share(nullptr);
    REQUIRE_FALSE(b.has_value());
    CHECK(b.error().to_string().find("SslCtx::share: null pointer") != std::string::npos);
    auto c = Ssl::adopt(nullptr);
    REQUIRE_FALSE(c.has_value());
    CHECK(c.error().to_string().find("Ssl::adopt: null pointer") != std::string::npos);
    CHECK(ERR_peek_error() == 0);
  }
}

TEST_CASE("set_verify_hostname checks DNS names and IP literals per connection") {
  struct Case {
    const char* host;
    bool ok;
  };
  for (auto c : {Case{"localhost", true}, Case{"127.0.0.1", true}, Case{"example.com", false},
                 Case{"127.0.0.2", false}}) {
    CAPTURE(c.host);
    Contexts ctx = make_contexts(Config{});
    Pair pair = make_pair(ctx.client, ctx.server);
    REQUIRE(pair.client.set_verify_hostname(c.host).has_value());
    const HandshakeOutcome out = complete_handshake(pair);
    CHECK(out.ok == c.ok);
    if (!c.ok) {
      CHECK(pair.client.verify_result().code ==
            (std::string_view(c.host).find('.') != std::string_view::npos &&
                     std::isdigit(static_cast<unsigned char>(c.host[0]))
                 ? X509_V_ERR_IP_ADDRESS_MISMATCH
                 : X509_V_ERR_HOSTNAME_MISMATCH));
    }
  }
}

TEST_CASE("pending counts decrypted bytes not yet read") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    Connection c = connect(Config{.version = v});
    REQUIRE(c.pair.client.write("0123456789"sv).value() == 10);
    CHECK(c.pair.server.pending() == 0);  // nothing decrypted yet
    char one[1];
    REQUIRE(c.pair.server.read(one).value() == 1);
    CHECK(c.pair.server.pending() == 9);
  }
}

TEST_CASE("alpn_selected reports the protocol agreed through raw OpenSSL ALPN calls") {
  // Mixing raw calls on native handles with the wrapper: ossl adds no state of its own.
  static const unsigned char offer[] = "\x02h2\x08http/1.1";
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    Contexts ctx = make_contexts(Config{.version = v});
    // SSL_CTX_set_alpn_protos returns 0 on success (inverted convention).
    REQUIRE(SSL_CTX_set_alpn_protos(ctx.client.native_handle(), offer, sizeof offer - 1) == 0);
    SSL_CTX_set_alpn_select_cb(
        ctx.server.native_handle(),
        [](SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
           unsigned int inlen, void*) {
          static const unsigned char pref[] = "\x08http/1.1";
          unsigned char* sel = nullptr;
          if (SSL_select_next_proto(&sel, outlen, pref, sizeof pref - 1, in, inlen) !=
              OPENSSL_NPN_NEGOTIATED) {
            return SSL_TLSEXT_ERR_NOACK;
          }
          *out = sel;
          return SSL_TLSEXT_ERR_OK;
        },
        nullptr);
    Pair pair = connect(ctx);
    CHECK(pair.client.alpn_selected() == "http/1.1");
    CHECK(pair.server.alpn_selected() == "http/1.1");
  }
  Connection none = connect(Config{});
  CHECK(none.pair.client.alpn_selected().empty());
}

TEST_CASE("key_update: TLS 1.3 rekeys both ways mid-connection; TLS 1.2 refuses") {
  Connection c = connect(Config{.version = TlsVersion::Tls13});
  read_tickets(c.pair.client);
  REQUIRE(c.pair.client.key_update(true).has_value());
  REQUIRE(c.pair.client.write("after update"sv).has_value());
  char buf[32];
  auto n = c.pair.server.read(buf);
  REQUIRE(n.has_value());
  CHECK(std::string_view(buf, *n) == "after update");
  REQUIRE(c.pair.server.write("reply"sv).has_value());  // the server updated its keys too
  n = c.pair.client.read(buf);
  REQUIRE(n.has_value());
  CHECK(std::string_view(buf, *n) == "reply");

  Connection old = connect(Config{.version = TlsVersion::Tls12});
  auto refused = old.pair.client.key_update(false);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().contains(ERR_LIB_SSL, SSL_R_WRONG_SSL_VERSION));
  CHECK(ERR_peek_error() == 0);
}

namespace {
// A server connection that reads `input` from a memory BIO that then reports EOF.
SslIoError server_fed(std::string_view input) {
  Contexts ctx = make_contexts(Config{});
  auto server = ctx.server.new_ssl().value();
  auto in = Bio::from_bytes(input).value();
  BIO_set_mem_eof_return(in.native_handle(), 0);  // end of data, not "retry later"
  server.set_bio(std::move(in), Bio::new_mem().value());
  server.set_accept_state();
  auto r = server.do_handshake();
  REQUIRE_FALSE(r.has_value());
  return r.error();
}
}  // namespace

TEST_CASE("peer garbage: bytes that are not TLS fail the handshake with a named reason") {
  struct Case {
    const char* name;
    std::string_view input;
    int reason;
  };
  for (const auto& c :
       {Case{"plain HTTP to a TLS port", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"sv, SSL_R_HTTP_REQUEST},
        Case{"random bytes", "\x42\x13\x37\x00\x10hello garbage!!"sv, SSL_R_WRONG_VERSION_NUMBER},
        Case{"a record header and nothing else", "\x16\x03\x01\x00\x40"sv,
             SSL_R_UNEXPECTED_EOF_WHILE_READING}}) {
    CAPTURE(std::string(c.name));
    const SslIoError e = server_fed(c.input);
    CHECK(e == SslIoError::Kind::Ssl);
    CHECK_MESSAGE(e.stack().contains(ERR_LIB_SSL, c.reason), e.to_string());
    CHECK(ERR_peek_error() == 0);
  }
}

namespace {

// A handshaken pair over separate memory BIOs, so that the test sees every byte on
// the wire; shuttle() moves one side's output (or its first `limit` bytes; the rest
// is dropped) to the other side's input and returns what it took.
struct WirePair {
  Ssl client;
  Ssl server;
};
std::string shuttle(Ssl& from, Ssl& to, std::size_t limit = SIZE_MAX) {
  BIO* out = SSL_get_wbio(from.native_handle());  // get0: owned by the SSL
  char* data = nullptr;
  const long n = BIO_get_mem_data(out, &data);
  std::string bytes(data, static_cast<std::size_t>(n));
  REQUIRE(BIO_reset(out) == 1);
  const std::size_t moved = std::min(limit, bytes.size());
  if (moved != 0) {
    REQUIRE(BIO_write(SSL_get_rbio(to.native_handle()), bytes.data(), static_cast<int>(moved)) ==
            static_cast<int>(moved));
  }
  return bytes;
}
WirePair wire_pair(const Contexts& ctx, std::size_t client_fragment = 0) {
  WirePair w{ctx.client.new_ssl_for_host("localhost").value(), ctx.server.new_ssl().value()};
  if (client_fragment != 0) REQUIRE(w.client.set_max_send_fragment(client_fragment).has_value());
  w.client.set_bio(Bio::new_mem().value(), Bio::new_mem().value());
  w.server.set_bio(Bio::new_mem().value(), Bio::new_mem().value());
  w.server.set_accept_state();
  for (int round = 0; round < 16 && !(w.client.is_init_finished() && w.server.is_init_finished());
       ++round) {
    (void)w.client.do_handshake();
    shuttle(w.client, w.server);
    (void)w.server.do_handshake();
    shuttle(w.server, w.client);
  }
  REQUIRE(w.client.is_init_finished());
  REQUIRE(w.server.is_init_finished());
  return w;
}
}  // namespace

TEST_CASE("a record cut short by the end of the transport is truncation, not data") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    WirePair w = wire_pair(make_contexts(Config{.version = v}));
    Ssl& client = w.client;
    Ssl& server = w.server;
    REQUIRE(server.is_init_finished());
    REQUIRE(client.write("a whole record that will arrive cut in half"sv).has_value());
    char* p = nullptr;
    const long len = BIO_get_mem_data(SSL_get_wbio(client.native_handle()), &p);
    shuttle(client, server, static_cast<std::size_t>(len / 2));
    BIO_set_mem_eof_return(SSL_get_rbio(server.native_handle()), 0);  // the transport ends
    char buf[64];
    auto r = server.read(buf);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == SslIoError::Kind::Ssl);
    CHECK(r.error().truncated());
    CHECK(ERR_peek_error() == 0);
  }
}

TEST_CASE("using a connection after shutdown or after a fatal error is an error, never a crash") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    Connection c = connect(Config{.version = v});
    REQUIRE(c.pair.client.shutdown().value() == ShutdownResult::Sent);
    auto w = c.pair.client.write("too late"sv);
    REQUIRE_FALSE(w.has_value());
    CHECK(w.error() == SslIoError::Kind::Ssl);
    CHECK(w.error().stack().contains(ERR_LIB_SSL, SSL_R_PROTOCOL_IS_SHUTDOWN));

    Connection dead = connect(Config{.version = v});
    dead.pair.server = Ssl();  // the peer vanishes
    char buf[8];
    REQUIRE_FALSE(dead.pair.client.read(buf).has_value());  // fatal: truncated
    auto again = dead.pair.client.read(buf);
    REQUIRE_FALSE(again.has_value());
    CHECK_FALSE(again.error().would_block());
    CHECK_FALSE(dead.pair.client.write("x"sv).has_value());
    CHECK_FALSE(dead.pair.client.shutdown().has_value());
    CHECK(ERR_peek_error() == 0);
  }
}

// ---------------------------------------------------------------------------- SNI

namespace {

// The default certificate is RSA and the SNI ones are EC, so a connection that got the
// default RSA slot left beside its SNI certificate would show it.
struct SniPki {
  testing::Identity fallback, exact, wildcard;
};
const SniPki& sni_pki() {
  static const SniPki p = [] {
    const testing::TestCa& ca = pki().root;
    auto leaf = [&](std::vector<std::string> names, testing::KeyType type) {
      testing::LeafSpec spec;
      spec.common_name = names.front();
      spec.dns_names = std::move(names);
      spec.key_type = type;
      return ca.issue(spec).value();
    };
    return SniPki{leaf({"localhost"}, testing::KeyType::Rsa2048),
                  leaf({"a.example"}, testing::KeyType::EcP256),
                  leaf({"*.wild.example"}, testing::KeyType::EcP384)};
  }();
  return p;
}

SslCtx sni_server(TlsVersion v, UnknownServerName unknown = UnknownServerName::UseDefault) {
  const SniPki& p = sni_pki();
  auto ctx = SslCtx::new_server().value();
  REQUIRE(ctx.set_min_proto_version(v).has_value());
  REQUIRE(ctx.set_max_proto_version(v).has_value());
  REQUIRE(ctx.use_certificate(p.fallback.cert).has_value());
  REQUIRE(ctx.use_private_key(p.fallback.key).has_value());
  REQUIRE(ctx.add_sni_certificate("a.example", p.exact.cert, p.exact.key).has_value());
  REQUIRE(ctx.add_sni_certificate("*.wild.example", p.wildcard.cert, p.wildcard.key).has_value());
  REQUIRE(ctx.set_sni_unknown_name(unknown).has_value());
  REQUIRE(ctx.set_session_id_context("sni"sv).has_value());
  return ctx;
}

// A client that trusts the test root and checks nothing else, so that whatever the
// server presents can be inspected.
SslCtx inspecting_client() {
  auto ctx = SslCtx::new_client().value();
  REQUIRE(ctx.add_trusted_cert(pki().root.cert()).has_value());
  ctx.set_verify(SslVerifyMode::PEER);
  return ctx;
}

// make_pair -> SNI (when given) -> complete_handshake.
struct SniOutcome {
  HandshakeOutcome handshake;
  Pair pair;
};
SniOutcome sni_handshake(const SslCtx& client, const SslCtx& server, std::string_view sni,
                         const std::optional<SslSession>& session = std::nullopt) {
  Pair pair = make_pair(client, server);
  if (!sni.empty()) REQUIRE(pair.client.set_hostname(sni).has_value());
  if (session) REQUIRE(pair.client.set_session(*session).has_value());
  HandshakeOutcome out = complete_handshake(pair);
  return SniOutcome{std::move(out), std::move(pair)};
}

}  // namespace

TEST_CASE("SNI: each name gets its certificate, and only that one") {
  const SniPki& p = sni_pki();
  struct Case {
    const char* sni;
    const testing::Identity* expected;
  };
  const Case cases[] = {
      {"a.example", &p.exact},
      {"A.EXAMPLE", &p.exact},
      {"a.example.", &p.exact},
      {"x.wild.example", &p.wildcard},
      {"X-1.Wild.Example", &p.wildcard},
      {"a.b.wild.example", &p.fallback},
      {"wild.example", &p.fallback},
      {"unknown.example", &p.fallback},
      {"", &p.fallback},  // no SNI at all
  };
  SslCtx client = inspecting_client();
  for (TlsVersion v : kVersions) {
    SslCtx server = sni_server(v);
    for (const Case& c : cases) {
      CAPTURE(to_string(v));
      CAPTURE(c.sni);
      SniOutcome o = sni_handshake(client, server, c.sni);
      REQUIRE_MESSAGE(o.handshake.ok, o.handshake.describe());
      auto presented = o.pair.client.peer_certificate();
      REQUIRE(presented.has_value());
      CHECK(presented->to_der().value() == c.expected->cert.to_der().value());
      if (*c.sni != '\0') {
        CHECK(o.pair.server.hostname() == std::optional<std::string_view>(c.sni));
      }
    }
  }
}

TEST_CASE("SNI: a verifying client checks the name it asked for against what it got") {
  auto client = SslCtxBuilder<Client>::create().ca_cert(pki().root.cert()).build().value();
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    SslCtx server = sni_server(v);
    for (std::string_view host : {"a.example"sv, "x.wild.example"sv, "localhost"sv}) {
      CAPTURE(host);
      Pair pair = make_pair(client, server);
      REQUIRE(pair.client.set_peer_host(host).has_value());
      HandshakeOutcome out = complete_handshake(pair);
      CHECK_MESSAGE(out.ok, out.describe());
      CHECK(pair.client.verify_result().ok());
    }
  }
}

TEST_CASE("SNI: unknown names are refused with unrecognized_name when asked to") {
  const SniPki& p = sni_pki();
  SslCtx client = inspecting_client();
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    SslCtx server = sni_server(v, UnknownServerName::Refuse);
    SniOutcome refused = sni_handshake(client, server, "unknown.example");
    CHECK_FALSE(refused.handshake.ok);
    REQUIRE(refused.handshake.server_error);
    // The helper stops at the server's failure; the client reads the alert next.
    auto alert = refused.pair.client.do_handshake();
    REQUIRE_FALSE(alert.has_value());
    CHECK_MESSAGE(alert.error().stack().contains(ERR_LIB_SSL, SSL_R_TLSV1_UNRECOGNIZED_NAME),
                  alert.error().to_string());
    // Known names and clients that send none are served as before.
    SniOutcome known = sni_handshake(client, server, "a.example");
    CHECK_MESSAGE(known.handshake.ok, known.handshake.describe());
    SniOutcome none = sni_handshake(client, server, "");
    REQUIRE_MESSAGE(none.handshake.ok, none.handshake.describe());
    CHECK(none.pair.client.peer_certificate()->to_der().value() ==
          p.fallback.cert.to_der().value());
  }
}

TEST_CASE("SNI: sessions remember the name and resume; client certificates still verify") {
  const SniPki& p = sni_pki();
  auto client = SslCtxBuilder<Client>::create()
                    .ca_cert(pki().root.cert())
                    .client_cert(pki().client.cert)
                    .client_chain_cert(pki().intermediate.cert())
                    .client_key(pki().client.key)
                    .build()
                    .value();
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    SslCtx server = sni_server(v);
    REQUIRE(server.add_trusted_cert(pki().root.cert()).has_value());
    server.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);

    Pair first = make_pair(client, server);
    REQUIRE(first.client.set_peer_host("a.example").has_value());
    HandshakeOutcome out = complete_handshake(first);
    REQUIRE_MESSAGE(out.ok, out.describe());
    CHECK(first.server.peer_certificate().has_value());  // the client's, verified
    read_tickets(first.client);
    auto session = first.client.get1_session();
    REQUIRE(session.has_value());
    CHECK(session->hostname() == "a.example");  // SNI was acknowledged
    REQUIRE(first.client.shutdown().has_value());

    Pair second = make_pair(client, server);
    REQUIRE(second.client.set_peer_host("a.example").has_value());
    REQUIRE(second.client.set_session(*session).has_value());
    out = complete_handshake(second);
    REQUIRE_MESSAGE(out.ok, out.describe());
    CHECK(second.client.session_reused());
    CHECK(second.client.peer_certificate()->to_der().value() == p.exact.cert.to_der().value());
  }
}

TEST_CASE("SNI: bad names, keys and certificates are errors that name the problem") {
  const SniPki& p = sni_pki();
  auto ctx = SslCtx::new_server().value();
  REQUIRE(ctx.add_sni_certificate("a.example", p.exact.cert, p.exact.key).has_value());
  struct Case {
    std::string_view name;
    std::string_view says;
  };
  const std::string long_label = std::string(64, 'a') + ".example";
  std::string long_name;
  while (long_name.size() < 254)
    long_name += "abcdefgh.";
  for (const Case& c :
       {Case{"", "is empty"}, Case{".", "is empty"}, Case{"127.0.0.1", "is an IP address"},
        Case{"::1", "is an IP address"}, Case{"a..example", "empty label"},
        Case{"*", "wildcard other than"}, Case{"f*.example", "wildcard other than"},
        Case{"*.*.example", "wildcard other than"},
        Case{"a b.example", "not allowed in a DNS name"}, Case{"a\0b.example"sv, "embedded NUL"},
        Case{long_label, "label longer than 63"}, Case{long_name, "longer than 253"},
        Case{"A.Example", "already has a certificate"}}) {
    CAPTURE(c.name);
    auto r = ctx.add_sni_certificate(c.name, p.wildcard.cert, p.wildcard.key);
    REQUIRE_FALSE(r.has_value());
    CHECK_MESSAGE(r.error().to_string().find(c.says) != std::string::npos, r.error().to_string());
    CHECK(ERR_peek_error() == 0);
  }
  auto mismatch = ctx.add_sni_certificate("b.example", p.wildcard.cert, p.exact.key);
  REQUIRE_FALSE(mismatch.has_value());
  CHECK(mismatch.error().to_string().find("does not match") != std::string::npos);
  CHECK(ctx.add_sni_certificate("b.example", ossl::X509(), p.exact.key).has_value() == false);
  CHECK(ctx.add_sni_certificate("b.example", p.exact.cert, Pkey<Private>()).has_value() == false);
  std::vector<ossl::X509> chain{pki().root.cert(), ossl::X509()};
  auto bad_chain = ctx.add_sni_certificate("b.example", p.exact.cert, p.exact.key, chain);
  REQUIRE_FALSE(bad_chain.has_value());
  CHECK(bad_chain.error().to_string().find("at index 1") != std::string::npos);
  CHECK(SslCtx()
            .add_sni_certificate("b.example", p.exact.cert, p.exact.key)
            .error()
            .to_string()
            .find("empty SslCtx") != std::string::npos);
  CHECK(ERR_peek_error() == 0);
}

// ------------------------------------------------------------------ exporters

TEST_CASE("exported keying material: both ends agree; label and context change it") {
  auto bytes = [](std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); };
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    Connection c = connect(Config{.version = v});
    auto exporter = [&](const Ssl& side, std::string_view label,
                        std::optional<std::span<const std::byte>> context) {
      std::vector<std::byte> out(32);
      auto r = side.export_keying_material(out, label, context);
      REQUIRE_MESSAGE(r.has_value(), r.error().to_string());
      return out;
    };
    const auto client = exporter(c.pair.client, "EXPERIMENTAL ossl", bytes("ctx"));
    CHECK(client == exporter(c.pair.server, "EXPERIMENTAL ossl", bytes("ctx")));
    CHECK(client != std::vector<std::byte>(32));
    CHECK(client != exporter(c.pair.client, "EXPERIMENTAL other", bytes("ctx")));
    CHECK(client != exporter(c.pair.client, "EXPERIMENTAL ossl", bytes("ctx2")));
    const auto none = exporter(c.pair.client, "EXPERIMENTAL ossl", std::nullopt);
    const auto empty = exporter(c.pair.server, "EXPERIMENTAL ossl", bytes(""));
    // RFC 5705 separates "no context" from an empty one; RFC 8446 does not.
    CHECK((none == empty) == (v == TlsVersion::Tls13));
    // Another connection has other secrets.
    Connection other = connect(Config{.version = v});
    CHECK(client != exporter(other.pair.client, "EXPERIMENTAL ossl", bytes("ctx")));
    // Lengths: TLS 1.2's PRF stretches to anything, TLS 1.3's HKDF-Expand to 255 hashes.
    std::vector<std::byte> big(20000);
    CHECK(c.pair.client.export_keying_material(big, "EXPERIMENTAL ossl").has_value() ==
          (v == TlsVersion::Tls12));
    CHECK(ERR_peek_error() == 0);
  }
}

TEST_CASE("exported keying material: refused before the handshake, for no bytes, reserved labels") {
  std::vector<std::byte> out(16);
  auto ctx = make_contexts(Config{});
  Pair fresh = make_pair(ctx.client, ctx.server);
  auto early = fresh.client.export_keying_material(out, "EXPERIMENTAL ossl");
  REQUIRE_FALSE(early.has_value());
  CHECK(early.error().to_string().find("handshake is not complete") != std::string::npos);

  Connection c = connect(Config{.version = TlsVersion::Tls12});
  auto none = c.pair.client.export_keying_material(std::span<std::byte>(), "EXPERIMENTAL ossl");
  REQUIRE_FALSE(none.has_value());
  CHECK(none.error().to_string().find("empty output buffer") != std::string::npos);
  for (std::string_view label : {"master secret", "key expansion", "client finished"}) {
    CAPTURE(label);
    auto reserved = c.pair.client.export_keying_material(out, label);
    REQUIRE_FALSE(reserved.has_value());
    CHECK(reserved.error().contains(ERR_LIB_SSL, SSL_R_TLS_ILLEGAL_EXPORTER_LABEL));
  }
  CHECK(Ssl().export_keying_material(out, "x").error().to_string().find("empty Ssl") !=
        std::string::npos);
  CHECK(ERR_peek_error() == 0);
}

// ----------------------------------------------------------------------- key log

namespace {
std::string hex(std::span<const unsigned char> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}
}  // namespace

TEST_CASE("key log: the NSS lines of each version, tied to this connection's secrets") {
  struct Case {
    TlsVersion version;
    std::vector<std::string> labels;
  };
  for (const Case& c :
       {Case{TlsVersion::Tls12, {"CLIENT_RANDOM"}},
        Case{TlsVersion::Tls13,
             {"SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
              "EXPORTER_SECRET", "SERVER_TRAFFIC_SECRET_0", "CLIENT_TRAFFIC_SECRET_0"}}}) {
    CAPTURE(to_string(c.version));
    Contexts ctx = make_contexts(Config{.version = c.version});
    std::vector<std::string> client_lines, server_lines;
    REQUIRE(ctx.client
                .danger_set_keylog_callback(
                    [&](std::string_view line) { client_lines.emplace_back(line); })
                .has_value());
    REQUIRE(ctx.server
                .danger_set_keylog_callback(
                    [&](std::string_view line) { server_lines.emplace_back(line); })
                .has_value());
    Pair pair = connect(ctx);
    // Both ends log the same secrets (in the order each derives them).
    CHECK(std::set<std::string>(client_lines.begin(), client_lines.end()) ==
          std::set<std::string>(server_lines.begin(), server_lines.end()));
    REQUIRE(client_lines.size() == c.labels.size());
    unsigned char random[SSL3_RANDOM_SIZE];
    REQUIRE(SSL_get_client_random(pair.client.native_handle(), random, sizeof random) ==
            sizeof random);
    std::set<std::string> labels;
    for (const std::string& line : client_lines) {
      CAPTURE(line);
      const auto first = line.find(' ');
      const auto second = line.find(' ', first + 1);
      REQUIRE(second != std::string::npos);
      labels.insert(line.substr(0, first));
      CHECK(line.substr(first + 1, second - first - 1) == hex(random));
      CHECK(line.find('\n') == std::string::npos);
    }
    CHECK(labels == std::set<std::string>(c.labels.begin(), c.labels.end()));
    if (c.version == TlsVersion::Tls12) {
      unsigned char master[SSL_MAX_MASTER_KEY_LENGTH];
      const std::size_t n = SSL_SESSION_get_master_key(SSL_get_session(pair.client.native_handle()),
                                                       master, sizeof master);
      CHECK(client_lines[0].substr(client_lines[0].rfind(' ') + 1) == hex(std::span(master, n)));
    }
    // An empty callback turns logging off.
    REQUIRE(ctx.client.danger_set_keylog_callback({}).has_value());
    client_lines.clear();
    Pair again = connect(ctx);
    CHECK(client_lines.empty());
  }
}

TEST_CASE("key log: key_log_file appends lines to a 0600 file; a bad path is an error") {
  char dir_template[] = "/tmp/ossl-keylog-XXXXXX";
  REQUIRE(::mkdtemp(dir_template) != nullptr);
  const std::string path = std::string(dir_template) + "/keys.log";
  {
    auto sink = key_log_file(path);
    REQUIRE_MESSAGE(sink.has_value(), sink.error().to_string());
    Contexts ctx = make_contexts(Config{.version = TlsVersion::Tls13});
    REQUIRE(ctx.client.danger_set_keylog_callback(*sink).has_value());
    (void)connect(ctx);
    (void)connect(ctx);
  }  // the contexts and the callback are gone: the file is closed
  std::ifstream in(path);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    CHECK(line.find("_SECRET") != std::string::npos);
  }
  CHECK(lines == 10);  // five secrets per TLS 1.3 handshake, two handshakes
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  std::remove(path.c_str());
  ::rmdir(dir_template);

  auto bad = key_log_file("/nonexistent-dir/keys.log");
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().to_string().find("/nonexistent-dir/keys.log") != std::string::npos);
  CHECK(key_log_file("a\0b"sv).error().to_string().find("embedded NUL") != std::string::npos);
}

// ------------------------------------------------------------ record sizes

namespace {

// The lengths of the TLS records in `wire` (5-byte headers: type, version, length).
std::vector<std::size_t> record_lengths(std::string_view wire) {
  std::vector<std::size_t> lengths;
  std::size_t pos = 0;
  while (pos + 5 <= wire.size()) {
    const auto len = static_cast<std::size_t>(static_cast<unsigned char>(wire[pos + 3]) << 8 |
                                              static_cast<unsigned char>(wire[pos + 4]));
    CHECK(static_cast<unsigned char>(wire[pos]) == 23);  // application_data
    lengths.push_back(len);
    pos += 5 + len;
  }
  CHECK(pos == wire.size());
  return lengths;
}

}  // namespace

TEST_CASE("max_send_fragment caps the plaintext per record, on contexts and connections") {
  struct Case {
    const char* name;
    std::size_t ctx_limit;   // 0: leave the default
    std::size_t conn_limit;  // 0: leave the context's
    std::size_t expected_plaintext;
  };
  const std::string payload(5000, 'x');
  for (TlsVersion v : kVersions) {
    for (const Case& c : {Case{"default", 0, 0, 16384}, Case{"context 512", 512, 0, 512},
                          Case{"connection 1024 over context 512", 512, 1024, 1024}}) {
      CAPTURE(to_string(v));
      CAPTURE(c.name);
      Contexts ctx = make_contexts(Config{.version = v});
      if (c.ctx_limit != 0) REQUIRE(ctx.client.set_max_send_fragment(c.ctx_limit).has_value());
      WirePair w = wire_pair(ctx, c.conn_limit);
      REQUIRE(w.client.write(std::string_view(payload)).value() == payload.size());
      const auto lengths = record_lengths(shuttle(w.client, w.server));
      const std::size_t per_record = std::min(c.expected_plaintext, payload.size());
      CHECK(lengths.size() == (payload.size() + per_record - 1) / per_record);
      for (std::size_t len : lengths) {
        CHECK(len <= per_record + 256);  // plaintext plus the AEAD's nonce, tag and type
      }
      std::string got(payload.size(), '\0');
      std::size_t have = 0;
      while (have < got.size()) {
        auto n = w.server.read(std::span(got.data() + have, got.size() - have));
        REQUIRE(n.has_value());
        have += *n;
      }
      CHECK(got == payload);
    }
  }
}

TEST_CASE("max_send_fragment outside 512..16384 is an error naming the value") {
  auto ctx = SslCtx::new_client().value();
  for (std::size_t bad : {std::size_t{0}, std::size_t{511}, std::size_t{16385}}) {
    CAPTURE(bad);
    auto r = ctx.set_max_send_fragment(bad);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().to_string().find(std::to_string(bad) + " bytes is outside 512 to 16384") !=
          std::string::npos);
  }
  CHECK(ctx.set_max_send_fragment(512).has_value());
  CHECK(ctx.set_max_send_fragment(16384).has_value());
  auto ssl = ctx.new_ssl().value();
  CHECK_FALSE(ssl.set_max_send_fragment(100).has_value());
  CHECK(ssl.set_max_send_fragment(4096).has_value());
  // After the handshake, OpenSSL's write buffer is sized: a change is refused.
  WirePair w = wire_pair(make_contexts(Config{}));
  auto late = w.client.set_max_send_fragment(1024);
  REQUIRE_FALSE(late.has_value());
  CHECK(late.error().to_string().find("before the handshake starts") != std::string::npos);
  CHECK(w.client.write("still fine"sv).has_value());
  CHECK(ERR_peek_error() == 0);
}
