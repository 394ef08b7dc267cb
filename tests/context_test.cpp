#include <ossl/context.hpp>  // first: proves the header is self-contained

#include "support/free_counter.hpp"
#include "support/handshake.hpp"

#include <doctest/doctest.h>
#include <openssl/err.h>

#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

using namespace ossl;
using namespace ossl_test;
using namespace std::literals;

static_assert(std::is_copy_constructible_v<SslCtx>);

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
