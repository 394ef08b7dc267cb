// Resumption benchmark: whole in-memory connections (new client and server, BIO pair,
// handshake, TLS 1.3 tickets read, close_notify both ways, free) per resumption
// mechanism, TLS 1.2 and 1.3, measured in alternating batches (every mechanism once per
// round) so that machine drift cancels, and reported as the median time per connection,
// connections per second and the ratio to ossl's full handshake.
//
//   bench_sessions [--quick] [--rounds N]
//
// Mechanisms: a full handshake (nothing offered); the client cache with the server's own
// cache and tickets (OpenSSL's defaults); shared ticket keys (TicketKey); a
// MemorySessionStore; a RedisSessionStore when built with hiredis and OSSL_BENCH_REDIS
// names a Redis (scripts/bench-sessions starts one on 127.0.0.1). Raw OpenSSL's full and
// resumed connections (its own tickets, one saved session) run in the same rounds as the
// baseline. Every resumed connection is checked to have resumed on the server.
#include "cases.hpp"
#include "stats.hpp"

#include <ossl/ossl.hpp>
#if defined(OSSL_BENCH_HAVE_HIREDIS)
#include <ossl/redis_session_store.hpp>
#endif

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Mechanism {
  std::string name;
  std::function<bool()> connection;  // one whole connection; false on failure
  std::vector<double> ns;            // per connection, one sample per round
};

// One ossl connection from `ctx` (the client's cache offers a session when it has one);
// checks on the server side that it resumed, or did not, as expected.
bool ossl_one(const bench::OsslContexts& ctx, bool expect_resumed) {
  auto p = bench::ossl_connect(ctx, nullptr);
  if (!p || p->server.session_reused() != expect_resumed) return false;
  return p->client.shutdown().has_value() && p->server.shutdown().has_value();
}

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "bench_sessions: %s\n", what.c_str());
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 15;
  long batch = 200;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      rounds = 3;
      batch = 20;
    } else if (std::strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
      rounds = std::atoi(argv[++i]);
    } else {
      fail(std::string("unknown argument ") + argv[i] +
           " (usage: bench_sessions [--quick] [--rounds N])");
    }
  }
  const char* redis_url = std::getenv("OSSL_BENCH_REDIS");

  std::printf("| mechanism | version | per connection | connections/s | vs ossl full |\n");
  std::printf("|---|---|---|---|---|\n");
  for (ossl::TlsVersion v : {ossl::TlsVersion::Tls12, ossl::TlsVersion::Tls13}) {
    const bench::Setup setup = bench::make_setup(v);
    auto contexts = [&]() {
      auto c = bench::ossl_contexts(setup);
      if (!c) fail(c.error().to_string());
      return std::move(*c);
    };
    auto with_cache = [&](bench::OsslContexts c) {
      if (!c.client.set_client_session_cache(std::make_shared<ossl::ClientSessionCache>())) {
        fail("client cache");
      }
      return c;
    };
    std::vector<Mechanism> ms;
    std::vector<std::shared_ptr<const bench::OsslContexts>> warm;  // resumed mechanisms

    // Raw OpenSSL: full, and resumed from one saved session (its own tickets).
    auto raw = std::make_shared<bench::RawContexts>();
    if (!bench::raw_contexts(setup, *raw)) fail("raw contexts");
    SSL_SESSION* raw_session = nullptr;
    if (!bench::raw_connection(*raw, nullptr, &raw_session)) fail("raw first connection");
    ms.push_back(
        {"raw OpenSSL, full", [raw] { return bench::raw_connection(*raw, nullptr, nullptr); }, {}});
    ms.push_back({"raw OpenSSL, resumed (its tickets)",
                  [raw, raw_session] { return bench::raw_connection(*raw, raw_session, nullptr); },
                  {}});

    auto full = std::make_shared<const bench::OsslContexts>(contexts());
    ms.push_back({"ossl, full", [full] { return ossl_one(*full, false); }, {}});

    auto defaults = std::make_shared<const bench::OsslContexts>(with_cache(contexts()));
    ms.push_back({"client cache + the server's own tickets",
                  [defaults] { return ossl_one(*defaults, true); },
                  {}});
    warm.push_back(defaults);

    auto keyed_ctx = with_cache(contexts());
    if (!keyed_ctx.server.set_ticket_keys({ossl::TicketKey::generate().value()}))
      fail("ticket keys");
    auto keyed = std::make_shared<const bench::OsslContexts>(std::move(keyed_ctx));
    ms.push_back(
        {"client cache + shared ticket keys", [keyed] { return ossl_one(*keyed, true); }, {}});
    warm.push_back(keyed);

    auto memory_ctx = with_cache(contexts());
    if (!memory_ctx.server.set_session_store(std::make_shared<ossl::MemorySessionStore>())) {
      fail("memory store");
    }
    auto memory = std::make_shared<const bench::OsslContexts>(std::move(memory_ctx));
    ms.push_back(
        {"client cache + MemorySessionStore", [memory] { return ossl_one(*memory, true); }, {}});
    warm.push_back(memory);

    if (redis_url != nullptr) {
#if defined(OSSL_BENCH_HAVE_HIREDIS)
      auto options = ossl::RedisSessionStoreOptions::from_url(redis_url);
      if (!options) fail(options.error().to_string());
      auto store = std::make_shared<ossl::RedisSessionStore>(*options);
      if (auto up = store->ping(); !up) fail(up.error().to_string());
      auto redis_ctx = with_cache(contexts());
      if (!redis_ctx.server.set_session_store(store)) fail("redis store");
      auto redis = std::make_shared<const bench::OsslContexts>(std::move(redis_ctx));
      ms.push_back({"client cache + RedisSessionStore (loopback)",
                    [redis] { return ossl_one(*redis, true); },
                    {}});
      warm.push_back(redis);
#else
      fail("OSSL_BENCH_REDIS is set, but this build has no hiredis (-Dhiredis=enabled)");
#endif
    }

    // Each cache's first connection is full (nothing to offer yet): run outside the rounds.
    for (const auto& ctx : warm) {
      if (!ossl_one(*ctx, false)) fail("warm-up connection");
    }
    for (int r = 0; r < rounds; ++r) {
      for (Mechanism& m : ms) {
        const auto t0 = Clock::now();
        for (long i = 0; i < batch; ++i) {
          if (!m.connection()) fail("case \"" + m.name + "\" failed (or did not resume)");
        }
        const auto t1 = Clock::now();
        m.ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() /
                       static_cast<double>(batch));
      }
    }
    SSL_SESSION_free(raw_session);
    double ossl_full = 0;
    for (const Mechanism& m : ms) {
      if (m.name == "ossl, full") ossl_full = bench::median(m.ns);
    }
    for (const Mechanism& m : ms) {
      const double ns = bench::median(m.ns);
      std::printf("| %s | %s | %s | %.0f | %.3f |\n", m.name.c_str(), ossl::to_string(v).c_str(),
                  bench::human_ns(ns).c_str(), 1e9 / ns, ns / ossl_full);
    }
  }
  return 0;
}
