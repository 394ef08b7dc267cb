// tls_server: a small HTTPS server made with ossl.
//
//   tls_server [--cert FILE --key FILE] [--chain FILE] [--port N] [--host ADDR]
//              [--alpn LIST] [--client-ca FILE] [--tls1.2|--tls1.3]
//              [--sni NAME=CERT,KEY]...
//
// Answers every HTTP/1.1 request with 200 and a one-line body stating the negotiated
// version, cipher, ALPN, client certificate and SNI name. --sni presents another
// certificate (CERT may carry its chain) to clients that ask for NAME. Without --cert it generates
// a CA and a certificate for localhost/127.0.0.1/::1 and prints where it wrote the CA. Serves
// clients concurrently; stops cleanly on SIGINT/SIGTERM. Prints "listening on HOST:PORT" once ready
// (port 0 picks a free port). --client-ca requires client certificates.
#include "net.hpp"

#include <ossl/ossl.hpp>
#include <ossl/testing/certs.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
constexpr ossl::io::Timeout kTimeout = 10s;

int g_signal_pipe[2] = {-1, -1};

void on_signal(int) {
  const char c = 's';
  [[maybe_unused]] auto n = ::write(g_signal_pipe[1], &c, 1);  // async-signal-safe
}

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "tls_server: %s\n", what.c_str());
  std::exit(1);
}

[[noreturn]] void usage(const std::string& why) {
  fail(why +
       "\nusage: tls_server [--cert FILE --key FILE] [--chain FILE] [--port N] "
       "[--host ADDR] [--alpn LIST] [--client-ca FILE] [--tls1.2|--tls1.3] "
       "[--sni NAME=CERT,KEY]...");
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct SniOption {
  std::string name, cert, key;
};

struct Options {
  std::string cert, key, chain, client_ca, host = "127.0.0.1", alpn = "http/1.1";
  std::vector<SniOption> sni;
  long port = 8443;
  std::optional<ossl::TlsVersion> version;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--cert")
      o.cert = value();
    else if (a == "--key")
      o.key = value();
    else if (a == "--chain")
      o.chain = value();
    else if (a == "--client-ca")
      o.client_ca = value();
    else if (a == "--host")
      o.host = value();
    else if (a == "--alpn")
      o.alpn = value();
    else if (a == "--sni") {
      const std::string v = value();
      const auto eq = v.find('='), comma = v.find(',', eq == std::string::npos ? 0 : eq);
      if (eq == std::string::npos || comma == std::string::npos) usage("bad --sni " + v);
      o.sni.push_back({v.substr(0, eq), v.substr(eq + 1, comma - eq - 1), v.substr(comma + 1)});
    } else if (a == "--tls1.2")
      o.version = ossl::TlsVersion::Tls12;
    else if (a == "--tls1.3")
      o.version = ossl::TlsVersion::Tls13;
    else if (a == "--port") {
      char* end = nullptr;
      const std::string v = value();
      o.port = std::strtol(v.c_str(), &end, 10);
      if (*end != '\0' || o.port < 0 || o.port > 65535) usage("bad port " + v);
    } else {
      usage("unknown argument " + a);
    }
  }
  if (o.cert.empty() != o.key.empty()) usage("--cert and --key go together");
  return o;
}

// Certificates from files, or a generated CA + localhost certificate.
ossl::testing::Identity load_identity(const Options& o) {
  if (!o.cert.empty()) {
    auto certs = ossl::X509::stack_from_pem(read_file(o.cert));
    if (!certs) fail("--cert " + o.cert + ": " + certs.error().to_string());
    auto key = ossl::Pkey<ossl::Private>::from_pem(read_file(o.key));
    if (!key) fail("--key " + o.key + ": " + key.error().to_string());
    ossl::testing::Identity id{(*certs)[0], std::move(*key), {}};
    id.chain.assign(certs->begin() + 1, certs->end());  // a PEM file may carry the chain too
    if (!o.chain.empty()) {
      auto chain = ossl::X509::stack_from_pem(read_file(o.chain));
      if (!chain) fail("--chain " + o.chain + ": " + chain.error().to_string());
      id.chain.insert(id.chain.end(), chain->begin(), chain->end());
    }
    return id;
  }
  auto root = ossl::testing::TestCa::create_root("tls_server test CA");
  if (!root) fail(root.error().to_string());
  ossl::testing::LeafSpec spec;
  spec.dns_names = {"localhost"};
  spec.ip_addresses = {"127.0.0.1", "::1"};
  auto id = root->issue(spec);
  if (!id) fail(id.error().to_string());
  char dir[] = "/tmp/ossl-tls_server-XXXXXX";
  if (::mkdtemp(dir) == nullptr) fail("cannot create a temporary directory");
  const std::string ca_path = std::string(dir) + "/ca.pem";
  std::ofstream(ca_path) << root->cert().to_pem().value();
  std::printf("CA certificate: %s\n", ca_path.c_str());
  return std::move(*id);
}

ossl::SslCtx make_context(const Options& o, const ossl::testing::Identity& id) {
  auto b = ossl::SslCtxBuilder<ossl::Server>::create().certificate(id.cert).private_key(id.key);
  for (const auto& c : id.chain)
    b.add_chain_cert(c);
  if (o.version) b.min_proto_version(*o.version).max_proto_version(*o.version);
  if (!o.alpn.empty()) {
    std::vector<std::string_view> names;
    std::string_view rest = o.alpn;
    for (auto at = rest.find(',');; at = rest.find(',')) {
      names.push_back(rest.substr(0, at));
      if (at == std::string_view::npos) break;
      rest.remove_prefix(at + 1);
    }
    b.alpn_protos_list(names).alpn_on_mismatch(ossl::AlpnMismatch::Fail);
  }
  if (!o.client_ca.empty()) b.client_ca_file(o.client_ca).verify_client(true);
  for (const SniOption& s : o.sni) {
    auto certs = ossl::X509::stack_from_pem(read_file(s.cert));
    if (!certs) fail("--sni " + s.cert + ": " + certs.error().to_string());
    auto key = ossl::Pkey<ossl::Private>::from_pem(read_file(s.key));
    if (!key) fail("--sni " + s.key + ": " + key.error().to_string());
    const std::vector<ossl::X509> chain(certs->begin() + 1, certs->end());
    b.sni_certificate(s.name, (*certs)[0], *key, chain);
  }
  auto ctx = std::move(b).build();
  if (!ctx) fail(ctx.error().to_string());
  return std::move(*ctx);
}

// One connection: handshake, read the request head, answer, close.
void serve(const ossl::SslCtx& ctx, net::Fd fd) {
  auto made = ctx.new_ssl();
  if (!made || !ossl::io::set_nonblocking(fd.get()) || !made->set_fd(fd.get())) return;
  ossl::Ssl ssl = std::move(*made);
  ssl.set_accept_state();
  if (auto r = ossl::io::handshake(ssl, kTimeout); !r) {
    std::fprintf(stderr, "tls_server: handshake failed: %s\n", r.error().to_string().c_str());
    return;
  }
  std::string request;
  char buf[4096];
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < 16384) {
    auto n = ossl::io::retry(ssl, kTimeout, [&] { return ssl.read(buf); });
    if (!n) return;  // closed or failed before a full request
    request.append(buf, *n);
  }
  auto peer = ssl.peer_certificate();
  const std::string alpn = ssl.alpn_selected().empty() ? "none" : std::string(ssl.alpn_selected());
  const std::string body = "version=" + ossl::to_string(ssl.version()) +
                           " cipher=" + std::string(ssl.cipher_name()) + " alpn=" + alpn +
                           " client=" + (peer ? peer->subject_name().value_or("?") : "none") +
                           " sni=" + std::string(ssl.hostname().value_or("none")) + "\n";
  const std::string response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                               std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  if (auto r = ossl::io::write_all(ssl, response, kTimeout); !r) return;
  (void)ossl::io::shutdown(ssl, 1s);
  std::fprintf(stderr, "tls_server: %s", body.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  const auto id = load_identity(o);
  const ossl::SslCtx ctx = make_context(o, id);  // shared by every connection thread

  if (::pipe2(g_signal_pipe, O_CLOEXEC) != 0) fail("pipe");
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  std::string error;
  net::Listener listener = net::listen_on(o.host, static_cast<std::uint16_t>(o.port), error);
  if (!listener.fd) fail(error);
  std::printf("listening on %s:%u\n", o.host.c_str(), listener.port);
  std::fflush(stdout);

  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<Worker> workers;
  for (;;) {
    pollfd fds[2] = {{listener.fd.get(), POLLIN, 0}, {g_signal_pipe[0], POLLIN, 0}};
    if (::poll(fds, 2, 1000) < 0 && errno != EINTR) fail("poll failed");
    if ((fds[1].revents & POLLIN) != 0) break;  // SIGINT/SIGTERM
    if ((fds[0].revents & POLLIN) != 0) {
      net::Fd client(::accept4(listener.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (client) {
        auto done = std::make_shared<std::atomic<bool>>(false);
        workers.push_back({std::thread([&ctx, done, fd = std::move(client)]() mutable {
                             serve(ctx, std::move(fd));
                             *done = true;
                           }),
                           done});
      }
    }
    std::erase_if(workers, [](Worker& w) {  // reap finished connections
      if (!*w.done) return false;
      w.thread.join();
      return true;
    });
  }
  for (auto& w : workers)
    w.thread.join();
  std::fprintf(stderr, "tls_server: shut down cleanly\n");
  return 0;
}
