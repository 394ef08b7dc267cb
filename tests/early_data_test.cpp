#include <ossl/early_data.hpp>  // first: proves the header is self-contained

#include "support/handshake.hpp"

#include <ossl/builder.hpp>
#include <ossl/session_store.hpp>
#include <ossl/ticket_keys.hpp>

#include <doctest/doctest.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <memory>
#include <string>

using namespace ossl;
using namespace ossl_test;

namespace {

constexpr std::uint32_t kLimit = 1024;
const std::string kEarly = "GET /early HTTP/1.1\r\nHost: localhost\r\n\r\n";

// How a server shares (or keeps) the sessions its early data comes under.
enum class Mechanism { OwnCache, Store, ReplayableTickets, ReplayableTicketKeys };

SslCtx early_server(Mechanism m, std::shared_ptr<SessionStore> store = nullptr) {
  auto b = server_builder(TlsVersion::Tls13);
  if (m == Mechanism::Store)
    b.session_store(store ? store : std::make_shared<MemorySessionStore>());
  if (m == Mechanism::ReplayableTickets || m == Mechanism::ReplayableTicketKeys) {
    b.danger_allow_early_data_replay();
  }
  if (m == Mechanism::ReplayableTicketKeys) b.ticket_keys({TicketKey::generate().value()});
  return std::move(b).early_data(kLimit).build().value();
}

// A resumption of `session` on a Memory transport, the client sending `early` first.
struct EarlyRun {
  Pair pair;
  std::string flight;    // the client's first flight: ClientHello and early data
  std::string received;  // what the server's read_early_data() returned
  HandshakeOutcome outcome;
};
EarlyRun resume_with_early_data(const SslCtx& client, const SslCtx& server,
                                const SslSession& session, const std::string& early) {
  EarlyRun run{make_pair(client, server, 0, Transport::Memory), {}, {}, {}};
  REQUIRE(run.pair.client.set_peer_host("localhost").has_value());
  REQUIRE(run.pair.client.set_session(session).has_value());
  auto sent = run.pair.client.write_early_data(early);
  REQUIRE_MESSAGE(sent.has_value(), sent.error().to_string());
  CHECK(*sent == early.size());
  run.flight = shuttle(run.pair.client, run.pair.server);
  run.outcome = complete_handshake(run.pair, 32, &run.received);
  return run;
}

// A new server connection fed a recorded client flight: the early data it hands out.
std::string replay(const SslCtx& server, const std::string& flight) {
  Ssl ssl = server.new_ssl().value();
  ssl.set_bio(Bio::new_mem().value(), Bio::new_mem().value());
  ssl.set_accept_state();
  REQUIRE(BIO_write(SSL_get_rbio(ssl.native_handle()), flight.data(),
                    static_cast<int>(flight.size())) == static_cast<int>(flight.size()));
  std::string got;
  char buf[4096];
  for (int i = 0; i < 8; ++i) {
    auto r = ssl.read_early_data(std::span<char>(buf));
    if (!r) break;  // waiting for a client that is not there (or refused)
    got.append(buf, r->size);
    if (r->finished) break;
  }
  ERR_clear_error();
  return got;
}

}  // namespace

TEST_CASE("early data reaches the server once per ticket; a replay is refused unless allowed") {
  struct Case {
    const char* name;
    Mechanism mechanism;
    bool replay_accepted;
  };
  const Case cases[] = {
      {"OpenSSL's cache: single-use stateful tickets", Mechanism::OwnCache, false},
      {"a MemorySessionStore: take() makes tickets single-use", Mechanism::Store, false},
      {"danger_allow_early_data_replay: stateless tickets", Mechanism::ReplayableTickets, true},
      {"danger_allow_early_data_replay with shared ticket keys", Mechanism::ReplayableTicketKeys,
       true},
  };
  for (const Case& c : cases) {
    const std::string name = c.name;
    CAPTURE(name);
    const SslCtx server = early_server(c.mechanism);
    CHECK(server.max_early_data() == kLimit);
    const SslCtx client = client_builder().build().value();
    const SslSession session = session_from(client, server);
    CHECK(session.max_early_data() == kLimit);  // the ticket says how much

    EarlyRun run = resume_with_early_data(client, server, session, kEarly);
    REQUIRE_MESSAGE(run.outcome.ok, run.outcome.describe());
    CHECK(run.pair.server.session_reused());
    CHECK(run.received == kEarly);
    CHECK(run.pair.client.early_data_status() == EarlyDataStatus::Accepted);
    CHECK(run.pair.server.early_data_status() == EarlyDataStatus::Accepted);
    // Ordinary data after the handshake comes through read(), as usual.
    REQUIRE(run.pair.client.write(std::string_view("after")).has_value());
    shuttle(run.pair.client, run.pair.server);
    char buf[16];
    auto n = run.pair.server.read(std::span<char>(buf));
    REQUIRE(n.has_value());
    CHECK(std::string(buf, *n) == "after");

    // The recorded ClientHello and early data, sent again by an attacker.
    CHECK((replay(server, run.flight) == kEarly) == c.replay_accepted);
  }
}

TEST_CASE("a ticket used for early data once is refused a second time; the client learns it") {
  for (Mechanism m : {Mechanism::OwnCache, Mechanism::Store}) {
    CAPTURE(static_cast<int>(m));
    const SslCtx server = early_server(m);
    const SslCtx client = client_builder().build().value();
    const SslSession session = session_from(client, server);
    EarlyRun first = resume_with_early_data(client, server, session, kEarly);
    REQUIRE(first.outcome.ok);
    CHECK(first.pair.client.early_data_status() == EarlyDataStatus::Accepted);
    // The same session again: the ticket is gone, so a full handshake that succeeds,
    // and early data the server never saw (the client must send it again).
    EarlyRun second = resume_with_early_data(client, server, session, kEarly);
    REQUIRE_MESSAGE(second.outcome.ok, second.outcome.describe());
    CHECK_FALSE(second.pair.server.session_reused());
    CHECK(second.received.empty());
    CHECK(second.pair.client.early_data_status() == EarlyDataStatus::Rejected);
    CHECK(second.pair.server.early_data_status() == EarlyDataStatus::Rejected);
  }
}

TEST_CASE("a server reads early data only through read_early_data, never through read") {
  // The server goes straight to the handshake: OpenSSL rejects the early data, the
  // handshake completes, and read() returns only what the client sends afterwards.
  const SslCtx server = early_server(Mechanism::OwnCache);
  const SslCtx client = client_builder().build().value();
  const SslSession session = session_from(client, server);
  Pair pair = make_pair(client, server, 0, Transport::Memory);
  REQUIRE(pair.client.set_peer_host("localhost").has_value());
  REQUIRE(pair.client.set_session(session).has_value());
  REQUIRE(pair.client.write_early_data(std::string_view("early-secret")).has_value());
  const HandshakeOutcome out = complete_handshake(pair);
  REQUIRE_MESSAGE(out.ok, out.describe());
  CHECK(pair.client.early_data_status() == EarlyDataStatus::Rejected);
  REQUIRE(pair.client.write(std::string_view("ordinary")).has_value());
  shuttle(pair.client, pair.server);
  char buf[64];
  auto n = pair.server.read(std::span<char>(buf));
  REQUIRE(n.has_value());
  CHECK(std::string(buf, *n) == "ordinary");

  // And read() before read_early_data() has finished is refused by OpenSSL.
  Pair early = make_pair(client, server, 0, Transport::Memory);
  REQUIRE(early.client.set_peer_host("localhost").has_value());
  REQUIRE(early.client.set_session(session_from(client, server)).has_value());
  REQUIRE(early.client.write_early_data(std::string_view("early-secret")).has_value());
  shuttle(early.client, early.server);
  // Five bytes read as early data; the rest of it is still pending when read() is called.
  auto started = early.server.read_early_data(std::span<char>(buf, 5));
  REQUIRE(started.has_value());
  CHECK_FALSE(started->finished);
  CHECK(std::string(buf, started->size) == "early");
  // OpenSSL's SSL_read_ex would now return "-secret" as ordinary data; read() refuses.
  auto mixed = early.server.read(std::span<char>(buf));
  REQUIRE_FALSE(mixed.has_value());
  CHECK(mixed.error().to_string().find("early data is still being read") != std::string::npos);
  // Finishing the early data first, then the handshake, then read() as usual.
  std::string rest;
  const HandshakeOutcome done = complete_handshake(early, 32, &rest);
  REQUIRE_MESSAGE(done.ok, done.describe());
  CHECK(rest == "-secret");
  REQUIRE(early.client.write(std::string_view("then")).has_value());
  shuttle(early.client, early.server);
  auto after = early.server.read(std::span<char>(buf));
  REQUIRE(after.has_value());
  CHECK(std::string(buf, *after) == "then");
}

TEST_CASE("write_early_data says why it cannot send") {
  const SslCtx server = early_server(Mechanism::OwnCache);
  const SslCtx client = client_builder().build().value();
  struct Case {
    const char* name;
    std::function<void(Ssl&)> prepare;
    std::string data;
    std::string error;
  };
  const SslSession session = session_from(client, server);
  const SslSession no_early =
      session_from(client, server_builder(TlsVersion::Tls13).build().value());
  const SslSession tls12 =
      session_from(client, server_builder(TlsVersion::Tls12).early_data(kLimit).build().value());
  const Case cases[] = {
      {"no session offered", [](Ssl&) {}, "x", "no session to resume"},
      {"the session is for another host",
       [&](Ssl& c) {
         REQUIRE(c.set_session(session).has_value());
         REQUIRE(c.set_peer_host("other.example").has_value());  // changed after the offer
       },
       "x", "no session to resume"},
      {"a server that takes no early data",
       [&](Ssl& c) { REQUIRE(c.set_session(no_early).has_value()); }, "x",
       "the session allows no early data"},
      {"a TLS 1.2 session", [&](Ssl& c) { REQUIRE(c.set_session(tls12).has_value()); }, "x",
       "the session allows no early data"},
      {"more than the ticket allows", [&](Ssl& c) { REQUIRE(c.set_session(session).has_value()); },
       std::string(kLimit + 1, 'x'), "1025 bytes exceed the 1024 the session allows"},
  };
  for (const Case& c : cases) {
    const std::string name = c.name;
    CAPTURE(name);
    Ssl ssl = client.new_ssl().value();
    ssl.set_connect_state();
    REQUIRE(ssl.set_peer_host("localhost").has_value());
    c.prepare(ssl);
    auto r = ssl.write_early_data(c.data);
    REQUIRE_FALSE(r.has_value());
    CHECK_MESSAGE(r.error().to_string().find(c.error) != std::string::npos, r.error().to_string());
    CHECK(ERR_peek_error() == 0);
  }
  // The roles: a server does not write early data, a client does not read it.
  Pair pair = make_pair(client, server);
  CHECK(pair.server.write_early_data(std::string_view("x"))
            .error()
            .to_string()
            .find("a client call") != std::string::npos);
  char buf[8];
  CHECK(
      pair.client.read_early_data(std::span<char>(buf)).error().to_string().find("a server call") !=
      std::string::npos);
}

TEST_CASE("early data and shared ticket keys exclude each other unless replays are accepted") {
  const TicketKey key = TicketKey::generate().value();
  auto keys_then_early = server_builder().ticket_keys({key}).early_data(kLimit).build();
  REQUIRE_FALSE(keys_then_early.has_value());
  CHECK(keys_then_early.error().to_string().find("could be replayed") != std::string::npos);
  auto early_then_keys = server_builder().early_data(kLimit).ticket_keys({key}).build();
  REQUIRE_FALSE(early_then_keys.has_value());
  CHECK(early_then_keys.error().to_string().find("could be replayed") != std::string::npos);
  CHECK(server_builder()
            .danger_allow_early_data_replay()
            .ticket_keys({key})
            .early_data(kLimit)
            .build()
            .has_value());
  // A store is single-use whatever the order; detaching it brings OpenSSL's anti-replay
  // back (SSL_OP_NO_ANTI_REPLAY cleared), unless replays were accepted.
  SslCtx ctx = server_builder().early_data(kLimit).build().value();
  const auto anti_replay_off = [&] {
    return (SSL_CTX_get_options(ctx.native_handle()) & SSL_OP_NO_ANTI_REPLAY) != 0;
  };
  CHECK_FALSE(anti_replay_off());
  REQUIRE(ctx.set_session_store(std::make_shared<MemorySessionStore>()).has_value());
  CHECK(anti_replay_off());
  REQUIRE(ctx.set_session_store(nullptr).has_value());
  CHECK_FALSE(anti_replay_off());
  REQUIRE(ctx.danger_allow_early_data_replay().has_value());
  REQUIRE(ctx.set_session_store(std::make_shared<MemorySessionStore>()).has_value());
  REQUIRE(ctx.set_session_store(nullptr).has_value());
  CHECK(anti_replay_off());
}
