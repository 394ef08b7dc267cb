#include <ossl/ssl.hpp>  // first: proves the header is self-contained

#include "support/free_counter.hpp"
#include "support/handshake.hpp"

#include <doctest/doctest.h>
#include <openssl/err.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
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
    Contexts ctx = make_contexts(Config{.version = v});
    // The group asserted is the one configured, not one OpenSSL release's default.
    REQUIRE(ctx.client.set_groups_list("X25519:P-256").has_value());
    REQUIRE(ctx.server.set_groups_list("X25519:P-256").has_value());
    Connection c{ctx, connect(ctx)};
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
    Pair pair{std::move(client), std::move(server), Transport::Memory};
    CHECK(complete_handshake(pair, 16).ok);  // shuttles the bytes between the BIOs
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
  SUBCASE("before any handshake: refused, sends nothing, and the connection still works") {
    Contexts ctx = make_contexts(Config{});
    Pair pair = make_pair(ctx.client, ctx.server);
    REQUIRE(pair.client.set_peer_host("localhost").has_value());
    auto s = pair.client.shutdown();
    REQUIRE_FALSE(s.has_value());
    CHECK(s.error() == SslIoError::Kind::Other);
    CHECK(s.error().to_string().find("handshake has not completed") != std::string::npos);
    CHECK_FALSE(pair.client.has_fatal_error());
    CHECK(pair.client.shutdown_state() == ShutdownState{false, false});
    CHECK(complete_handshake(pair).ok);
    CHECK(pair.client.shutdown().value() == ShutdownResult::Sent);
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

TEST_CASE("a record cut short by the end of the transport is truncation, not data") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    Contexts ctx = make_contexts(Config{.version = v});
    Pair w = connect(ctx.client, ctx.server, {.transport = Transport::Memory});
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
    // The caller's mistake, not a broken connection: the close still completes.
    CHECK_FALSE(c.pair.client.has_fatal_error());
    REQUIRE(c.pair.server.write("bye"sv).has_value());
    char bye[3];
    CHECK(c.pair.client.read(bye).value() == 3);
    REQUIRE(c.pair.server.shutdown().has_value());
    CHECK(c.pair.client.shutdown().value() == ShutdownResult::Complete);

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
      ConnectOptions options{.transport = Transport::Memory};
      if (c.conn_limit != 0) {
        options.prepare_client = [&](Ssl& client) {
          REQUIRE(client.set_max_send_fragment(c.conn_limit).has_value());
        };
      }
      Pair w = connect(ctx.client, ctx.server, options);
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
  Contexts both = make_contexts(Config{});
  Pair w = connect(both.client, both.server, {.transport = Transport::Memory});
  auto late = w.client.set_max_send_fragment(1024);
  REQUIRE_FALSE(late.has_value());
  CHECK(late.error().to_string().find("before the handshake starts") != std::string::npos);
  CHECK(w.client.write("still fine"sv).has_value());
  CHECK(ERR_peek_error() == 0);
}

namespace {
// A BIO whose reads and writes fail without setting errno or a retry flag, as a broken
// custom transport does: OpenSSL reports SSL_ERROR_SYSCALL.
BIO* failing_bio() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "failing");
    BIO_meth_set_write(m, [](BIO*, const char*, int) { return -1; });
    BIO_meth_set_read(m, [](BIO*, char*, int) { return -1; });
    BIO_meth_set_ctrl(m, [](BIO*, int cmd, long, void*) -> long { return cmd == BIO_CTRL_FLUSH; });
    BIO_meth_set_create(m, [](BIO* b) {
      BIO_set_init(b, 1);
      return 1;
    });
    return m;
  }();
  return BIO_new(method);
}
}  // namespace

TEST_CASE("a Syscall error carries this call's errno, never an older one") {
  Contexts ctx = make_contexts(Config{});
  auto ssl = ctx.client.new_ssl_for_host("localhost").value();
  ssl.set_bio_duplex(Bio::adopt(failing_bio()).value());
  errno = EBADF;  // left over from something unrelated
  auto r = ssl.do_handshake();
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == SslIoError::Kind::Syscall);
  CHECK(r.error().sys_errno() == 0);
  CHECK(r.error().to_string().find(std::strerror(EBADF)) == std::string::npos);
}

TEST_CASE("set_hostname and set_peer_host keep the caller's own error queue") {
  // Telling DNS names from IP literals queues a record for every name, which is popped.
  Contexts ctx = make_contexts(Config{});
  auto ssl = ctx.client.new_ssl().value();
  ERR_raise(ERR_LIB_USER, 77);
  REQUIRE(ssl.set_hostname("example.com").has_value());
  REQUIRE(ssl.set_peer_host("example.com").has_value());
  CHECK(ERR_GET_REASON(ERR_get_error()) == 77);
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("shutdown on a full transport is WantWrite, typed, and succeeds once drained") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    Contexts ctx = make_contexts(Config{.version = v});
    Pair pair = connect(ctx.client, ctx.server, {.bio_buffer = 1024});
    // Fill the client's half of the BIO pair exactly: one byte measures the record
    // overhead, then one record takes the rest, so close_notify finds no room.
    BIO* out = SSL_get_wbio(pair.client.native_handle());  // get0
    const std::size_t free0 = BIO_ctrl_get_write_guarantee(out);
    REQUIRE(pair.client.write("x"sv).value() == 1);
    const std::size_t free1 = BIO_ctrl_get_write_guarantee(out);
    const std::size_t overhead = free0 - free1 - 1;
    REQUIRE(free1 > overhead);
    const std::string fill(free1 - overhead, 'y');
    REQUIRE(pair.client.write(fill).value() == fill.size());
    REQUIRE(BIO_ctrl_get_write_guarantee(out) == 0);

    auto s = pair.client.shutdown();
    REQUIRE_FALSE(s.has_value());
    CHECK(s.error() == SslIoError::Kind::WantWrite);
    CHECK_FALSE(pair.client.has_fatal_error());
    std::string got;
    char buf[2048];
    while (auto n = pair.server.read(buf))
      got.append(buf, *n);
    CHECK(got == "x" + fill);
    CHECK(pair.client.shutdown().value() == ShutdownResult::Sent);  // now it fits
    auto end = pair.server.read(buf);
    REQUIRE_FALSE(end.has_value());
    CHECK(end.error() == SslIoError::Kind::ZeroReturn);
  }
}

// ------------------------------------------------------- readable negotiation errors

TEST_CASE("negotiation failures carry a summary a person understands, from each side") {
  // A server that speaks only TLS 1.0/1.1 (security level 0, as old servers are set up).
  auto old_server = [] {
    SslCtx ctx = SslCtx::new_server().value();
    SSL_CTX_set_security_level(ctx.native_handle(), 0);
    REQUIRE(ctx.set_min_proto_version(static_cast<TlsVersion>(TLS1_VERSION)).has_value());
    REQUIRE(ctx.set_max_proto_version(static_cast<TlsVersion>(TLS1_1_VERSION)).has_value());
    REQUIRE(ctx.set_cipher_list("DEFAULT:@SECLEVEL=0").has_value());
    REQUIRE(ctx.use_certificate(pki().server.cert).has_value());
    REQUIRE(ctx.use_private_key(pki().server.key).has_value());
    return ctx;
  };
  struct Case {
    const char* name;
    std::function<SslCtx()> client;
    std::function<SslCtx()> server;
    const char* client_says;  // in the client's error summary ("" : not checked)
    const char* server_says;  // in the server's
  };
  const Case cases[] = {
      {"the server speaks only TLS 1.0/1.1", [] { return client_builder().build().value(); },
       old_server,
       "the server supports only TLS versions older than TLS 1.2 (such as TLS 1.0/1.1); this "
       "client requires TLS 1.2 or later",
       "no TLS version in common: this server accepts TLS 1.0 to TLS 1.1"},
      {"no cipher in common",
       [] {
         return client_builder(TlsVersion::Tls12)
             .max_proto_version(TlsVersion::Tls12)
             .cipher_list("AES128-SHA")
             .build()
             .value();
       },
       [] { return server_builder(TlsVersion::Tls12).build().value(); },
       "the server refused the handshake (handshake_failure alert)",
       "no cipher suite (or key exchange group, or signature algorithm) in common: the client "
       "offers none this server accepts"},
      {"a client certificate required, none sent (TLS 1.3)",
       [] { return client_builder().build().value(); },
       [] {
         return server_builder()
             .client_ca_cert(pki().root.cert())
             .verify_client(true)
             .build()
             .value();
       },
       "the server requires a client certificate and this client sent none",
       "the client sent no certificate and this server requires one"},
      {"an untrusted server certificate",
       [] {
         return SslCtxBuilder<Client>::create()
             .ca_cert(testing::TestCa::create_root("stranger").value().cert())
             .build()
             .value();
       },
       [] { return server_builder().build().value(); },
       "the server's certificate was refused: the issuer of CN=ossl test intermediate,O=ossl test "
       "(CN=ossl test root,O=ossl test) is neither trusted here nor sent by the server; the "
       "server may be leaving out an intermediate certificate, or its root CA is not trusted "
       "here: unable to get local issuer certificate",
       ""},
      {"a chain longer than the client allows",
       [] {
         SslCtx c = client_builder().build().value();
         c.set_verify_depth(0);
         return c;
       },
       [] { return server_builder().build().value(); },
       "the server's certificate was refused: the certificate CN=ossl test intermediate,O=ossl "
       "test (depth 1: an issuer of the server's): certificate chain too long",
       ""},
  };
  for (const Case& c : cases) {
    CAPTURE(std::string(c.name));
    const SslCtx client = c.client();
    const SslCtx server = c.server();
    Attempt a = attempt(client, server);
    // TLS 1.3 refuses a missing client certificate after the client finished: its next
    // read brings the alert.
    std::optional<SslIoError> client_error = a.outcome.client_error;
    if (client_error && client_error->would_block()) {
      // The server failed first; its alert is waiting for the client.
      auto r = a.pair.client.do_handshake();
      REQUIRE_FALSE(r.has_value());
      client_error = r.error();
    } else if (a.pair.client.is_init_finished()) {
      std::byte buf[16];
      auto r = a.pair.client.read(buf);
      REQUIRE_FALSE(r.has_value());
      client_error = r.error();
    }
    REQUIRE(client_error.has_value());
    REQUIRE(a.outcome.server_error.has_value());
    CHECK_MESSAGE(client_error->stack().summary().find(c.client_says) != std::string::npos,
                  client_error->to_string());
    CHECK(client_error->stack().headline() == client_error->stack().summary());
    CHECK(client_error->stack().size() >= 1);  // OpenSSL's records stay
    if (*c.server_says != '\0') {
      CHECK_MESSAGE(
          a.outcome.server_error->stack().summary().find(c.server_says) != std::string::npos,
          a.outcome.server_error->to_string());
    }
  }
}

TEST_CASE("an Ssl taken over from raw code may retry a write from a buffer that moved") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    {
      // A connection made by raw code, from a raw context: OpenSSL's default mode lacks
      // SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER.
      SSL_CTX* raw_ctx = SSL_CTX_new(TLS_client_method());
      REQUIRE(raw_ctx != nullptr);
      REQUIRE(SSL_CTX_set_max_proto_version(
                  raw_ctx, v == TlsVersion::Tls12 ? TLS1_2_VERSION : TLS1_3_VERSION) == 1);
      SSL* raw = SSL_new(raw_ctx);
      SSL_CTX_free(raw_ctx);  // the connection holds its own reference
      REQUIRE(raw != nullptr);
      REQUIRE((SSL_get_mode(raw) & SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER) == 0);
      SSL_set_connect_state(raw);
      Ssl client = Ssl::adopt(raw).value();
      CHECK((SSL_get_mode(client.native_handle()) & SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER) != 0);

      Pair pair = make_pair(std::move(client), server_builder(v).build().value(), 4096);
      REQUIRE_MESSAGE(complete_handshake(pair).ok, "handshake");
      // A write larger than the BIO pair holds stops with WantWrite; it is retried from a
      // copy of the bytes at another address while the server drains.
      std::vector<std::byte> data(64 * 1024, std::byte{0x5a});
      auto first = pair.client.write(data);
      REQUIRE_FALSE(first.has_value());
      REQUIRE(first.error().kind() == SslIoError::Kind::WantWrite);
      std::vector<std::byte> moved = data;
      data.assign(data.size(), std::byte{0});  // the old bytes are gone
      std::size_t received = 0;
      std::vector<std::byte> buf(16 * 1024);
      bool written = false;
      for (int round = 0; round < 1000 && !written; ++round) {
        for (auto n = pair.server.read(buf); n; n = pair.server.read(buf))
          received += *n;
        auto again = pair.client.write(moved);
        if (again) {
          CHECK(*again == moved.size());
          written = true;
        } else {
          REQUIRE_MESSAGE(again.error().kind() == SslIoError::Kind::WantWrite,
                          again.error().to_string());
        }
      }
      CHECK(written);
      for (auto n = pair.server.read(buf); n; n = pair.server.read(buf))
        received += *n;
      CHECK(received == moved.size());
    }
  }
}
