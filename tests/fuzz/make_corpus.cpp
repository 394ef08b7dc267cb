// Writes seed inputs for the fuzz targets into DIR/<target>/: certificates, keys in
// every mode, sessions (alone and saved from a client cache), and recorded handshake flights (a
// ClientHello and a server's first flight, TLS 1.2 and 1.3). Generated at fuzz time, so no key is
// checked in.
#include "common.hpp"

#include <filesystem>
#include <fstream>
#include <string>

namespace {

std::filesystem::path g_dir;

void seed(const std::string& target, const std::string& name, std::span<const std::byte> data) {
  std::filesystem::create_directories(g_dir / target);
  std::ofstream(g_dir / target / name, std::ios::binary)
      .write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

void seed(const std::string& target, const std::string& name, std::string_view text,
          int prefix = -1) {
  std::string s = prefix >= 0 ? std::string(1, static_cast<char>(prefix)) : std::string();
  s += text;
  seed(target, name, std::as_bytes(std::span(s.data(), s.size())));
}

std::string bytes_of(std::span<const std::byte> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// Records the client's first flight and the server's answer to it.
void record_flights(ossl::TlsVersion v, const std::string& tag) {
  const auto& w = fuzz::world();
  auto client = w.client_ctx.new_ssl_for_host("localhost").value();
  auto server = w.server_ctx.new_ssl().value();
  (void)client.set_max_proto_version(v);
  client.set_bio(ossl::Bio::new_mem().value(), ossl::Bio::new_mem().value());
  server.set_bio(ossl::Bio::new_mem().value(), ossl::Bio::new_mem().value());
  server.set_accept_state();
  auto move_bytes = [](ossl::Ssl& from, ossl::Ssl& to) {
    BIO* out = SSL_get_wbio(from.native_handle());  // get0: owned by the SSL
    char* p = nullptr;
    const long n = BIO_get_mem_data(out, &p);
    std::string bytes(p, static_cast<std::size_t>(n));
    (void)BIO_reset(out);
    BIO_write(SSL_get_rbio(to.native_handle()), bytes.data(), static_cast<int>(bytes.size()));
    return bytes;
  };
  (void)client.do_handshake();
  const std::string hello = move_bytes(client, server);
  (void)server.do_handshake();
  const std::string flight = move_bytes(server, client);
  seed("server_handshake", "client_hello_" + tag, hello);
  seed("client_handshake", "server_flight_" + tag, flight, 0);  // lax client
  seed("client_handshake", "server_flight_verify_" + tag, flight, 1);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  g_dir = argv[1];
  const auto& w = fuzz::world();
  const auto cert_pem = w.server.cert.to_pem().value();
  seed("x509", "cert.pem", cert_pem);
  seed("x509", "cert.der", bytes_of(w.server.cert.to_der().value()));
  seed("x509", "bundle.pem", cert_pem + w.root.cert().to_pem().value());

  // OCSP responses about the server certificate (good, revoked, unknown, expired) and
  // CRLs (DER, and a PEM bundle).
  using ossl::testing::OcspStatus;
  for (auto [status, name] :
       {std::pair{OcspStatus::Good, "good"}, std::pair{OcspStatus::Revoked, "revoked"},
        std::pair{OcspStatus::Unknown, "unknown"}}) {
    seed("ocsp", std::string("response_") + name,
         w.root.issue_ocsp_response(w.server.cert, status).value());
  }
  seed("ocsp", "response_expired",
       w.root
           .issue_ocsp_response(w.server.cert, OcspStatus::Good, ossl::testing::Validity::expired())
           .value());
  const auto crl = w.root.issue_crl(std::vector<ossl::X509>{w.server.cert}).value();
  seed("ocsp", "crl.der", bytes_of(crl.to_der().value()));
  seed("ocsp", "crls.pem", crl.to_pem().value() + crl.to_pem().value());

  const auto& key = w.server.key;
  seed("pkey", "private.pem", key.to_pem().value(), 0);
  seed("pkey", "private.der", bytes_of(key.to_der().value()), 1);
  seed("pkey", "encrypted.pem", key.to_pem_encrypted("pass").value(), 2);
  seed("pkey", "public.pem", key.public_key().value().to_pem().value(), 3);
  seed("pkey", "public.der", bytes_of(key.public_key().value().to_der().value()), 4);

  // PKCS#12: with and without a chain, under each passphrase the target tries.
  const std::vector<ossl::X509> chain{w.root.cert()};
  int index = 0;
  for (std::string_view pass : {"", "pw", "wrong"}) {
    const auto with_chain = ossl::Pkcs12::create(pass, key, w.server.cert, chain).value();
    const auto bare = ossl::Pkcs12::create(pass, key, w.server.cert).value();
    seed("pkcs12", "chain_" + std::to_string(index), bytes_of(with_chain.to_der().value()), index);
    seed("pkcs12", "bare_" + std::to_string(index), bytes_of(bare.to_der().value()), index);
    ++index;
  }

  for (auto v : {ossl::TlsVersion::Tls12, ossl::TlsVersion::Tls13}) {
    const std::string tag = v == ossl::TlsVersion::Tls12 ? "tls12" : "tls13";
    record_flights(v, tag);
    // A real session of each version.
    auto c = fuzz::cached_client().ctx.new_ssl_for_host("localhost", 443).value();
    auto s = w.server_ctx.new_ssl().value();
    auto bios = ossl::Bio::new_bio_pair().value();
    (void)c.set_max_proto_version(v);
    c.set_bio_duplex(std::move(bios.first));
    s.set_bio_duplex(std::move(bios.second));
    s.set_accept_state();
    for (int i = 0; i < 16 && !(c.is_init_finished() && s.is_init_finished()); ++i) {
      (void)c.do_handshake();
      (void)s.do_handshake();
    }
    std::byte b[1];
    (void)c.read(b);
    if (auto session = c.get1_session()) seed("session", tag, bytes_of(session->to_der().value()));
    // The cache the new-session callback filled, saved (session_file).
    const fuzz::CachedClient& cached = fuzz::cached_client();
    seed("session_file", tag, bytes_of(cached.cache->export_sessions(cached.ctx).value()));
  }
  // Engine sequences: a handshake and an exchange moved whole, then one cut small.
  // Each op byte is (op | side << 3); see fuzz_engine.cpp.
  for (int config : {0, 1, 2, 5}) {
    std::string seq(1, static_cast<char>(config));
    auto op = [&](int code, int side, int arg) {
      seq += static_cast<char>(code | side << 3);
      seq += static_cast<char>(arg);
    };
    for (int round = 0; round < 4; ++round) {
      op(1, 0, 255);  // client -> server, all
      op(3, 1, 0);    // server handshake and read
      op(1, 1, 255);  // server -> client, all
      op(3, 0, 0);    // client handshake and read
    }
    op(4, 0, 40);  // client sends
    op(5, 1, 90);  // server gathers
    for (int k = 0; k < 30; ++k)
      op(0, k & 1, 17);  // 18-byte fragments both ways
    op(7, 0, 0);
    op(7, 1, 0);
    op(6, 0, 5);  // key update, requested
    op(1, 0, 255);
    op(7, 1, 0);
    op(6, 1, 1);  // shutdown
    op(1, 1, 255);
    op(7, 0, 0);
    seed("engine", "exchange_" + std::to_string(config), seq);
  }
  return 0;
}
