#include <ossl/session_store.hpp>  // first: proves the header is self-contained

#include "support/handshake.hpp"
#include "support/store_log.hpp"

#include <doctest/doctest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace ossl;
using namespace ossl_test;

namespace {

SslCtx stored_server(TlsVersion v, std::shared_ptr<SessionStore> store,
                     SessionStoreErrorCallback on_error = nullptr, std::string_view sid_ctx = {}) {
  auto b = server_builder(v);
  if (!sid_ctx.empty()) b.session_id_context(sid_ctx);
  b.session_store(std::move(store), std::move(on_error));
  return std::move(b).build().value();
}

std::size_t ticket_length(const SslSession& s) {
  const unsigned char* tick = nullptr;
  std::size_t len = 0;
  SSL_SESSION_get0_ticket(s.native_handle(), &tick, &len);
  return len;
}

std::span<const std::byte> bytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

std::string text(const std::optional<SessionStore::Bytes>& b) {
  REQUIRE(b);
  return {reinterpret_cast<const char*>(b->data()), b->size()};
}

// A store whose every call fails, or answers with `answer` (bytes that are not the
// session asked for), and remembers what it was asked.
class BrokenStore final : public SessionStore {
 public:
  std::optional<Bytes> answer;
  int calls = 0;
  Result<void> put(std::span<const std::byte>, std::span<const std::byte>,
                   std::chrono::seconds) override {
    ++calls;
    return ErrorStack::message("store down (test)");
  }
  Result<std::optional<Bytes>> get(std::span<const std::byte>) override {
    ++calls;
    if (answer) return answer;
    return ErrorStack::message("store down (test)");
  }
  Result<std::optional<Bytes>> take(std::span<const std::byte> id) override { return get(id); }
  Result<void> remove(std::span<const std::byte>) override {
    ++calls;
    return ErrorStack::message("store down (test)");
  }
};

}  // namespace

TEST_CASE("servers sharing a session store resume each other's sessions") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    auto store = std::make_shared<MemorySessionStore>();
    const SslCtx a = stored_server(v, store);
    const SslCtx b = stored_server(v, store);
    const SslCtx client = client_builder(v).build().value();
    const SslSession s = session_from(client, a);
    // TLS 1.2: no ticket, the session ID is the key. TLS 1.3: a stateful ticket (the
    // 32-byte session ID), not a stateless ticket holding the session.
    CHECK(ticket_length(s) == (v == TlsVersion::Tls13 ? 32u : 0u));
    CHECK(a.session_store_stats().stored >= 1);
    CHECK(store->size() == a.session_store_stats().stored);

    CHECK(resumes(client, b, s));
    CHECK(b.session_store_stats().found == 1);
    CHECK(a.session_store() == b.session_store());

    // The control: a server with a store of its own makes a full handshake, not a
    // failed one.
    const SslCtx stranger = stored_server(v, std::make_shared<MemorySessionStore>());
    CHECK_FALSE(resumes(client, stranger, s));
    CHECK(stranger.session_store_stats().missed == 1);
  }
}

TEST_CASE("a TLS 1.3 ticket from the store resumes once; a TLS 1.2 session ID again") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    auto store = std::make_shared<MemorySessionStore>();
    const SslCtx server = stored_server(v, store);
    const SslCtx client = client_builder(v).build().value();
    const SslSession s = session_from(client, server);
    CHECK(resumes(client, server, s));
    // RFC 8446 C.4: the ticket was taken out of the store by the first resumption.
    CHECK(resumes(client, server, s) == (v == TlsVersion::Tls12));
  }
}

TEST_CASE("sessions resume only under the session id context they were made under") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    auto store = std::make_shared<MemorySessionStore>();
    const SslCtx a = stored_server(v, store, nullptr, "fleet-a");
    const SslCtx b = stored_server(v, store, nullptr, "fleet-b");
    const SslCtx client = client_builder(v).build().value();
    const SslSession s = session_from(client, a);
    CHECK_FALSE(resumes(client, b, s));  // found in the store, refused by OpenSSL
    CHECK(b.session_store_stats().found == 1);
  }
}

TEST_CASE("the default session id context keeps servers that verify clients differently apart") {
  // Servers sharing one store that differ only in how they verify clients. Before the
  // builder bound its default context to client verification, every server's was
  // "ossl": a session made where no certificate was asked for resumed on a server that
  // requires one, letting in a client that never showed a certificate.
  const testing::TestCa& root = pki().root;
  const testing::TestCa other = testing::TestCa::create_root("ossl test other root").value();
  enum class Ask { None, Request, Require };
  struct Side {
    Ask ask;
    std::vector<const ossl::X509*> cas;  // trusted for clients, in this order
  };
  struct Case {
    const char* name;
    Side a, b;
    bool resumes;
    bool client_cert = true;  // the client has a certificate (signed under the root)
  };
  const Case cases[] = {
      {"A asks nothing, B requires a certificate",
       {Ask::None, {}},
       {Ask::Require, {&root.cert()}},
       false,
       false},
      {"A requests, B requires",
       {Ask::Request, {&root.cert()}},
       {Ask::Require, {&root.cert()}},
       false},
      {"A and B require, trusting different CAs",
       {Ask::Require, {&root.cert()}},
       {Ask::Require, {&other.cert(), &root.cert()}},
       false},
      {"A and B require, trusting the same CAs in another order",
       {Ask::Require, {&root.cert(), &other.cert()}},
       {Ask::Require, {&other.cert(), &root.cert()}},
       true},
      {"neither asks", {Ask::None, {}}, {Ask::None, {}}, true},
  };
  auto make_server = [](TlsVersion v, const Side& side, std::shared_ptr<SessionStore> store) {
    auto b = server_builder(v);
    for (const ossl::X509* ca : side.cas)
      b.client_ca_cert(*ca);
    if (side.ask != Ask::None) b.verify_client(side.ask == Ask::Require);
    b.session_store(std::move(store));
    return std::move(b).build().value();
  };
  for (TlsVersion v : kVersions) {
    for (const Case& c : cases) {
      CAPTURE(to_string(v));
      CAPTURE(c.name);
      auto store = std::make_shared<MemorySessionStore>();
      const SslCtx a = make_server(v, c.a, store);
      const SslCtx b = make_server(v, c.b, store);
      auto cb = client_builder(v);
      if (c.client_cert) {
        cb.client_cert(pki().client.cert).client_key(pki().client.key);
        for (const ossl::X509& x : pki().client.chain)
          cb.client_chain_cert(x);
      }
      const SslCtx client = std::move(cb).build().value();
      const SslSession s = session_from(client, a);
      Attempt at = attempt(client, b, ConnectOptions{.session = s});
      // The session reached B: a refusal below is OpenSSL's context check, not a miss.
      CHECK(b.session_store_stats().found == 1);
      if (c.resumes) {
        REQUIRE_MESSAGE(at.outcome.ok, at.outcome.describe());
        CHECK(at.pair.server.session_reused());
      } else if (c.client_cert) {
        // A full handshake in which B verified the client's certificate itself.
        REQUIRE_MESSAGE(at.outcome.ok, at.outcome.describe());
        CHECK_FALSE(at.pair.server.session_reused());
        CHECK(at.pair.server.peer_certificate().has_value());
      } else {
        // A full handshake B refuses: the client has no certificate to show.
        CHECK_FALSE(at.outcome.ok);
        CHECK(at.outcome.describe().find("did not return a certificate") != std::string::npos);
      }
    }
  }
}

TEST_CASE("a failing store costs full handshakes, never a failed connection, and says why") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    auto store = std::make_shared<MemorySessionStore>();
    const SslCtx working = stored_server(v, store);
    const SslCtx client = client_builder(v).build().value();
    const SslSession s = session_from(client, working);

    auto broken = std::make_shared<BrokenStore>();
    StoreErrorLog log;
    const SslCtx server = stored_server(v, broken, log.callback());
    CHECK_FALSE(resumes(client, server, s));
    CHECK(broken->calls >= 2);  // the lookup, then the new session's put
    CHECK(log.any_contains("session store: looking a session up: ossl: store down (test)"));
    CHECK(log.any_contains("session store: storing a session: ossl: store down (test)"));
    const SessionStoreStats st = server.session_store_stats();
    CHECK(st.failed >= 2);
    CHECK(st.found == 0);
    CHECK(st.stored == 0);

    // An answer that is not the session asked for is refused, reported, not resumed.
    broken->answer = SessionStore::Bytes(100, std::byte{0x30});
    CHECK_FALSE(resumes(client, server, s));
    CHECK(log.any_contains("is not a session serialised under that id"));
    // The store's failures and the refused entry left nothing on this thread's queue.
    CHECK(ERR_peek_error() == 0);
    // Nor is another id's session.
    const SslSession other = session_from(client, working);
    broken->answer = other.to_der().value();
    CHECK_FALSE(resumes(client, server, s));
    CHECK(server.session_store_stats().found == 0);
  }
}

TEST_CASE("a connection cut without close_notify takes its session out of the store") {
  auto store = std::make_shared<MemorySessionStore>();
  const TlsVersion v = TlsVersion::Tls12;
  const SslCtx server = stored_server(v, store);
  const SslCtx client = client_builder(v).build().value();
  {
    Pair p = connect(client, server);
    REQUIRE(store->size() == 1);
    // Freed without shutdown: OpenSSL gives the session up (it may have been cut by
    // an attacker) and the remove-session callback takes it out of the store.
  }
  CHECK(store->size() == 0);
  CHECK(server.session_store_stats().removed == 1);
}

TEST_CASE("a session store and ticket keys exclude each other; the store can be detached") {
  const SslCtx keyed =
      server_builder().ticket_keys({TicketKey::generate().value()}).build().value();
  SslCtx copy = keyed;
  auto r = copy.set_session_store(std::make_shared<MemorySessionStore>());
  REQUIRE_FALSE(r);
  CHECK(r.error().to_string().find("ticket keys or a session store, not both") !=
        std::string::npos);

  SslCtx stored = stored_server(TlsVersion::Tls13, std::make_shared<MemorySessionStore>());
  CHECK((stored.options() & SSL_OP_NO_TICKET) != 0);
  auto k = stored.set_ticket_keys({TicketKey::generate().value()});
  REQUIRE_FALSE(k);
  CHECK(k.error().to_string().find("not both") != std::string::npos);

  // The cache mode keeps the store's bits whatever it is set to.
  stored.disable_session_cache();
  CHECK((stored.session_cache_mode().bits() & SSL_SESS_CACHE_SERVER) != 0);

  REQUIRE(stored.set_session_store(nullptr).has_value());
  CHECK(stored.session_store() == nullptr);
  CHECK((stored.options() & SSL_OP_NO_TICKET) == 0);
  // Detached, the context resumes by stateless ticket again.
  const SslCtx client = client_builder().build().value();
  const SslSession s = session_from(client, stored);
  CHECK(ticket_length(s) > 32);
  CHECK(resumes(client, stored, s));

  auto none = server_builder().session_store(nullptr).build();
  REQUIRE_FALSE(none);
  CHECK(none.error().to_string().find("session_store: ossl: no store given") != std::string::npos);
}

TEST_CASE("the session timeout bounds what the store keeps") {
  // What put() was told, without sleeping through a timeout (a slow run, valgrind's,
  // would see the session expire during its own handshake).
  class LifetimeStore final : public SessionStore {
   public:
    std::vector<std::chrono::seconds> lifetimes;
    MemorySessionStore inner;
    Result<void> put(std::span<const std::byte> id, std::span<const std::byte> session,
                     std::chrono::seconds lifetime) override {
      lifetimes.push_back(lifetime);
      return inner.put(id, session, lifetime);
    }
    Result<std::optional<Bytes>> get(std::span<const std::byte> id) override {
      return inner.get(id);
    }
    Result<std::optional<Bytes>> take(std::span<const std::byte> id) override {
      return inner.take(id);
    }
    Result<void> remove(std::span<const std::byte> id) override { return inner.remove(id); }
  };
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    auto store = std::make_shared<LifetimeStore>();
    SslCtx server = stored_server(v, store);
    REQUIRE(server.set_session_timeout(std::chrono::seconds(600)).has_value());
    CHECK(server.session_timeout() == std::chrono::seconds(600));
    const SslCtx client = client_builder(v).build().value();
    const SslSession s = session_from(client, server);
    REQUIRE_FALSE(store->lifetimes.empty());
    for (const std::chrono::seconds lifetime : store->lifetimes) {
      // The time the session has left: its timeout less the handshake's duration.
      CHECK(lifetime <= std::chrono::seconds(600));
      CHECK(lifetime >= std::chrono::seconds(540));
    }
    CHECK(resumes(client, server, s));
  }
  // The store drops the entry when that time is up (MemorySessionStore's expiry is the
  // next case). A timeout under one second is refused.
  SslCtx server = stored_server(TlsVersion::Tls12, std::make_shared<MemorySessionStore>());
  for (long bad : {0L, -5L}) {
    auto r = server.set_session_timeout(std::chrono::seconds(bad));
    REQUIRE_FALSE(r);
    CHECK(r.error().to_string().find(std::to_string(bad) + " s") != std::string::npos);
  }
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("MemorySessionStore: get keeps, take removes, the least recently used goes first") {
  MemorySessionStore store(2);
  using std::chrono::seconds;
  REQUIRE(store.put(bytes("id-1"), bytes("one"), seconds(60)).has_value());
  REQUIRE(store.put(bytes("id-2"), bytes("two"), seconds(60)).has_value());
  CHECK(text(store.get(bytes("id-1")).value()) == "one");  // id-1 now the most recent
  REQUIRE(store.put(bytes("id-3"), bytes("three"), seconds(60)).has_value());
  CHECK(store.size() == 2);
  CHECK_FALSE(store.get(bytes("id-2")).value());  // evicted
  CHECK(text(store.take(bytes("id-3")).value()) == "three");
  CHECK_FALSE(store.take(bytes("id-3")).value());
  REQUIRE(store.put(bytes("id-1"), bytes("uno"), seconds(60)).has_value());  // replaced
  CHECK(text(store.get(bytes("id-1")).value()) == "uno");
  REQUIRE(store.remove(bytes("id-1")).has_value());
  REQUIRE(store.remove(bytes("id-1")).has_value());  // absent: fine
  CHECK(store.size() == 0);
  const MemorySessionStore::Stats st = store.stats();
  CHECK(st.stored == 4);
  CHECK(st.evicted == 1);
  CHECK(st.found == 3);
  CHECK(st.missed == 2);

  // Expiry.
  REQUIRE(store.put(bytes("short"), bytes("s"), seconds(1)).has_value());
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  CHECK_FALSE(store.get(bytes("short")).value());
  CHECK(store.size() == 0);

  // Bad input names what is wrong.
  struct Case {
    std::string id;
    std::string session;
    long lifetime;
    std::string_view message;
  };
  const std::string long_id(33, 'x');
  for (const Case& c :
       {Case{"", "s", 60, "1 to 32 bytes, got 0"}, Case{long_id, "s", 60, "1 to 32 bytes, got 33"},
        Case{"id", "", 60, "empty session"}, Case{"id", "s", 0, "a lifetime of 0 s"}}) {
    CAPTURE(c.message);
    auto r = store.put(bytes(c.id), bytes(c.session), seconds(c.lifetime));
    REQUIRE_FALSE(r);
    CHECK(r.error().to_string().find(c.message) != std::string::npos);
  }
  CHECK(ERR_peek_error() == 0);
  CHECK_FALSE(store.get(bytes(long_id)));
  CHECK(MemorySessionStore(0).max_entries() == 1);
}
