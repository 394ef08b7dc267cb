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
