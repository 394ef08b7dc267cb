#include <ossl/ticket_keys.hpp>  // first: proves the header is self-contained

#include "support/handshake.hpp"
#include "support/process.hpp"

#include <doctest/doctest.h>
#include <openssl/ssl.h>

#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

using namespace ossl;
using namespace ossl_test;

namespace {

SslCtx keyed_server(TlsVersion v, std::vector<TicketKey> keys) {
  auto b = server_builder(v);
  if (!keys.empty()) b.ticket_keys(std::move(keys));
  return std::move(b).build().value();
}

// The key name a session's ticket carries (its first 16 bytes).
std::vector<std::byte> ticket_key_name(const SslSession& s) {
  const unsigned char* tick = nullptr;
  std::size_t len = 0;
  SSL_SESSION_get0_ticket(s.native_handle(), &tick, &len);
  REQUIRE(len >= 16);
  const auto* b = reinterpret_cast<const std::byte*>(tick);
  return {b, b + 16};
}

std::vector<std::byte> name_of(const TicketKey& k) {
  return {k.name().begin(), k.name().end()};
}

}  // namespace

TEST_CASE("servers given the same ticket keys resume each other's sessions") {
  const TicketKey shared = TicketKey::generate().value();
  std::vector<std::byte> small(TicketKey::kSmallSize);
  for (std::size_t i = 0; i < small.size(); ++i)
    small[i] = static_cast<std::byte>(i * 7 + 1);
  const TicketKey nginx48 = TicketKey::from_bytes(small).value();
  for (TlsVersion v : kVersions) {
    for (const TicketKey& key : {shared, nginx48}) {
      CAPTURE(to_string(v));
      CAPTURE(key.aes256());
      const SslCtx a = keyed_server(v, {key});
      const SslCtx b = keyed_server(v, {key});
      const SslCtx client = client_builder(v).build().value();
      const SslSession s = session_from(client, a);
      CHECK(ticket_key_name(s) == name_of(key));
      Pair resumed = connect(client, b, ConnectOptions{.session = s});
      CHECK(resumed.client.session_reused());
      CHECK(resumed.server.session_reused());
      // The control: a server with its own (OpenSSL's random) key makes a full
      // handshake, and does not fail.
      const SslCtx stranger = keyed_server(v, {});
      Pair full = connect(client, stranger, ConnectOptions{.session = s});
      CHECK_FALSE(full.client.session_reused());
    }
  }
}

TEST_CASE("rotation: an older key still resumes and is renewed; a retired one falls back") {
  const TicketKey k1 = TicketKey::generate().value();
  const TicketKey k2 = TicketKey::generate().value();
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    const SslCtx client = client_builder(v).build().value();
    const SslSession old = session_from(client, keyed_server(v, {k1}));
    REQUIRE(ticket_key_name(old) == name_of(k1));

    // Rotated: k2 encrypts, k1 still decrypts. The old ticket resumes, and the client
    // gets a new one under k2.
    const SslCtx rotated = keyed_server(v, {k2, k1});
    Pair p = connect(client, rotated, ConnectOptions{.session = old});
    CHECK(p.client.session_reused());
    if (v == TlsVersion::Tls13) read_tickets(p.client);
    auto renewed = p.client.get1_session();
    REQUIRE(renewed);
    CHECK(ticket_key_name(*renewed) == name_of(k2));

    // Past the window: k1 is gone. A full handshake, not a failure.
    const SslCtx retired = keyed_server(v, {k2});
    Pair full = connect(client, retired, ConnectOptions{.session = old});
    CHECK_FALSE(full.client.session_reused());
  }
}

TEST_CASE("a live server context takes new ticket keys; handshakes use the new list") {
  const TicketKey k1 = TicketKey::generate().value();
  const TicketKey k2 = TicketKey::generate().value();
  const TlsVersion v = TlsVersion::Tls13;
  SslCtx server = keyed_server(v, {k1});
  const SslCtx client = client_builder(v).build().value();
  const SslSession before = session_from(client, server);
  REQUIRE(server.set_ticket_keys({k2}).has_value());
  const SslSession after = session_from(client, server);
  CHECK(ticket_key_name(after) == name_of(k2));
  CHECK_FALSE(connect(client, server, ConnectOptions{.session = before}).client.session_reused());
}

TEST_CASE("TicketKey: sizes, files and names; bad input is an error that says what is wrong") {
  const TicketKey k = TicketKey::generate().value();
  CHECK(k.bytes().size() == TicketKey::kSize);
  CHECK(k.aes256());
  CHECK(k.name_hex().size() == 32);
  CHECK(TicketKey::generate().value() != k);

  struct Case {
    std::size_t size;
    bool ok;
  };
  for (const Case& c : {Case{80, true}, Case{48, true}, Case{0, false}, Case{47, false},
                        Case{64, false}, Case{81, false}}) {
    CAPTURE(c.size);
    std::vector<std::byte> bytes(c.size, std::byte{0x5a});
    auto r = TicketKey::from_bytes(bytes);
    CHECK(r.has_value() == c.ok);
    if (!c.ok) {
      CHECK(r.error().to_string().find("got " + std::to_string(c.size)) != std::string::npos);
    }
  }

  TempDir dir;
  const std::string path = dir.path("ticket.key");
  REQUIRE(k.write_file(path).has_value());
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(st.st_size == 80);
  CHECK(TicketKey::load_file(path).value() == k);

  // `openssl rand 80` writes what nginx (and ossl) read.
  const std::string rand_path = dir.path("rand.key");
  const RunResult r = run({"openssl", "rand", "-out", rand_path, "80"}, std::chrono::seconds(10));
  REQUIRE_MESSAGE(r.status == 0, r.output);
  CHECK(TicketKey::load_file(rand_path).has_value());

  const std::string short_path = dir.path("short.key");
  std::ofstream(short_path) << std::string(79, 'x');
  auto bad = TicketKey::load_file(short_path);
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().to_string().find(short_path) != std::string::npos);
  CHECK(bad.error().to_string().find("79 bytes") != std::string::npos);
  auto missing = TicketKey::load_file(dir.path("missing.key"));
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().to_string().find("missing.key") != std::string::npos);
}

TEST_CASE("set_ticket_keys refuses an empty list and two keys with one name") {
  SslCtx server = keyed_server(TlsVersion::Tls13, {});
  auto empty = server.set_ticket_keys({});
  REQUIRE_FALSE(empty.has_value());
  CHECK(empty.error().to_string().find("no keys") != std::string::npos);
  const TicketKey k = TicketKey::generate().value();
  std::vector<std::byte> same_name(k.bytes().begin(), k.bytes().end());
  same_name[40] ^= std::byte{1};  // another secret, the same name
  auto twins = server.set_ticket_keys({k, TicketKey::from_bytes(same_name).value()});
  REQUIRE_FALSE(twins.has_value());
  CHECK(twins.error().to_string().find("share the name " + k.name_hex()) != std::string::npos);
  auto files =
      server_builder().ticket_key_files(std::vector<std::string>{"/nonexistent/k"}).build();
  REQUIRE_FALSE(files.has_value());
  CHECK(files.error().to_string().find("/nonexistent/k") != std::string::npos);
}

TEST_CASE("every resumption under ticket keys hands the client a new TLS 1.3 ticket") {
  // TLS 1.3 tickets are used once (the client cache forgets each one it offers), so a
  // resumption that brought no new ticket would leave the next connection a full
  // handshake. A TLS 1.2 ticket is reused: no new one is needed.
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    const SslCtx server = keyed_server(v, {TicketKey::generate().value()});
    auto cache = std::make_shared<ClientSessionCache>();
    const SslCtx client = client_builder(v).client_session_cache(cache).build().value();
    for (int i = 0; i < 6; ++i) {
      CAPTURE(i);
      Pair p = connect(client, server, ConnectOptions{.port = 443});
      CHECK(p.server.session_reused() == (i > 0));
      if (v == TlsVersion::Tls13) read_tickets(p.client);
      REQUIRE(p.client.shutdown().has_value());
      REQUIRE(p.server.shutdown().has_value());
    }
  }
}
