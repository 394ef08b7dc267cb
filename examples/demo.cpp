// ossl demo: the three things users come for.
//   1. an in-memory handshake over a BIO pair with generated certificates (and a
//      resumed second connection);
//   2. a client and a server talking over loopback TCP, verification on;
//   3. adopting a raw SSL_CTX* made by existing OpenSSL code.
// Prints what each connection negotiated. Exits non-zero on any failure.
#include <ossl/ossl.hpp>
#include <ossl/testing/certs.hpp>

#include <sys/socket.h>
#include <sys/time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

namespace {

using ossl::Result;

// Prints what a connection negotiated.
void report(const char* title, const ossl::Ssl& ssl) {
  std::printf("%s\n", title);
  std::printf("  version : %s\n", ossl::to_string(ssl.version()).c_str());
  std::printf("  cipher  : %.*s\n", static_cast<int>(ssl.cipher_name().size()),
              ssl.cipher_name().data());
  std::printf("  group   : %.*s\n", static_cast<int>(ssl.group_name().size()),
              ssl.group_name().data());
  auto peer = ssl.peer_certificate();
  std::string subject = peer ? peer->subject_name().value_or("?") : std::string("(none)");
  std::printf("  peer    : %s\n", subject.c_str());
  std::printf("  verify  : %.*s\n", static_cast<int>(ssl.verify_result().message().size()),
              ssl.verify_result().message().data());
  std::printf("  resumed : %s\n", ssl.session_reused() ? "yes" : "no");
}

// Drives both ends of an in-memory connection until the handshake is done, with a
// round cap so that a stalled handshake is reported instead of spinning.
Result<void> handshake(ossl::Ssl& client, ossl::Ssl& server) {
  for (int round = 0; round < 16; ++round) {
    auto c = client.do_handshake();
    auto s = server.do_handshake();
    if (c && s) return {};
    if (!c && !c.error().would_block()) return ossl::to_error_stack(c.error());
    if (!s && !s.error().would_block()) return ossl::to_error_stack(s.error());
  }
  return ossl::ErrorStack::message("handshake stalled after 16 rounds");
}

struct Contexts {
  ossl::SslCtx client;
  ossl::SslCtx server;
};

// A server context presenting `id`, and a client context that trusts `root` and
// verifies the server.
Result<Contexts> make_contexts(const ossl::testing::Identity& id, const ossl::X509& root) {
  auto server = ossl::SslCtx::new_server();
  if (!server) return server.error();
  if (auto r = server->use_certificate(id.cert); !r) return r.error();
  if (auto r = server->use_private_key(id.key); !r) return r.error();
  for (const auto& c : id.chain) {
    if (auto r = server->add_chain_cert(c); !r) return r.error();
  }
  if (auto r = server->check_private_key(); !r) return r.error();

  auto client = ossl::SslCtx::new_client();
  if (!client) return client.error();
  client->set_verify(ossl::SslVerifyMode::PEER);
  if (auto r = client->add_trusted_cert(root); !r) return r.error();
  return Contexts{std::move(*client), std::move(*server)};
}

struct Pair {
  ossl::Ssl client;
  ossl::Ssl server;
};

// A client and a server connection joined by a BIO pair; the client sends SNI and
// checks that the server is "localhost". Runs the handshake (offering `session`).
Result<Pair> connect_in_memory(const ossl::SslCtx& client_ctx, const ossl::SslCtx& server_ctx,
                               const std::optional<ossl::SslSession>& session = std::nullopt) {
  auto client = client_ctx.new_ssl();
  if (!client) return client.error();
  auto server = server_ctx.new_ssl();
  if (!server) return server.error();
  auto bios = ossl::Bio::new_bio_pair();
  if (!bios) return bios.error();
  client->set_bio_duplex(std::move(bios->first));
  server->set_bio_duplex(std::move(bios->second));
  client->set_connect_state();
  server->set_accept_state();
  if (auto r = client->set_hostname("localhost"); !r) return r.error();  // SNI
  if (auto r = client->set_verify_hostname("localhost"); !r) return r.error();
  if (session) {
    if (auto r = client->set_session(*session); !r) return r.error();
  }
  if (auto r = handshake(*client, *server); !r) return r.error();
  return Pair{std::move(*client), std::move(*server)};
}

// Part 1: in-memory, then a resumed second connection.
Result<void> in_memory(const Contexts& ctx) {
  std::optional<ossl::SslSession> saved;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto pair = connect_in_memory(ctx.client, ctx.server, saved);
    if (!pair) return pair.error();
    ossl::Ssl* client = &pair->client;
    ossl::Ssl* server = &pair->server;
    if (auto w = client->write(std::string_view("ping")); !w) return to_error_stack(w.error());
    char buf[4];
    auto n = server->read(buf);
    if (!n || std::string_view(buf, *n) != "ping") return ossl::ErrorStack::message("no ping");

    // TLS 1.3 tickets arrive after the handshake: one read lets the client take them.
    (void)client->read(buf);
    saved = client->get1_session();
    report(attempt == 0 ? "[1] in-memory handshake over a BIO pair"
                        : "[1] in-memory, second connection with the saved session",
           *client);
    (void)client->shutdown();  // a clean close keeps the session resumable
  }
  return {};
}

// Part 2: loopback TCP. The server runs on its own thread; both sockets time out
// after 5 s so the demo can never hang.
Result<void> loopback_tcp(const Contexts& ctx) {
  auto listener = ossl::io::listen("127.0.0.1", 0);  // port 0: any free port
  if (!listener) return listener.error();
  const timeval timeout{5, 0};
  auto with_timeout = [&](int fd) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    return fd;
  };
  constexpr auto kBlocking = ossl::io::SocketMode::Blocking;  // plain ssl->accept() etc.

  std::string server_error;
  std::thread server_thread([&] {
    auto accepted = ossl::io::accept(*listener, std::chrono::seconds(5), kBlocking);
    if (!accepted) {
      server_error = accepted.error().to_string();
      return;
    }
    auto ssl = ctx.server.new_ssl();
    // The BIO closes the descriptor from here on.
    auto bio = ossl::Bio::new_socket(with_timeout(accepted->release()), ossl::CloseOnFree::Yes);
    if (!ssl || !bio) {
      server_error = "server setup failed";
      return;
    }
    ssl->set_bio_duplex(std::move(*bio));
    if (auto r = ssl->accept(); !r) {
      server_error = r.error().to_string();
      return;
    }
    char buf[256];
    auto n = ssl->read(buf);
    if (!n) {
      server_error = n.error().to_string();
      return;
    }
    const std::string reply = "hello, " + std::string(buf, *n);
    if (auto w = ssl->write(std::string_view(reply)); !w) server_error = w.error().to_string();
    (void)ssl->shutdown();
  });

  Result<void> result = [&]() -> Result<void> {
    auto fd = ossl::io::connect("127.0.0.1", listener->port, std::chrono::seconds(5), kBlocking);
    if (!fd) return fd.error();
    auto bio = ossl::Bio::new_socket(with_timeout(fd->release()), ossl::CloseOnFree::Yes);
    if (!bio) return bio.error();
    auto ssl = ctx.client.new_ssl();
    if (!ssl) return ssl.error();
    ssl->set_bio_duplex(std::move(*bio));
    if (auto r = ssl->set_hostname("localhost"); !r) return r;
    if (auto r = ssl->set_verify_hostname("localhost"); !r) return r;
    if (auto r = ssl->connect(); !r) return to_error_stack(r.error());
    if (auto w = ssl->write(std::string_view("tcp client")); !w) return to_error_stack(w.error());
    char buf[256];
    auto n = ssl->read(buf);
    if (!n) return to_error_stack(n.error());
    report("[2] client and server over loopback TCP, verification on", *ssl);
    std::printf("  reply   : %.*s\n", static_cast<int>(*n), buf);
    (void)ssl->shutdown();
    return {};
  }();
  server_thread.join();
  if (!server_error.empty()) return ossl::ErrorStack::message("server: " + server_error);
  return result;
}

// Existing code that knows nothing of ossl.
SSL_CTX* legacy_make_client_ctx(X509* trusted_root) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return nullptr;
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), trusted_root);
  return ctx;
}

// Part 3: adopt the raw SSL_CTX* and use it like any other context.
Result<void> adopt_raw(const Contexts& ctx, const ossl::X509& root) {
  auto adopted = ossl::SslCtx::adopt(legacy_make_client_ctx(root.native_handle()));
  if (!adopted) return adopted.error();
  auto pair = connect_in_memory(*adopted, ctx.server);
  if (!pair) return pair.error();
  report("[3] a raw SSL_CTX* from existing code, adopted by ossl::SslCtx::adopt", pair->client);
  return {};
}

}  // namespace

int main() {
  std::printf("ossl %.*s over %s\n\n", static_cast<int>(ossl::version().size()),
              ossl::version().data(), OpenSSL_version(OPENSSL_VERSION));
  auto root = ossl::testing::TestCa::create_root("ossl demo root");
  if (!root) {
    std::fprintf(stderr, "demo: %s\n", root.error().to_string().c_str());
    return 1;
  }
  auto inter = root->create_intermediate("ossl demo intermediate");
  ossl::testing::LeafSpec spec;
  spec.dns_names = {"localhost"};
  spec.ip_addresses = {"127.0.0.1"};
  auto id = inter ? inter->issue(spec) : Result<ossl::testing::Identity>(inter.error());
  if (!id) {
    std::fprintf(stderr, "demo: %s\n", id.error().to_string().c_str());
    return 1;
  }
  auto ctx = make_contexts(*id, root->cert());
  if (!ctx) {
    std::fprintf(stderr, "demo: %s\n", ctx.error().to_string().c_str());
    return 1;
  }
  struct Part {
    const char* name;
    Result<void> (*run)(const Contexts&, const ossl::X509&);
  };
  const Part parts[] = {
      {"in-memory", [](const Contexts& c, const ossl::X509&) { return in_memory(c); }},
      {"loopback TCP", [](const Contexts& c, const ossl::X509&) { return loopback_tcp(c); }},
      {"adopt", adopt_raw},
  };
  for (const auto& part : parts) {
    if (auto r = part.run(*ctx, root->cert()); !r) {
      std::fprintf(stderr, "demo: %s failed: %s\n", part.name, r.error().to_string().c_str());
      return 1;
    }
    std::printf("\n");
  }
  std::printf("demo: all parts passed\n");
  return 0;
}
