#include "handshake.hpp"

#include <doctest/doctest.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <optional>
#include <string>

namespace ossl_test {

const Pki& pki() {
  static const Pki instance = [] {
    auto root = testing::TestCa::create_root("ossl test root").value();
    auto inter = root.create_intermediate("ossl test intermediate").value();
    testing::LeafSpec server_spec;
    server_spec.common_name = "localhost";
    server_spec.dns_names = {"localhost"};
    server_spec.ip_addresses = {"127.0.0.1"};
    testing::LeafSpec client_spec;
    client_spec.common_name = "ossl test client";
    client_spec.usage = testing::Usage::Client;
    auto server = inter.issue(server_spec).value();
    auto client = inter.issue(client_spec).value();
    return Pki{std::move(root), std::move(inter), std::move(server), std::move(client)};
  }();
  return instance;
}

namespace {
// The error text of a failed Result, empty for a value: safe in a REQUIRE_MESSAGE,
// whose message doctest may build even when the check passes.
template <class R>
std::string why(const R& r) {
  return r ? std::string() : r.error().to_string();
}
}  // namespace

Pair make_pair(const SslCtx& client_ctx, const SslCtx& server_ctx, std::size_t bio_buffer,
               Transport transport) {
  auto client = client_ctx.new_ssl();
  REQUIRE_MESSAGE(client.has_value(), why(client));
  client->set_connect_state();
  return make_pair(std::move(*client), server_ctx, bio_buffer, transport);
}

Pair make_pair(Ssl client, const SslCtx& server_ctx, std::size_t bio_buffer, Transport transport) {
  auto server = server_ctx.new_ssl();
  REQUIRE_MESSAGE(server.has_value(), why(server));
  if (transport == Transport::BioPair) {
    auto bios = Bio::new_bio_pair(bio_buffer, bio_buffer);
    REQUIRE_MESSAGE(bios.has_value(), why(bios));
    client.set_bio_duplex(std::move(bios->first));
    server->set_bio_duplex(std::move(bios->second));
  } else {
    client.set_bio(Bio::new_mem().value(), Bio::new_mem().value());
    server->set_bio(Bio::new_mem().value(), Bio::new_mem().value());
  }
  server->set_accept_state();
  return Pair{std::move(client), std::move(*server), transport};
}

std::string shuttle(Ssl& from, Ssl& to, std::size_t limit) {
  BIO* out = SSL_get_wbio(from.native_handle());  // get0: owned by the SSL
  char* data = nullptr;
  const long n = BIO_get_mem_data(out, &data);
  std::string bytes(data, static_cast<std::size_t>(n));
  REQUIRE(BIO_reset(out) == 1);
  const std::size_t moved = std::min(limit, bytes.size());
  if (moved != 0) {
    REQUIRE(BIO_write(SSL_get_rbio(to.native_handle()), bytes.data(), static_cast<int>(moved)) ==
            static_cast<int>(moved));
  }
  return bytes;
}

std::string HandshakeOutcome::describe() const {
  auto side = [](const std::optional<SslIoError>& e) {
    return e ? e->to_string() : std::string("done");
  };
  return "after " + std::to_string(rounds) + " rounds: client: " + side(client_error) +
         "; server: " + side(server_error);
}

HandshakeOutcome complete_handshake(Pair& pair, int max_rounds, std::string* early_data) {
  HandshakeOutcome out;
  bool client_done = false;
  bool server_done = false;
  bool early_done = early_data == nullptr;
  const bool memory = pair.transport == Transport::Memory;
  for (out.rounds = 1; out.rounds <= max_rounds; ++out.rounds) {
    if (!client_done) {
      auto r = pair.client.do_handshake();
      client_done = r.has_value();
      if (client_done) {
        out.client_error.reset();
      } else {
        out.client_error = r.error();
        if (!r.error().would_block()) return out;
      }
    }
    if (memory) shuttle(pair.client, pair.server);
    while (!early_done) {
      char buf[4096];
      auto r = pair.server.read_early_data(std::span<char>(buf));
      if (!r) {
        out.server_error = r.error();
        if (!r.error().would_block()) return out;
        break;
      }
      early_data->append(buf, r->size);
      early_done = r->finished;
    }
    if (early_done && !server_done) {
      auto r = pair.server.do_handshake();
      server_done = r.has_value();
      if (server_done) {
        out.server_error.reset();
      } else {
        out.server_error = r.error();
        if (!r.error().would_block()) return out;
      }
    }
    if (memory) shuttle(pair.server, pair.client);
    if (client_done && server_done) {
      out.ok = true;
      return out;
    }
  }
  out.rounds = max_rounds;
  return out;
}

SslCtxBuilder<Server> server_builder(TlsVersion v) {
  const Pki& p = pki();
  return SslCtxBuilder<Server>::create()
      .min_proto_version(v)
      .max_proto_version(v)
      .certificate(p.server.cert)
      .add_chain_cert(p.intermediate.cert())
      .private_key(p.server.key);
}

SslCtxBuilder<Client> client_builder(TlsVersion v) {
  return SslCtxBuilder<Client>::create()
      .min_proto_version(TlsVersion::Tls12)
      .max_proto_version(v)
      .ca_cert(pki().root.cert());
}

Contexts make_contexts(const Config& config) {
  const Pki& p = pki();
  auto client = SslCtx::new_client();
  auto server = SslCtx::new_server();
  REQUIRE(client.has_value());
  REQUIRE(server.has_value());
  for (SslCtx* ctx : {&*client, &*server}) {
    REQUIRE(ctx->set_min_proto_version(config.version).has_value());
    REQUIRE(ctx->set_max_proto_version(config.version).has_value());
  }
  REQUIRE(server->use_certificate(p.server.cert).has_value());
  REQUIRE(server->use_private_key(p.server.key).has_value());
  for (const auto& c : p.server.chain)
    REQUIRE(server->add_chain_cert(c).has_value());
  REQUIRE(server->check_private_key().has_value());
  if (config.verify_server) {
    client->set_verify(SslVerifyMode::PEER);
    REQUIRE(client->add_trusted_cert(p.root.cert()).has_value());
  }
  if (config.client_cert) {
    server->set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);
    REQUIRE(server->add_trusted_cert(p.root.cert()).has_value());
    REQUIRE(server->set_session_id_context("ossl tests").has_value());
    REQUIRE(client->use_certificate(p.client.cert).has_value());
    REQUIRE(client->use_private_key(p.client.key).has_value());
    for (const auto& c : p.client.chain)
      REQUIRE(client->add_chain_cert(c).has_value());
  }
  return Contexts{std::move(*client), std::move(*server)};
}

Attempt attempt(const SslCtx& client, const SslCtx& server, const ConnectOptions& options) {
  std::optional<Pair> made;
  if (options.port) {
    // new_ssl_for_host(host, port): SNI, the name check, and a cached session if any.
    auto ssl = client.new_ssl_for_host(options.host, *options.port);
    REQUIRE_MESSAGE(ssl.has_value(), why(ssl));
    made.emplace(make_pair(std::move(*ssl), server, options.bio_buffer, options.transport));
  } else {
    made.emplace(make_pair(client, server, options.bio_buffer, options.transport));
  }
  Pair pair = std::move(*made);
  if (!options.host.empty() && !options.port) {
    auto named = options.check_name ? pair.client.set_peer_host(options.host)
                                    : pair.client.set_hostname(options.host);
    REQUIRE_MESSAGE(named.has_value(), why(named));
  }
  if (options.session) {
    auto offered = pair.client.set_session(*options.session);
    REQUIRE_MESSAGE(offered.has_value(), why(offered));
  }
  if (options.prepare_client) options.prepare_client(pair.client);
  HandshakeOutcome outcome = complete_handshake(pair, options.max_rounds);
  return Attempt{std::move(outcome), std::move(pair)};
}

Pair connect(const SslCtx& client, const SslCtx& server, const ConnectOptions& options) {
  Attempt a = attempt(client, server, options);
  REQUIRE_MESSAGE(a.outcome.ok, a.outcome.describe());
  return std::move(a.pair);
}

Pair connect(const Contexts& ctx, const std::optional<SslSession>& session) {
  return connect(ctx.client, ctx.server, ConnectOptions{.session = session});
}

Connection connect(const Config& config) {
  Contexts ctx = make_contexts(config);
  Pair pair = connect(ctx);
  return Connection{std::move(ctx), std::move(pair)};
}

void read_tickets(Ssl& client) {
  std::byte buf[64];
  auto r = client.read(buf);
  REQUIRE_FALSE(r.has_value());
  REQUIRE_MESSAGE(r.error() == SslIoError::Kind::WantRead, r.error().to_string());
}

SslSession session_from(const SslCtx& client, const SslCtx& server) {
  Pair p = connect(client, server);
  if (p.client.version() == TlsVersion::Tls13) read_tickets(p.client);
  auto s = p.client.get1_session();
  REQUIRE(s);
  REQUIRE(s->is_resumable());
  REQUIRE(p.client.shutdown().has_value());
  REQUIRE(p.server.shutdown().has_value());
  return *s;
}

bool resumes(const SslCtx& client, const SslCtx& server, const SslSession& session) {
  Pair p = connect(client, server, ConnectOptions{.session = session});
  const bool reused = p.server.session_reused();
  CHECK(p.client.session_reused() == reused);
  REQUIRE(p.client.shutdown().has_value());
  REQUIRE(p.server.shutdown().has_value());
  return reused;
}

// ---- TlsEngine ----

std::size_t Fragmenter::next(std::size_t available) noexcept {
  if (available == 0) return 0;
  switch (split_) {
    case Split::Whole:
      return available;
    case Split::OneByte:
      return 1;
    case Split::Random:
      break;
  }
  state_ ^= state_ << 13;  // xorshift32
  state_ ^= state_ >> 17;
  state_ ^= state_ << 5;
  return std::min<std::size_t>(available, 1 + state_ % 3000);
}

EnginePair make_engine_pair(const SslCtx& client_ctx, const SslCtx& server_ctx,
                            const ConnectOptions& options, const EngineOptions& engine_options) {
  auto client = options.host.empty() || !options.check_name
                    ? client_ctx.new_ssl()
                    : client_ctx.new_ssl_for_host(options.host);
  REQUIRE_MESSAGE(client.has_value(), client.error().to_string());
  if (!options.host.empty() && !options.check_name) {
    auto named = client->set_hostname(options.host);
    REQUIRE_MESSAGE(named.has_value(), why(named));
  }
  if (options.session) {
    auto offered = client->set_session(*options.session);
    REQUIRE_MESSAGE(offered.has_value(), why(offered));
  }
  if (options.prepare_client) options.prepare_client(*client);
  auto server = server_ctx.new_ssl();
  REQUIRE_MESSAGE(server.has_value(), server.error().to_string());
  auto c = TlsEngine::client(std::move(*client), engine_options);
  REQUIRE_MESSAGE(c.has_value(), c.error().to_string());
  auto s = TlsEngine::server(std::move(*server), engine_options);
  REQUIRE_MESSAGE(s.has_value(), s.error().to_string());
  return EnginePair{std::move(*c), std::move(*s)};
}

std::size_t transfer(TlsEngine& from, TlsEngine& to, Fragmenter& split) {
  const std::span<const std::byte> out = from.pending_output();
  if (out.empty()) return 0;
  const std::size_t want = split.next(out.size());
  std::size_t moved = 0;
  if (split.use_feed()) {
    moved = to.feed(out.first(want));
  } else {
    const std::span<std::byte> space = to.input_space(want);
    std::copy_n(out.data(), space.size(), space.data());
    to.commit_input(space.size());
    moved = space.size();
  }
  from.consume_output(moved);
  return moved;
}

HandshakeOutcome complete_handshake(EnginePair& pair, Fragmenter& split, int max_rounds) {
  HandshakeOutcome out;
  auto step = [](TlsEngine& e, std::optional<SslIoError>& error) {
    auto r = e.handshake();
    if (r) {
      error.reset();
      return true;
    }
    error = r.error();
    return r.error().would_block();
  };
  for (out.rounds = 1; out.rounds <= max_rounds; ++out.rounds) {
    if (!step(pair.client, out.client_error)) return out;
    transfer(pair.client, pair.server, split);
    if (!step(pair.server, out.server_error)) return out;
    transfer(pair.server, pair.client, split);
    if (pair.client.handshake_done() && pair.server.handshake_done() &&
        !pair.client.wants_write() && !pair.server.wants_write()) {
      out.ok = true;
      return out;
    }
  }
  out.rounds = max_rounds;
  return out;
}

EnginePair connect_engines(const SslCtx& client, const SslCtx& server, Fragmenter& split,
                           const ConnectOptions& options, const EngineOptions& engine_options,
                           int max_rounds) {
  EnginePair pair = make_engine_pair(client, server, options, engine_options);
  HandshakeOutcome outcome = complete_handshake(pair, split, max_rounds);
  REQUIRE_MESSAGE(outcome.ok, outcome.describe());
  return pair;
}

}  // namespace ossl_test
