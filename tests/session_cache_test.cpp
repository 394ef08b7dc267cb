#include <ossl/session_cache.hpp>  // first: proves the header is self-contained

#include "support/handshake.hpp"

#include <doctest/doctest.h>
#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

using namespace ossl;
using namespace ossl_test;

namespace {

constexpr std::size_t kTickets = 2;  // TLS 1.3 tickets per full handshake, set on servers

SslCtx cache_server(TlsVersion v) {
  SslCtx server = server_builder(v).build().value();
  REQUIRE(server.set_num_tickets(kTickets).has_value());
  return server;
}

SslCtx cache_client(TlsVersion v, std::shared_ptr<ClientSessionCache> cache) {
  return client_builder(v).client_session_cache(std::move(cache)).build().value();
}

// A server, a cache, and a client context feeding it.
struct Setup {
  SslCtx server;
  std::shared_ptr<ClientSessionCache> cache;
  SslCtx client;
};
Setup setup(TlsVersion v, std::size_t max_peers = 256, std::size_t per_peer = 4) {
  auto cache = std::make_shared<ClientSessionCache>(max_peers, per_peer);
  SslCtx client = cache_client(v, cache);
  return Setup{cache_server(v), std::move(cache), std::move(client)};
}

// One connection to `host`:`port` made by new_ssl_for_host(host, port); with TLS 1.3
// the client then reads the server's tickets, which feed the cache. The client closes
// with close_notify: OpenSSL marks the session of a connection freed without it not
// resumable (it may have been cut), and the cache then drops it.
Attempt visit(const SslCtx& client, const SslCtx& server, std::uint16_t port,
              const std::string& host = "localhost") {
  Attempt a = attempt(client, server, ConnectOptions{.host = host, .port = port});
  REQUIRE_MESSAGE(a.outcome.ok, a.outcome.describe());
  if (a.pair.client.version() == TlsVersion::Tls13) read_tickets(a.pair.client);
  REQUIRE(a.pair.client.shutdown().value() == ShutdownResult::Sent);
  return a;
}

// A connection offered a cached session, if any (no tickets read), closed cleanly;
// returns whether it resumed.
bool resumes(const SslCtx& client, const SslCtx& server, std::uint16_t port) {
  Attempt a = attempt(client, server, ConnectOptions{.port = port});
  REQUIRE_MESSAGE(a.outcome.ok, a.outcome.describe());
  REQUIRE(a.pair.client.shutdown().value() == ShutdownResult::Sent);
  return a.pair.client.session_reused();
}

std::size_t sent_per_full_handshake(TlsVersion v) {
  return v == TlsVersion::Tls13 ? kTickets : 1;
}

}  // namespace

TEST_CASE("a client session cache resumes the next connection to the same host and port") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    auto [server, cache, client] = setup(v);
    CHECK(client.client_session_cache() == cache);

    Attempt first = visit(client, server, 443);
    CHECK_FALSE(first.pair.client.session_reused());
    CHECK(cache->count("localhost", 443) == sent_per_full_handshake(v));
    CHECK(cache->stats().stored == sent_per_full_handshake(v));

    Attempt second = attempt(client, server, ConnectOptions{.port = 443});
    REQUIRE_MESSAGE(second.outcome.ok, second.outcome.describe());
    CHECK(second.pair.client.session_reused());
    CHECK(second.pair.server.session_reused());
    CHECK(cache->stats().offered == 1);
    // A TLS 1.3 ticket is handed out once; a TLS 1.2 session stays.
    CHECK(cache->count("localhost", 443) == (v == TlsVersion::Tls13 ? kTickets - 1 : 1));
  }
}

TEST_CASE("a cached session is never offered to another host, port or context") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    auto [server, cache, client] = setup(v);
    visit(client, server, 443);
    const std::size_t held = cache->count("localhost", 443);
    REQUIRE(held == sent_per_full_handshake(v));

    struct Case {
      const char* name;
      std::string host;
      std::uint16_t port;
    };
    const Case cases[] = {
        {"another host (same certificate)", "127.0.0.1", 443},
        {"another port", "localhost", 8443},
        {"no port given", "localhost", 0},
    };
    for (const Case& c : cases) {
      CAPTURE(std::string(c.name));
      Attempt a = visit(client, server, c.port, c.host);
      CHECK_FALSE(a.pair.client.session_reused());
      CHECK(cache->count(c.host, c.port) == sent_per_full_handshake(v));  // its own now
    }
    CHECK(cache->count("localhost", 443) == held);  // untouched

    // Another context sharing the cache: its sessions are its own.
    const SslCtx other = cache_client(v, cache);
    Attempt a = visit(other, server, 443);
    CHECK_FALSE(a.pair.client.session_reused());
    CHECK(cache->count("localhost", 443) == 2 * held);
    CHECK(cache->peers() == 5);
  }
}

TEST_CASE("TLS 1.3 tickets are used once; a TLS 1.2 session is offered again") {
  {
    const SslCtx server = cache_server(TlsVersion::Tls13);
    auto cache = std::make_shared<ClientSessionCache>();
    const SslCtx client = cache_client(TlsVersion::Tls13, cache);
    visit(client, server, 443);
    REQUIRE(cache->count("localhost", 443) == kTickets);
    // Without reading the new tickets, each connection consumes one of the first.
    std::vector<const SSL_SESSION*> used;
    for (std::size_t i = 0; i < kTickets; ++i) {
      Attempt a = attempt(client, server, ConnectOptions{.port = 443});
      REQUIRE(a.outcome.ok);
      CHECK(a.pair.client.session_reused());
      used.push_back((*a.pair.client.session())->native_handle());
    }
    CHECK(used[0] != used[1]);
    CHECK(cache->count("localhost", 443) == 0);
    Attempt none = attempt(client, server, ConnectOptions{.port = 443});
    REQUIRE(none.outcome.ok);
    CHECK_FALSE(none.pair.client.session_reused());
    CHECK(cache->stats().missed == 2);  // the first connection, and this one
  }
  {
    const SslCtx server = cache_server(TlsVersion::Tls12);
    auto cache = std::make_shared<ClientSessionCache>();
    const SslCtx client = cache_client(TlsVersion::Tls12, cache);
    visit(client, server, 443);
    for (int i = 0; i < 3; ++i)
      CHECK(resumes(client, server, 443));
    CHECK(cache->count("localhost", 443) == 1);
    CHECK(cache->stats().offered == 3);
    CHECK(cache->stats().stored == 1);  // a resumed TLS 1.2 handshake makes no new session
  }
}

TEST_CASE("the least recently used peer is evicted first; a peer keeps its newest sessions") {
  const SslCtx server = cache_server(TlsVersion::Tls12);
  auto cache = std::make_shared<ClientSessionCache>(2, 4);
  const SslCtx client = cache_client(TlsVersion::Tls12, cache);
  visit(client, server, 1);
  visit(client, server, 2);
  CHECK(cache->peers() == 2);
  CHECK(resumes(client, server, 1));  // now the most recently used
  visit(client, server, 3);           // evicts port 2, the least recently used
  CHECK(cache->peers() == 2);
  CHECK(cache->count("localhost", 1) == 1);
  CHECK(cache->count("localhost", 2) == 0);
  CHECK(cache->count("localhost", 3) == 1);
  CHECK(cache->stats().evicted == 1);

  const SslCtx server13 = cache_server(TlsVersion::Tls13);
  auto small = std::make_shared<ClientSessionCache>(8, 1);
  CHECK(small->max_peers() == 8);
  CHECK(small->max_sessions_per_peer() == 1);
  const SslCtx client13 = cache_client(TlsVersion::Tls13, small);
  visit(client13, server13, 443);
  CHECK(small->count("localhost", 443) == 1);  // the newest of kTickets
  CHECK(small->stats().evicted == kTickets - 1);

  small->forget("localhost", 443);
  CHECK(small->size() == 0);
  visit(client13, server13, 443);
  small->clear();
  CHECK(small->size() == 0);
  CHECK(small->peers() == 0);
}

TEST_CASE("a cached session that may no longer resume is dropped, not offered") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    SUBCASE("the verification policy changed") {
      auto [server, cache, client] = setup(v);
      visit(client, server, 443);
      REQUIRE(cache->count("localhost", 443) > 0);
      // New CRLs: sessions verified before do not resume (issue 8's binding).
      REQUIRE(client.set_crls({pki().intermediate.issue_crl({}).value()}).has_value());
      Attempt a = attempt(client, server, ConnectOptions{.port = 443});
      REQUIRE_MESSAGE(a.outcome.ok, a.outcome.describe());
      CHECK_FALSE(a.pair.client.session_reused());
      CHECK(cache->stats().offered == 0);
      CHECK(cache->stats().evicted == sent_per_full_handshake(v));
    }
    SUBCASE("its connection was dropped without close_notify") {
      const SslCtx server = cache_server(v);
      auto cache = std::make_shared<ClientSessionCache>(8, 1);  // the newest only
      const SslCtx client = cache_client(v, cache);
      {
        Attempt a = attempt(client, server, ConnectOptions{.port = 443});
        REQUIRE(a.outcome.ok);
        if (v == TlsVersion::Tls13) read_tickets(a.pair.client);
      }  // freed without shutdown(): OpenSSL marks the session not resumable
      REQUIRE(cache->count("localhost", 443) == 1);
      CHECK_FALSE(resumes(client, server, 443));
      CHECK(cache->stats().offered == 0);
      CHECK(cache->stats().evicted >= 1);
    }
    SUBCASE("the session expired") {
      SslCtx server = cache_server(v);
      SSL_CTX_set_timeout(server.native_handle(), 1);  // TLS 1.3: the ticket's lifetime
      auto cache = std::make_shared<ClientSessionCache>();
      SslCtx client = cache_client(v, cache);
      SSL_CTX_set_timeout(client.native_handle(), 1);  // TLS 1.2: the client's own timeout
      visit(client, server, 443);
      REQUIRE(cache->count("localhost", 443) > 0);
      std::this_thread::sleep_for(std::chrono::milliseconds(2100));
      Attempt a = attempt(client, server, ConnectOptions{.port = 443});
      REQUIRE(a.outcome.ok);
      CHECK_FALSE(a.pair.client.session_reused());
      CHECK(cache->stats().offered == 0);
    }
  }
}

TEST_CASE("the session cache mode setters keep the cache's feed") {
  const SslCtx server = cache_server(TlsVersion::Tls12);
  auto cache = std::make_shared<ClientSessionCache>();
  SslCtx client = cache_client(TlsVersion::Tls12, cache);
  client.disable_session_cache();
  const long mode = client.session_cache_mode().bits();
  CHECK((mode & SSL_SESS_CACHE_CLIENT) != 0);
  CHECK((mode & SSL_SESS_CACHE_NO_INTERNAL_STORE) != 0);
  visit(client, server, 443);
  CHECK(resumes(client, server, 443));
  // Detached: nothing is kept or offered any more, and the mode is the caller's again.
  REQUIRE(client.set_client_session_cache(nullptr).has_value());
  CHECK(client.client_session_cache() == nullptr);
  const std::size_t before = cache->size();
  CHECK_FALSE(visit(client, server, 443).pair.client.session_reused());
  CHECK(cache->size() == before);
  client.set_session_cache_mode(SessionCacheMode::OFF);
  CHECK(client.session_cache_mode().bits() == 0);
}

TEST_CASE("client_session_cache() refuses a null cache, naming the step") {
  auto built = client_builder().client_session_cache(nullptr).build();
  REQUIRE_FALSE(built.has_value());
  CHECK(built.error().to_string().find("client_session_cache") != std::string::npos);
  CHECK(built.error().to_string().find("null ClientSessionCache") != std::string::npos);
}
