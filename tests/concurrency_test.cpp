// The thread-safety contract of docs/design.md, tested as written (and run under
// ThreadSanitizer by .ci/run):
// - a configured SslCtx is shared across threads: new_ssl() and const accessors run
//   concurrently;
// - SslSession, X509 and Pkey are immutable once made and used from any thread;
// - an Ssl has one owner at a time and may move between threads.
#include "support/handshake.hpp"

#include <ossl/ossl.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace ossl;
using namespace ossl_test;

namespace {

constexpr int kThreads = 4;
constexpr int kHandshakesPerThread = 12;

struct SharedContexts {
  SslCtx client;
  SslCtx server;
};

SharedContexts shared_contexts(TlsVersion v) {
  const Pki& p = pki();
  auto client = SslCtxBuilder<Client>::create().max_proto_version(v).ca_cert(p.root.cert()).build();
  auto server = SslCtxBuilder<Server>::create()
                    .max_proto_version(v)
                    .certificate(p.server.cert)
                    .add_chain_cert(p.intermediate.cert())
                    .private_key(p.server.key)
                    .alpn_protos_list({"h2", "http/1.1"})
                    .build();
  REQUIRE(client.has_value());
  REQUIRE(server.has_value());
  return {std::move(*client), std::move(*server)};
}

// A whole in-memory connection on the calling thread. No doctest assertion here:
// results are counted and checked by the main thread.
bool one_connection(const SharedContexts& ctx, const SslSession* resume, SslSession* out,
                    bool* reused, std::string* peer_subject) {
  auto client = ctx.client.new_ssl_for_host("localhost");
  auto server = ctx.server.new_ssl();
  auto bios = Bio::new_bio_pair();
  if (!client || !server || !bios) return false;
  client->set_bio_duplex(std::move(bios->first));
  server->set_bio_duplex(std::move(bios->second));
  server->set_accept_state();
  if (resume != nullptr && !client->set_session(*resume)) return false;
  Pair pair{std::move(*client), std::move(*server)};
  // The helper asserts nothing; it only drives the loop with its round cap.
  if (!complete_handshake(pair).ok) return false;
  std::byte b[1];
  (void)pair.client.read(b);  // TLS 1.3 tickets
  *reused = pair.client.session_reused();
  if (auto cert = pair.client.peer_certificate()) *peer_subject = cert->subject_name().value_or("");
  if (auto s = pair.client.get1_session()) *out = *s;
  return pair.client.shutdown().has_value() && pair.server.shutdown().has_value();
}

// One connection from `client` (new_ssl_for_host: its session cache offers a session)
// to `server`, TLS 1.3 tickets read into the cache, closed cleanly on both sides.
// Returns 0 on failure, 1 for a full handshake, 2 for a resumed one. No doctest
// assertion here: results are counted and checked by the main thread.
int cached_connection(const SslCtx& client_ctx, const SslCtx& server_ctx, std::uint16_t port) {
  auto client = client_ctx.new_ssl_for_host("localhost", port);
  auto server = server_ctx.new_ssl();
  auto bios = Bio::new_bio_pair();
  if (!client || !server || !bios) return 0;
  client->set_bio_duplex(std::move(bios->first));
  server->set_bio_duplex(std::move(bios->second));
  server->set_accept_state();
  Pair pair{std::move(*client), std::move(*server)};
  if (!complete_handshake(pair).ok) return 0;
  std::byte byte[1];
  (void)pair.client.read(byte);  // TLS 1.3 tickets: into the cache
  if (!pair.client.shutdown().has_value() || !pair.server.shutdown().has_value()) return 0;
  return pair.client.session_reused() ? 2 : 1;
}

}  // namespace

TEST_CASE("threads share one client and one server context, and pass sessions to each other") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    const SharedContexts ctx = shared_contexts(v);
    const std::string expected_subject = pki().server.cert.subject_name().value();

    std::mutex mu;
    std::vector<SslSession> sessions;  // produced by any thread, resumed by any other
    std::atomic<int> ok{0}, failed{0}, resumed{0}, wrong_subject{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kHandshakesPerThread; ++i) {
          std::optional<SslSession> offer;
          {
            std::lock_guard<std::mutex> lock(mu);
            if (!sessions.empty()) offer = sessions[(t + i) % sessions.size()];  // up-ref copy
          }
          SslSession made;
          bool reused = false;
          std::string subject;
          if (!one_connection(ctx, offer ? &*offer : nullptr, &made, &reused, &subject)) {
            ++failed;
            continue;
          }
          ++ok;
          if (reused) ++resumed;
          if (subject != expected_subject) ++wrong_subject;
          if (made.is_resumable()) {
            std::lock_guard<std::mutex> lock(mu);
            sessions.push_back(std::move(made));
          }
        }
      });
    }
    for (auto& th : threads)
      th.join();
    CHECK(failed == 0);
    CHECK(ok == kThreads * kHandshakesPerThread);
    CHECK(resumed > 0);
    CHECK(wrong_subject == 0);
  }
}

TEST_CASE("threads share one client session cache: it fills, hands out and evicts at once") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    SharedContexts ctx = shared_contexts(v);
    // Room for three peers among four ports: eviction races with lookups and stores.
    auto cache = std::make_shared<ClientSessionCache>(3, 2);
    REQUIRE(ctx.client.set_client_session_cache(cache).has_value());
    auto visit = [&](std::uint16_t port) {
      return cached_connection(ctx.client, ctx.server, port);
    };
    std::atomic<int> ok{0}, failed{0}, resumed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kHandshakesPerThread; ++i) {
          const auto port = static_cast<std::uint16_t>(1 + (t + i) % 4);
          const int r = visit(port);
          if (r == 0) {
            ++failed;
            continue;
          }
          ++ok;
          if (r == 2) ++resumed;
        }
      });
    }
    for (auto& th : threads)
      th.join();
    CHECK(failed == 0);
    CHECK(ok == kThreads * kHandshakesPerThread);
    // Every connection looked the cache up once, whatever the interleaving (how many hit
    // depends on it: under valgrind's serialised threads the ports can thrash the LRU).
    const ClientSessionCache::Stats stats = cache->stats();
    CHECK(stats.offered + stats.missed == static_cast<std::uint64_t>(ok.load()));
    CHECK(stats.offered == static_cast<std::uint64_t>(resumed.load()));
    CHECK(stats.stored > 0);
    CHECK(cache->peers() <= 3);
    CHECK(cache->size() <= 6);
    // And it still resumes afterwards.
    CHECK(visit(99) == 1);
    CHECK(visit(99) == 2);
  }
}

TEST_CASE("threads resume through one session store shared by two servers, replaced live") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    SharedContexts a = shared_contexts(v);
    SharedContexts b = shared_contexts(v);
    // Small enough that eviction races with lookups, puts and removals.
    auto store = std::make_shared<MemorySessionStore>(8);
    REQUIRE(a.server.set_session_store(store).has_value());
    REQUIRE(b.server.set_session_store(store).has_value());
    REQUIRE(a.client.set_client_session_cache(std::make_shared<ClientSessionCache>()).has_value());
    auto visit = [&](const SslCtx& server) { return cached_connection(a.client, server, 443); };
    std::atomic<int> ok{0}, failed{0}, resumed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kHandshakesPerThread; ++i) {
          const int r = visit((t + i) % 2 == 0 ? a.server : b.server);
          if (r == 0) {
            ++failed;
            continue;
          }
          ++ok;
          if (r == 2) ++resumed;
        }
      });
    }
    // Meanwhile b moves to a store of its own and back: handshakes keep the store they
    // loaded until their callback returns.
    auto other = std::make_shared<MemorySessionStore>(8);
    for (int i = 0; i < 20; ++i) {
      REQUIRE(b.server.set_session_store(i % 2 == 0 ? other : store).has_value());
      std::this_thread::yield();
    }
    REQUIRE(b.server.set_session_store(store).has_value());
    for (auto& th : threads)
      th.join();
    CHECK(failed == 0);
    CHECK(ok == kThreads * kHandshakesPerThread);
    // Each resumption was a lookup that found its session (no other lookup resumes).
    const auto found = a.server.session_store_stats().found + b.server.session_store_stats().found;
    CHECK(found >= static_cast<std::uint64_t>(resumed.load()));
    CHECK(store->size() <= 8);
    // And a session made on a resumes on b afterwards.
    CHECK(visit(a.server) >= 1);
    CHECK(visit(b.server) == 2);
  }
}

TEST_CASE("certificates, keys and sessions are read from many threads at once") {
  const Pki& p = pki();
  const ossl::X509 cert = p.server.cert;  // one shared certificate
  const Pkey<Private> key = p.server.key;
  const auto expected_fp = cert.fingerprint_sha256().value();
  const auto expected_pem = key.public_key().value().to_pem().value();
  Connection c = connect(Config{.version = TlsVersion::Tls12});
  const SslSession session = *c.pair.client.get1_session();
  const auto expected_der = session.to_der().value();

  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        ossl::X509 copy = cert;  // up-ref from several threads
        if (copy.fingerprint_sha256().value_or({}) != expected_fp) ++mismatches;
        if (copy.subject_alt_names().value_or({}).size() != 2) ++mismatches;
        Pkey<Private> k = key;
        if (k.public_key().value().to_pem().value_or("") != expected_pem) ++mismatches;
        SslSession s = session;
        if (s.to_der().value_or({}) != expected_der || !s.is_resumable()) ++mismatches;
      }
    });
  }
  for (auto& th : threads)
    th.join();
  CHECK(mismatches == 0);
}

TEST_CASE("an Ssl made on one thread is used on another (one owner at a time)") {
  Contexts ctx = make_contexts(Config{});
  Pair pair = make_pair(ctx.client, ctx.server);
  REQUIRE(pair.client.set_verify_hostname("localhost").has_value());
  std::atomic<bool> handshook{false};
  std::thread other([&pair, &handshook] {
    Pair moved = std::move(pair);  // ownership moves to this thread
    handshook =
        complete_handshake(moved).ok && moved.client.write(std::string_view("x")).has_value();
    pair = std::move(moved);  // and back
  });
  other.join();
  CHECK(handshook);
  char buf[1];
  CHECK(pair.server.read(buf).value() == 1);
}

TEST_CASE(
    "a live context is reconfigured (ALPN, key log, SNI, ticket keys) while other threads "
    "handshake") {
  // Each setter swaps an immutable snapshot; a handshake keeps the one it loaded until
  // its callback returns. Under ThreadSanitizer, a configuration freed or changed in
  // place while a callback reads it is a reported race (or, under ASan, a use after
  // free). Features are installed once before sharing; replacing them is what runs live.
  const Pki& p = pki();
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    SharedContexts ctx = shared_contexts(v);
    REQUIRE(ctx.client.set_alpn_protos(alpn_encode({"h2", "http/1.1"}).value()).has_value());
    std::atomic<int> key_lines{0};
    auto count_lines = [&key_lines](std::string_view) { key_lines.fetch_add(1); };
    REQUIRE(ctx.client.danger_set_keylog_callback(count_lines).has_value());
    REQUIRE(ctx.server.danger_set_keylog_callback(count_lines).has_value());
    REQUIRE(
        ctx.server.add_sni_certificate("sni-0.example", p.server.cert, p.server.key, p.server.chain)
            .has_value());
    // Ticket keys rotate while tickets are made and (through the client's cache, which
    // TLS 1.2 tickets reach during the handshake) decrypted.
    std::vector<TicketKey> keys;
    for (int i = 0; i < 401; ++i)
      keys.push_back(TicketKey::generate().value());
    REQUIRE(ctx.server.set_ticket_keys({keys[0]}).has_value());
    REQUIRE(
        ctx.client.set_client_session_cache(std::make_shared<ClientSessionCache>()).has_value());

    std::atomic<int> running{kThreads};
    std::atomic<int> ok{0};
    std::atomic<int> bad_alpn{0};
    std::atomic<int> resumed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < kHandshakesPerThread; ++i) {
          auto client = ctx.client.new_ssl_for_host("localhost", 443);
          auto server = ctx.server.new_ssl();
          auto bios = Bio::new_bio_pair();
          if (!client || !server || !bios) continue;
          client->set_bio_duplex(std::move(bios->first));
          server->set_bio_duplex(std::move(bios->second));
          server->set_accept_state();
          Pair pair{std::move(*client), std::move(*server)};
          if (!complete_handshake(pair).ok) continue;
          if (pair.client.session_reused()) resumed.fetch_add(1);
          (void)pair.client.shutdown();  // keeps the session resumable
          const std::string_view alpn = pair.client.alpn_selected();
          if (alpn != "h2" && alpn != "http/1.1") bad_alpn.fetch_add(1);
          ok.fetch_add(1);
        }
        running.fetch_sub(1);
      });
    }
    // The reconfiguring thread: bounded, and stops when the handshakes are done.
    int changes = 0;
    for (; changes < 400 && running.load() > 0; ++changes) {
      const auto order = changes % 2 == 0 ? alpn_encode({"http/1.1", "h2"}).value()
                                          : alpn_encode({"h2", "http/1.1"}).value();
      REQUIRE(ctx.server.set_alpn_server_protocols(order).has_value());
      REQUIRE(ctx.client.danger_set_keylog_callback(count_lines).has_value());
      REQUIRE(ctx.server
                  .danger_set_keylog_callback(changes % 3 == 0 ? KeyLogCallback()
                                                               : KeyLogCallback(count_lines))
                  .has_value());
      const std::string name = "sni-" + std::to_string(changes + 1) + ".example";
      REQUIRE(ctx.server.add_sni_certificate(name, p.server.cert, p.server.key, p.server.chain)
                  .has_value());
      REQUIRE(ctx.server
                  .set_sni_unknown_name(changes % 2 == 0 ? UnknownServerName::Refuse
                                                         : UnknownServerName::UseDefault)
                  .has_value());
      REQUIRE(ctx.server.set_ticket_keys({keys[changes + 1], keys[changes]}).has_value());
      if (changes == 10) {  // from here on "localhost" is served through the SNI table
        REQUIRE(
            ctx.server.add_sni_certificate("localhost", p.server.cert, p.server.key, p.server.chain)
                .has_value());
      }
      std::this_thread::yield();
    }
    for (auto& t : threads)
      t.join();
    MESSAGE("configuration changes during the handshakes: " << changes
                                                            << ", resumed: " << resumed.load());
    CHECK(changes > 0);
    CHECK(ok.load() == kThreads * kHandshakesPerThread);
    CHECK(bad_alpn.load() == 0);
    CHECK(key_lines.load() > 0);
  }
}
