#include <ossl/redis_session_store.hpp>  // first: proves the header is self-contained

#include "support/handshake.hpp"
#include "support/redis_server.hpp"
#include "support/store_log.hpp"

#include <doctest/doctest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace ossl;
using namespace ossl_test;

namespace {

std::shared_ptr<RedisSessionStore> store_for(
    const RedisServer& redis,
    std::chrono::milliseconds retry_after = std::chrono::milliseconds(1000)) {
  auto options = RedisSessionStoreOptions::from_url(redis.url()).value();
  options.retry_after = retry_after;
  return std::make_shared<RedisSessionStore>(options);
}

SslCtx redis_server(TlsVersion v, std::shared_ptr<SessionStore> store,
                    SessionStoreErrorCallback on_error = nullptr) {
  return server_builder(v).session_store(std::move(store), std::move(on_error)).build().value();
}

std::span<const std::byte> bytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

}  // namespace

TEST_CASE("servers with their own connections to one Redis resume each other's sessions") {
  RedisServer redis;
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    // Two stores, as two server processes would have.
    const SslCtx a = redis_server(v, store_for(redis));
    const SslCtx b = redis_server(v, store_for(redis));
    const SslCtx client = client_builder(v).build().value();
    const SslSession s = session_from(client, a);
    CHECK(a.session_store_stats().stored >= 1);
    // The session is in Redis under the id the client offers: the TLS 1.2 session ID,
    // or the TLS 1.3 stateful ticket (the server's session ID; the client files the
    // session under a hash of the ticket).
    const unsigned char* tick = nullptr;
    std::size_t tick_len = 0;
    SSL_SESSION_get0_ticket(s.native_handle(), &tick, &tick_len);
    const std::span<const std::byte> key =
        v == TlsVersion::Tls13 ? std::span(reinterpret_cast<const std::byte*>(tick), tick_len)
                               : s.id();
    auto stored = store_for(redis)->get(key).value();
    REQUIRE(stored);
    const SslSession server_side = SslSession::from_der(*stored).value();
    CHECK(std::ranges::equal(server_side.id(), key));

    CHECK(resumes(client, b, s));
    CHECK(b.session_store_stats().found == 1);
    // TLS 1.3: GETDEL took the ticket; TLS 1.2: the session ID resumes again.
    CHECK(resumes(client, a, s) == (v == TlsVersion::Tls12));
  }
}

TEST_CASE("when Redis is down, handshakes are full, never failed, and say why; then it recovers") {
  auto redis = std::make_unique<RedisServer>();
  const std::uint16_t port = redis->port();
  const TlsVersion v = TlsVersion::Tls12;
  StoreErrorLog log;
  // Long enough that a slow run (valgrind) still sees the fail-fast window.
  auto store = store_for(*redis, std::chrono::milliseconds(2000));
  const SslCtx server = redis_server(v, store, log.callback());
  const SslCtx client = client_builder(v).build().value();
  const SslSession s = session_from(client, server);
  REQUIRE(resumes(client, server, s));

  redis->stop();
  for (int i = 0; i < 3; ++i)
    CHECK_FALSE(resumes(client, server, s));  // full handshakes, every one succeeds
  INFO(log.all());
  const std::string down = "Redis at 127.0.0.1:" + std::to_string(port) + " is down";
  CHECK(log.any_contains("session store: looking a session up: ossl: RedisSessionStore: " + down));
  CHECK(log.any_contains("session store: storing a session"));
  // After the first failure, calls fail at once until retry_after has passed.
  CHECK(log.any_contains("; next attempt in "));
  CHECK(server.session_store_stats().failed >= 6);
  CHECK(ERR_peek_error() == 0);  // Redis's failures never reach OpenSSL's queue
  const std::string why = store->ping().error().to_string();
  CHECK(why.find(down) != std::string::npos);

  // Back on the same port: after retry_after, sessions are stored and resumed again.
  redis = std::make_unique<RedisServer>(port, "");
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  REQUIRE(store->ping().has_value());
  const SslSession fresh = session_from(client, server);
  CHECK(resumes(client, server, fresh));
}

TEST_CASE("a Redis restarted under idle pooled connections: the next call reconnects at once") {
  auto redis = std::make_unique<RedisServer>();
  const std::uint16_t port = redis->port();
  auto store = store_for(*redis);
  REQUIRE(store->put(bytes("id"), bytes("abc"), std::chrono::seconds(60)).has_value());
  redis.reset();  // stopped: the pooled connection is closed by the other end
  redis = std::make_unique<RedisServer>(port, "");
  auto got = store->get(bytes("id"));  // not "down": retried on a new connection
  REQUIRE(got.has_value());
  CHECK_FALSE(got->has_value());  // a new Redis, without persistence: empty
}

TEST_CASE("a password-protected Redis: the URL's password is sent; a wrong one is refused") {
  RedisServer redis("s3cret-pass");
  auto good =
      std::make_shared<RedisSessionStore>(RedisSessionStoreOptions::from_url(redis.url()).value());
  REQUIRE(good->ping().has_value());
  const SslCtx server = redis_server(TlsVersion::Tls12, good);
  const SslCtx client = client_builder(TlsVersion::Tls12).build().value();
  CHECK(resumes(client, server, session_from(client, server)));

  auto options = RedisSessionStoreOptions::from_url(redis.url()).value();
  options.password = "wrong";
  auto r = RedisSessionStore(options).ping();
  REQUIRE_FALSE(r);
  CHECK(r.error().to_string().find("AUTH refused: WRONGPASS") != std::string::npos);
  options.password.clear();
  auto none = RedisSessionStore(options).get(bytes("id"));
  REQUIRE_FALSE(none);
  CHECK(none.error().to_string().find("refused GET: NOAUTH") != std::string::npos);
}

TEST_CASE("Redis entries are bounded: larger sessions are neither written nor read") {
  RedisServer redis;
  auto options = RedisSessionStoreOptions::from_url(redis.url()).value();
  RedisSessionStore big(options);
  const std::string large(2000, 'x');
  REQUIRE(big.put(bytes("id-1"), bytes(large), std::chrono::seconds(60)).has_value());
  options.max_entry_bytes = 1000;
  RedisSessionStore small(options);
  auto put = small.put(bytes("id-2"), bytes(large), std::chrono::seconds(60));
  REQUIRE_FALSE(put);
  CHECK(put.error().to_string().find("a session of 2000 bytes (the limit is 1 to 1000") !=
        std::string::npos);
  auto get = small.get(bytes("id-1"));
  REQUIRE_FALSE(get);
  CHECK(get.error().to_string().find("has 2000 bytes, more than max_entry_bytes (1000)") !=
        std::string::npos);
  // Within the bound: get keeps, take removes, remove removes, expiry is set.
  REQUIRE(small.put(bytes("id-3"), bytes("abc"), std::chrono::seconds(1)).has_value());
  CHECK(small.get(bytes("id-3")).value().has_value());
  CHECK(small.take(bytes("id-3")).value().has_value());
  CHECK_FALSE(small.get(bytes("id-3")).value().has_value());
  REQUIRE(small.put(bytes("id-4"), bytes("abc"), std::chrono::seconds(1)).has_value());
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  CHECK_FALSE(small.get(bytes("id-4")).value().has_value());
  REQUIRE(small.put(bytes("id-5"), bytes("abc"), std::chrono::seconds(60)).has_value());
  REQUIRE(small.remove(bytes("id-5")).has_value());
  CHECK_FALSE(small.get(bytes("id-5")).value().has_value());
  CHECK_FALSE(small.put(bytes(""), bytes("abc"), std::chrono::seconds(60)));
}

TEST_CASE("a Redis that accepts but never answers costs one command timeout, then fails fast") {
  // A listening socket nobody accepts on: the kernel completes the connection, the
  // command is never answered.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  REQUIRE(::listen(fd, 8) == 0);
  RedisSessionStoreOptions options;
  options.port = ntohs(addr.sin_port);
  options.command_timeout = std::chrono::milliseconds(50);
  RedisSessionStore store(options);
  auto first = store.get(bytes("id"));
  REQUIRE_FALSE(first);
  CHECK(first.error().to_string().find("GET failed: ") != std::string::npos);
  auto second = store.get(bytes("id"));
  REQUIRE_FALSE(second);
  CHECK(second.error().to_string().find("next attempt in") != std::string::npos);
  ::close(fd);
}

TEST_CASE("redis URLs: what parses, and errors that say what is wrong") {
  struct Case {
    std::string_view url;
    std::string_view host_or_error;
    std::uint16_t port;
    std::string_view password;
  };
  const Case good[] = {
      {"redis://127.0.0.1:6380", "127.0.0.1", 6380, ""},
      {"redis://cache.internal", "cache.internal", 6379, ""},
      {"redis://:pw@10.0.0.5:7000/", "10.0.0.5", 7000, "pw"},
      {"redis://[::1]:6390", "::1", 6390, ""},
  };
  for (const Case& c : good) {
    CAPTURE(c.url);
    const auto o = RedisSessionStoreOptions::from_url(c.url);
    REQUIRE(o);
    CHECK(o->host == c.host_or_error);
    CHECK(o->port == c.port);
    CHECK(o->password == c.password);
  }
  const Case bad[] = {
      {"http://127.0.0.1:6379", "does not start with redis://", 0, ""},
      {"redis://", "no host", 0, ""},
      {"redis://host:", "an empty port", 0, ""},
      {"redis://host:0", "the port '0' is not a number from 1 to 65535", 0, ""},
      {"redis://host:70000", "the port '70000'", 0, ""},
      {"redis://host:12ab", "the port '12ab'", 0, ""},
      {"redis://user:pw@host", "only a password", 0, ""},
      {"redis://host/3", "a database number", 0, ""},
      {"redis://[::1:6379", "without its ']'", 0, ""},
  };
  for (const Case& c : bad) {
    CAPTURE(c.url);
    const auto o = RedisSessionStoreOptions::from_url(c.url);
    REQUIRE_FALSE(o);
    const std::string text = o.error().to_string();
    CHECK(text.find("redis URL '" + std::string(c.url) + "'") != std::string::npos);
    CHECK(text.find(c.host_or_error) != std::string::npos);
  }
  CHECK(ERR_peek_error() == 0);
  CHECK(
      RedisSessionStore(RedisSessionStoreOptions::from_url("redis://[::1]:7").value()).address() ==
      "[::1]:7");
}
