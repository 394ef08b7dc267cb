#include <ossl/reload.hpp>  // first: proves the header is self-contained

#include "support/handshake.hpp"

#include <ossl/builder.hpp>
#include <ossl/session_store.hpp>
#include <ossl/testing/certs.hpp>
#include <ossl/ticket_keys.hpp>

#include <doctest/doctest.h>
#include <openssl/ssl.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace ossl;
using namespace ossl_test;

namespace {

using Bytes = std::vector<std::byte>;

// A certificate for "localhost" under the test PKI's intermediate: each call a new key
// and serial, as a renewed certificate has.
testing::Identity renewed(const std::string& host = "localhost") {
  testing::LeafSpec spec;
  spec.common_name = host;
  spec.dns_names = {host};
  return pki().intermediate.issue(spec).value();
}

SslCtxBuilder<Server> server_for(const testing::Identity& id, TlsVersion v) {
  return SslCtxBuilder<Server>::create()
      .min_proto_version(v)
      .max_proto_version(v)
      .certificate(id.cert)
      .add_chain_cert(pki().intermediate.cert())
      .private_key(id.key);
}

std::string serial(const std::optional<ossl::X509>& cert) {
  REQUIRE(cert.has_value());
  return cert->serial_hex().value();
}

std::string served_serial(const Pair& p) {
  return serial(p.client.peer_certificate());
}

}  // namespace

TEST_CASE("a replaced context serves new connections; a handshake in flight keeps its own") {
  const testing::Identity old_id = renewed(), new_id = renewed();
  REQUIRE(serial(old_id.cert) != serial(new_id.cert));
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    const SslCtx client = client_builder(v).build().value();
    ReloadableCtx reloadable(server_for(old_id, v).build().value());
    CHECK(reloadable.generation() == 1);

    // One connection made, its handshake half done (ClientHello read, the server's
    // flight written), when the context is replaced.
    Pair in_flight = make_pair(client, reloadable.current());
    REQUIRE(in_flight.client.set_peer_host("localhost").has_value());
    CHECK_FALSE(in_flight.client.do_handshake().has_value());  // wants the server's flight
    CHECK_FALSE(in_flight.server.do_handshake().has_value());  // wants the client's Finished
    // One made but not started.
    auto unstarted_server = reloadable.new_ssl();
    REQUIRE(unstarted_server.has_value());

    CHECK(reloadable.replace(server_for(new_id, v).build().value()).value() == 2);
    CHECK(reloadable.generation() == 2);

    // Nothing but the connections holds the old context now.
    const HandshakeOutcome finished = complete_handshake(in_flight);
    REQUIRE_MESSAGE(finished.ok, finished.describe());
    CHECK(served_serial(in_flight) == serial(old_id.cert));
    Bytes echo(5);
    REQUIRE(in_flight.client.write(std::string_view("after")).value() == 5);
    REQUIRE(in_flight.server.read(std::span<std::byte>(echo)).value() == 5);
    CHECK(SSL_get_SSL_CTX(unstarted_server->native_handle()) !=
          reloadable.current().native_handle());

    Pair next = connect(client, reloadable.current());
    CHECK(served_serial(next) == serial(new_id.cert));
    auto made = reloadable.new_ssl();
    REQUIRE(made.has_value());
    CHECK(SSL_get_SSL_CTX(made->native_handle()) == reloadable.current().native_handle());
  }
}

TEST_CASE("a replacement swaps certificate, SNI table and OCSP staple together") {
  struct Generation {
    testing::Identity main, sni;
    Bytes staple;
  };
  auto generation = [] {
    Generation g{renewed(), renewed("api.example"), {}};
    g.staple =
        pki().intermediate.issue_ocsp_response(g.main.cert, testing::OcspStatus::Good).value();
    return g;
  };
  const Generation old_gen = generation(), new_gen = generation();
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    auto build = [v](const Generation& g) {
      return server_for(g.main, v)
          .sni_certificate("api.example", g.sni.cert, g.sni.key,
                           std::vector<ossl::X509>{pki().intermediate.cert()})
          .ocsp_response(g.staple)
          .build()
          .value();
    };
    const SslCtx client = client_builder(v).ocsp_stapling(OcspPolicy::Required).build().value();
    const SslCtx plain = client_builder(v).build().value();  // api.example has no staple
    ReloadableCtx reloadable(build(old_gen));
    for (const Generation* g : {&old_gen, &new_gen}) {
      if (g == &new_gen) REQUIRE(reloadable.replace(build(new_gen)).has_value());
      Pair main = connect(client, reloadable.current());
      CHECK(served_serial(main) == serial(g->main.cert));
      CHECK(main.client.ocsp_response() == g->staple);
      Pair sni = connect(plain, reloadable.current(), ConnectOptions{.host = "api.example"});
      CHECK(served_serial(sni) == serial(g->sni.cert));
    }
  }
}

TEST_CASE("sessions resume across a reload where the contexts share a store or ticket keys") {
  enum class Shared { Nothing, Store, TicketKeys };
  struct Case {
    const char* name;
    Shared shared;
    bool resumes;
  };
  const Case cases[] = {
      {"each context its own cache and ticket key: a full handshake", Shared::Nothing, false},
      {"one MemorySessionStore", Shared::Store, true},
      {"the same ticket keys", Shared::TicketKeys, true},
  };
  const testing::Identity old_id = renewed(), new_id = renewed();
  const auto store = std::make_shared<MemorySessionStore>();
  const TicketKey key = TicketKey::generate().value();
  for (TlsVersion v : kVersions) {
    for (const Case& c : cases) {
      CAPTURE(to_string(v));
      CAPTURE(c.name);
      auto build = [&](const testing::Identity& id) {
        auto b = server_for(id, v);
        if (c.shared == Shared::Store) b.session_store(store);
        if (c.shared == Shared::TicketKeys) b.ticket_keys({key});
        return std::move(b).build().value();
      };
      const SslCtx client = client_builder(v).build().value();
      ReloadableCtx reloadable(build(old_id));
      const SslSession s = session_from(client, reloadable.current());
      REQUIRE(reloadable.replace(build(new_id)).has_value());
      // Never a failed handshake: resumes() REQUIREs success either way.
      CHECK(resumes(client, reloadable.current(), s) == c.resumes);
    }
  }
}

TEST_CASE("replace refuses an empty context and one for the other role, keeping the current") {
  const SslCtx server = server_builder().build().value();
  ReloadableCtx reloadable(server);
  auto empty = reloadable.replace(SslCtx{});
  REQUIRE_FALSE(empty.has_value());
  CHECK(empty.error().to_string().find("an empty SslCtx; generation 1 stays") != std::string::npos);
  auto client = reloadable.replace(SslCtx::new_client().value());
  REQUIRE_FALSE(client.has_value());
  CHECK(client.error().to_string().find("for another role") != std::string::npos);
  CHECK(reloadable.generation() == 1);
  CHECK(reloadable.current().native_handle() == server.native_handle());

  ReloadableCtx nothing{SslCtx{}};
  auto made = nothing.new_ssl();
  REQUIRE_FALSE(made.has_value());
  CHECK(made.error().to_string().find("no context to make a connection from") != std::string::npos);
  CHECK(nothing.replace(server).value() == 2);
  CHECK(nothing.new_ssl().has_value());
}

TEST_CASE("handshakes on several threads while the certificate is replaced: none fails") {
  // Four threads make connections in a loop while the main thread replaces the
  // certificate with the next of three, over and over. Each handshake must succeed and
  // see one of the three.
  const std::vector<testing::Identity> ids = {renewed(), renewed(), renewed()};
  std::set<std::string> serials;
  for (const auto& id : ids)
    serials.insert(serial(id.cert));
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    std::vector<SslCtx> contexts;
    for (const auto& id : ids)
      contexts.push_back(server_for(id, v).build().value());
    const SslCtx client = client_builder(v).build().value();
    ReloadableCtx reloadable(contexts[0]);
    std::atomic<bool> stop{false};
    std::atomic<int> handshakes{0};
    std::mutex mutex;
    std::map<std::string, int> seen;  // serial -> connections
    std::vector<std::string> failures;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        while (!stop) {
          // Not the REQUIRE-ing helpers: doctest's assertions are not for other threads.
          auto server = reloadable.new_ssl();
          auto client_ssl = client.new_ssl_for_host("localhost");
          auto bios = Bio::new_bio_pair();
          if (!server || !client_ssl || !bios) {
            const std::lock_guard lock(mutex);
            failures.push_back("setting up a connection failed");
            return;
          }
          client_ssl->set_bio_duplex(std::move(bios->first));
          server->set_bio_duplex(std::move(bios->second));
          server->set_accept_state();
          Pair p{std::move(*client_ssl), std::move(*server)};
          const HandshakeOutcome out = complete_handshake(p);
          const std::lock_guard lock(mutex);
          if (!out.ok) {
            failures.push_back(out.describe());
            continue;
          }
          auto peer = p.client.peer_certificate();
          ++seen[peer ? peer->serial_hex().value_or("?") : "none"];
          ++handshakes;
        }
      });
    }
    // Fewer rounds under valgrind (OSSL_LIGHT_TESTS), which runs one thread at a time.
    const int rounds = std::getenv("OSSL_LIGHT_TESTS") != nullptr ? 6 : 30;
    std::uint64_t replaced = 1;
    for (int round = 1; round <= rounds; ++round) {
      const int before = handshakes;
      while (handshakes < before + 4 && failures.empty())
        std::this_thread::yield();  // let some handshakes finish under each context
      replaced = reloadable.replace(contexts[static_cast<std::size_t>(round) % 3]).value();
    }
    stop = true;
    for (auto& t : threads)
      t.join();
    CHECK(replaced == static_cast<std::uint64_t>(rounds) + 1);
    CHECK(failures.empty());
    if (!failures.empty()) MESSAGE(failures.front());
    CHECK(handshakes >= 4 * rounds);
    for (const auto& [s, n] : seen) {
      CAPTURE(s);
      CHECK(serials.count(s) == 1);
    }
    CHECK(seen.size() == 3);
  }
}
