#include <ossl/session_cache.hpp>  // first: proves the header is self-contained

#include "support/handshake.hpp"
#include "support/process.hpp"

#include <doctest/doctest.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

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

// ---------------------------------------------------------------- saving and loading

namespace {

// The sessions a cache holds for localhost at `port` after one full handshake.
std::vector<std::byte> exported_after_visit(TlsVersion v, Setup& s, std::uint16_t port = 443) {
  visit(s.client, s.server, port);
  auto bytes = s.cache->export_sessions(s.client);
  REQUIRE_MESSAGE(bytes.has_value(), bytes.error().to_string());
  if (v == TlsVersion::Tls13) {
    CHECK(s.cache->count("localhost", port) == 0);  // the tickets moved to the bytes
  } else {
    CHECK(s.cache->count("localhost", port) == 1);  // a TLS 1.2 session stays
  }
  return *bytes;
}

}  // namespace

TEST_CASE("a saved session cache resumes in another context configured alike") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    Setup first = setup(v);
    const std::vector<std::byte> bytes = exported_after_visit(v, first);

    // Another context (another process would build the same): the binding ossl keeps in
    // one process does not reach it, the fingerprint in the bytes does.
    auto cache = std::make_shared<ClientSessionCache>();
    SslCtx client = cache_client(v, cache);
    auto report = cache->import_sessions(client, bytes);
    REQUIRE_MESSAGE(report.has_value(), report.error().to_string());
    CHECK(report->found);
    CHECK_FALSE(report->verification_changed);
    CHECK(report->loaded == sent_per_full_handshake(v));
    CHECK(report->expired == 0);
    CHECK(cache->count("localhost", 443) == sent_per_full_handshake(v));
    CHECK(resumes(client, first.server, 443));
    CHECK(cache->count("localhost", 8443) == 0);  // filed under the port it was made for
  }
}

TEST_CASE("saved sessions load only where the verification they passed still holds") {
  const ossl::X509 other_root = testing::TestCa::create_root("ossl other root").value().cert();
  const SpkiPin root_pin = SpkiPin::of(pki().root.cert()).value();
  const X509Crl crl = pki().intermediate.issue_crl({}).value();
  struct Case {
    std::string name;
    bool alike;
    std::function<void(SslCtxBuilder<Client>&)> configure;
    std::function<void(SslCtx&)> after_build;
  };
  const std::vector<Case> cases = {
      {"configured alike", true, [](SslCtxBuilder<Client>&) {}, [](SslCtx&) {}},
      {"trusts one more root", false, [&](SslCtxBuilder<Client>& b) { b.ca_cert(other_root); },
       [](SslCtx&) {}},
      {"pins a key", false, [&](SslCtxBuilder<Client>& b) { b.pin_spki_sha256(root_pin); },
       [](SslCtx&) {}},
      {"checks a CRL", false, [&](SslCtxBuilder<Client>& b) { b.crl(crl); }, [](SslCtx&) {}},
      {"requires a stapled OCSP response", false,
       [](SslCtxBuilder<Client>& b) { b.ocsp_stapling(OcspPolicy::Required); }, [](SslCtx&) {}},
      {"allows partial wildcards", false,
       [](SslCtxBuilder<Client>& b) {
         b.verify_hostname_flags(HostnameFlags::NEVER_CHECK_SUBJECT);
       },
       [](SslCtx&) {}},
      {"limits the chain depth", false, [](SslCtxBuilder<Client>&) {},
       [](SslCtx& c) { c.set_verify_depth(1); }},
      {"does not verify at all", false,
       [](SslCtxBuilder<Client>& b) { b.danger_accept_invalid_certs(); }, [](SslCtx&) {}},
  };
  for (TlsVersion v : kVersions) {
    Setup first = setup(v);
    const std::vector<std::byte> bytes = exported_after_visit(v, first);
    for (const Case& c : cases) {
      CAPTURE(to_string(v));
      CAPTURE(c.name);
      auto cache = std::make_shared<ClientSessionCache>();
      SslCtxBuilder<Client> b = client_builder(v);
      b.client_session_cache(cache);
      c.configure(b);
      SslCtx client = std::move(b).build().value();
      c.after_build(client);
      auto report = cache->import_sessions(client, bytes);
      REQUIRE_MESSAGE(report.has_value(), report.error().to_string());
      CHECK(report->verification_changed == !c.alike);
      CHECK(report->loaded == (c.alike ? sent_per_full_handshake(v) : 0));
      CHECK(cache->size() == report->loaded);
    }
  }
}

TEST_CASE("sessions authenticated under an earlier policy are not saved") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    Setup s = setup(v);
    visit(s.client, s.server, 443);
    REQUIRE(s.client.set_crls({}).has_value());  // a new policy generation
    auto bytes = s.cache->export_sessions(s.client);
    REQUIRE(bytes.has_value());
    auto cache = std::make_shared<ClientSessionCache>();
    SslCtx client = cache_client(v, cache);
    REQUIRE(client.set_crls({}).has_value());
    auto report = cache->import_sessions(client, *bytes);
    REQUIRE(report.has_value());
    CHECK_FALSE(report->verification_changed);
    CHECK(report->loaded == 0);
  }
}

TEST_CASE("a context with a verification hook saves and loads under the hook's label") {
  const auto hook = [](const VerifiedPeer&) { return VerifyVerdict::accept(); };
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    auto cache = std::make_shared<ClientSessionCache>();
    SslCtx client = client_builder(v).client_session_cache(cache).verify_hook(hook).build().value();
    const SslCtx server = cache_server(v);
    visit(client, server, 443);

    auto unlabelled = cache->export_sessions(client);
    REQUIRE_FALSE(unlabelled.has_value());
    CHECK(unlabelled.error().to_string().find("hook") != std::string::npos);
    CHECK(cache->count("localhost", 443) == sent_per_full_handshake(v));  // nothing moved

    auto bytes = cache->export_sessions(client, "hook v1");
    REQUIRE(bytes.has_value());
    for (const std::string label : {"hook v2", "hook v1"}) {
      CAPTURE(label);
      auto next = std::make_shared<ClientSessionCache>();
      SslCtx other = client_builder(v).client_session_cache(next).verify_hook(hook).build().value();
      auto report = next->import_sessions(other, *bytes, label);
      REQUIRE(report.has_value());
      CHECK(report->verification_changed == (label == "hook v2"));
      CHECK((report->loaded > 0) == (label == "hook v1"));
      if (report->loaded > 0) CHECK(resumes(other, server, 443));
    }
  }
}

TEST_CASE("system trust locations are part of what saved sessions are bound to") {
  TempDir dir;
  const char* env = X509_get_default_cert_dir_env();
  const std::string saved = std::getenv(env) != nullptr ? std::getenv(env) : "";
  REQUIRE(::setenv(env, dir.dir().c_str(), 1) == 0);
  auto system_client = [](TlsVersion v, std::shared_ptr<ClientSessionCache> cache) {
    return client_builder(v)
        .default_ca_paths()
        .client_session_cache(std::move(cache))
        .build()
        .value();
  };
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    auto cache = std::make_shared<ClientSessionCache>();
    SslCtx client = system_client(v, cache);
    const SslCtx server = cache_server(v);
    visit(client, server, 443);
    auto bytes = cache->export_sessions(client);
    REQUIRE(bytes.has_value());

    auto alike = std::make_shared<ClientSessionCache>();
    SslCtx same = system_client(v, alike);
    auto loaded = alike->import_sessions(same, *bytes);
    REQUIRE(loaded.has_value());
    CHECK(loaded->loaded == sent_per_full_handshake(v));

    // A certificate added to the system's directory: the trust changed.
    std::ofstream(dir.dir() + "/added-" + std::to_string(static_cast<int>(v)) + ".pem")
        << pki().intermediate.cert().to_pem().value();
    auto later = std::make_shared<ClientSessionCache>();
    SslCtx changed = system_client(v, later);
    auto refused = later->import_sessions(changed, *bytes);
    REQUIRE(refused.has_value());
    CHECK(refused->verification_changed);
    CHECK(later->size() == 0);
  }
  if (saved.empty()) {
    ::unsetenv(env);
  } else {
    ::setenv(env, saved.c_str(), 1);
  }
}

TEST_CASE("malformed session bytes are refused with what is wrong, and nothing is loaded") {
  Setup s = setup(TlsVersion::Tls12);
  const std::vector<std::byte> good = exported_after_visit(TlsVersion::Tls12, s);
  REQUIRE(good.size() > 70);
  auto edited = [&](auto&& edit) {
    std::vector<std::byte> b = good;
    edit(b);
    return b;
  };
  constexpr std::size_t kEntry = 24 + 32 + 4;  // the first entry starts here
  struct Case {
    std::string name;
    std::vector<std::byte> bytes;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {"empty", {}, "not a session file written by ClientSessionCache"},
      {"another format", edited([](auto& b) { b[0] = std::byte{'X'}; }), "does not start with"},
      {"cut in the header", std::vector<std::byte>(good.begin(), good.begin() + 40),
       "truncated in the header"},
      {"an absurd count", edited([&](auto& b) { b[kEntry - 4] = std::byte{0x7f}; }),
       "more than the 1048576 a file may hold"},
      {"a count beyond the entries", edited([&](auto& b) { b[kEntry - 1] = std::byte{2}; }),
       "truncated in session 2 of 2"},
      {"an empty host", edited([&](auto& b) { b[kEntry + 2] = b[kEntry + 3] = std::byte{0}; }),
       "names a host of 0 bytes"},
      {"cut in the session", std::vector<std::byte>(good.begin(), good.end() - 5),
       "truncated in session 1 of 1"},
      {"a session that does not decode",
       edited([&](auto& b) { b[kEntry + 4 + 9 + 4] = std::byte{0x05}; }),
       "session 1 of 1 (localhost:443)"},
      {"bytes after the last session", edited([](auto& b) { b.push_back(std::byte{0}); }),
       "1 bytes follow the last session"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    auto cache = std::make_shared<ClientSessionCache>();
    SslCtx client = cache_client(TlsVersion::Tls12, cache);
    auto report = cache->import_sessions(client, c.bytes);
    REQUIRE_FALSE(report.has_value());
    CHECK_MESSAGE(report.error().to_string().find(c.expect) != std::string::npos,
                  report.error().to_string());
    CHECK(report.error().to_string().find("ClientSessionCache::import_sessions: ") !=
          std::string::npos);
    CHECK(cache->size() == 0);
  }

  auto other_cache = std::make_shared<ClientSessionCache>();
  auto not_fed = other_cache->import_sessions(s.client, good);
  REQUIRE_FALSE(not_fed.has_value());
  CHECK(not_fed.error().to_string().find("does not feed this cache") != std::string::npos);
}

TEST_CASE(
    "save() writes a file only its owner reads; load() takes it once and refuses open files") {
  TempDir dir;
  const std::string path = dir.path("sessions");
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    Setup s = setup(v);
    visit(s.client, s.server, 443);
    auto written = s.cache->save(s.client, path);
    REQUIRE_MESSAGE(written.has_value(), written.error().to_string());
    CHECK(*written == sent_per_full_handshake(v));
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);

    auto cache = std::make_shared<ClientSessionCache>();
    SslCtx client = cache_client(v, cache);
    auto loaded = cache->load(client, path);
    REQUIRE_MESSAGE(loaded.has_value(), loaded.error().to_string());
    CHECK(loaded->found);
    CHECK(loaded->loaded == sent_per_full_handshake(v));
    CHECK_FALSE(std::filesystem::exists(path));  // each ticket reaches one process
    CHECK(resumes(client, s.server, 443));

    auto again = cache->load(client, path);
    REQUIRE(again.has_value());
    CHECK_FALSE(again->found);
    CHECK(again->loaded == 0);

    REQUIRE(s.cache->save(s.client, path).has_value());
    REQUIRE(::chmod(path.c_str(), 0644) == 0);
    auto open_file = cache->load(client, path);
    REQUIRE_FALSE(open_file.has_value());
    CHECK(open_file.error().to_string().find("others may read or write it (mode 0644)") !=
          std::string::npos);
    CHECK(open_file.error().to_string().find(path) != std::string::npos);
    CHECK(std::filesystem::exists(path));  // refused files are left alone
    std::filesystem::remove(path);
  }
  Setup s = setup(TlsVersion::Tls12);
  auto unwritable = s.cache->save(s.client, dir.path("missing/sessions"));
  REQUIRE_FALSE(unwritable.has_value());
  CHECK(unwritable.error().to_string().find("No such file or directory") != std::string::npos);
}
