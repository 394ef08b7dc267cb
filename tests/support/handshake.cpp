#include "handshake.hpp"

#include <doctest/doctest.h>

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

Pair make_pair(const SslCtx& client_ctx, const SslCtx& server_ctx, std::size_t bio_buffer) {
  auto client = client_ctx.new_ssl();
  REQUIRE_MESSAGE(client.has_value(), client.error().to_string());
  auto server = server_ctx.new_ssl();
  REQUIRE_MESSAGE(server.has_value(), server.error().to_string());
  auto bios = Bio::new_bio_pair(bio_buffer, bio_buffer);
  REQUIRE_MESSAGE(bios.has_value(), bios.error().to_string());
  client->set_bio_duplex(std::move(bios->first));
  server->set_bio_duplex(std::move(bios->second));
  client->set_connect_state();
  server->set_accept_state();
  return Pair{std::move(*client), std::move(*server)};
}

std::string HandshakeOutcome::describe() const {
  auto side = [](const std::optional<SslIoError>& e) {
    return e ? e->to_string() : std::string("done");
  };
  return "after " + std::to_string(rounds) + " rounds: client: " + side(client_error) +
         "; server: " + side(server_error);
}

HandshakeOutcome complete_handshake(Pair& pair, int max_rounds) {
  HandshakeOutcome out;
  bool client_done = false;
  bool server_done = false;
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
    if (!server_done) {
      auto r = pair.server.do_handshake();
      server_done = r.has_value();
      if (server_done) {
        out.server_error.reset();
      } else {
        out.server_error = r.error();
        if (!r.error().would_block()) return out;
      }
    }
    if (client_done && server_done) {
      out.ok = true;
      return out;
    }
  }
  out.rounds = max_rounds;
  return out;
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

Pair connect(const Contexts& ctx, const std::optional<SslSession>& session) {
  Pair pair = make_pair(ctx.client, ctx.server);
  REQUIRE(pair.client.set_verify_hostname("localhost").has_value());
  REQUIRE(pair.client.set_hostname("localhost").has_value());
  if (session) REQUIRE(pair.client.set_session(*session).has_value());
  const HandshakeOutcome outcome = complete_handshake(pair);
  REQUIRE_MESSAGE(outcome.ok, outcome.describe());
  return pair;
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

}  // namespace ossl_test
