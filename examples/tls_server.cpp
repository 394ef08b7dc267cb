// tls_server: a small HTTPS server made with ossl.
//
//   tls_server [--cert FILE --key FILE] [--chain FILE] [--port N] [--host ADDR]
//              [--alpn LIST] [--client-ca FILE] [--tls1.2|--tls1.3]
//              [--sni NAME=CERT,KEY]... [--timeout SECONDS] [--max-connections N]
//
// Answers one HTTP request per connection with 200 and a one-line body stating the negotiated
// version, cipher, ALPN, client certificate and SNI name. --sni presents another
// certificate (CERT may carry its chain) to clients that ask for NAME. Without --cert it generates
// a CA and a certificate for localhost/127.0.0.1/::1 and prints where it wrote the CA. Serves
// clients concurrently, a thread each, at most --max-connections (default 256) at once: more
// wait in the listen backlog. --timeout (default 10 s) bounds the handshake and the whole
// request head together, not each read. Ends each connection as openssl s_server does:
// close_notify (also in answer to the client's), then a lingering close, so a client still
// sending sees the response instead of a TCP reset. Stops cleanly on SIGINT/SIGTERM. Prints
// "listening on HOST:PORT" once ready (port 0 picks a free port). --client-ca requires client
// certificates.
#include "net.hpp"

#include <ossl/ossl.hpp>
#include <ossl/testing/certs.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
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
       "[--sni NAME=CERT,KEY]... [--timeout SECONDS] [--max-connections N]");
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
  long timeout_s = 10;
  long max_connections = 256;
  std::optional<ossl::TlsVersion> version;
};

long number(const std::string& v, long lo, long hi, const char* what) {
  char* end = nullptr;
  const long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || n < lo || n > hi) {
    usage(std::string("bad ") + what + " " + v + " (" + std::to_string(lo) + " to " +
          std::to_string(hi) + ")");
  }
  return n;
}

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
      o.port = number(value(), 0, 65535, "port");
    } else if (a == "--timeout") {
      o.timeout_s = number(value(), 1, 3600, "timeout");
    } else if (a == "--max-connections") {
      o.max_connections = number(value(), 1, 100000, "max-connections");
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

// Where the request head ends: after an empty line, whose line ends may be CRLF or a bare
// LF (RFC 9112 section 2.2 lets a server accept LF alone). npos while incomplete.
std::size_t head_end(const std::string& request) {
  for (std::size_t at = request.find('\n'); at != std::string::npos;
       at = request.find('\n', at + 1)) {
    std::size_t next = at + 1;
    if (next < request.size() && request[next] == '\r') ++next;
    if (next < request.size() && request[next] == '\n') return next + 1;
  }
  return std::string::npos;
}

// One connection: handshake, read the request head, answer, close_notify. The whole of it
// shares one deadline, so a client trickling a byte at a time cannot hold it longer.
void answer(const ossl::SslCtx& ctx, int fd, ossl::io::Timeout timeout) {
  const auto deadline = ossl::io::Clock::now() + timeout;
  auto left = [&] {
    return std::max(ossl::io::Timeout::zero(), std::chrono::duration_cast<ossl::io::Timeout>(
                                                   deadline - ossl::io::Clock::now()));
  };
  auto made = ctx.new_ssl();
  if (!made || !ossl::io::set_nonblocking(fd) || !made->set_fd(fd)) return;
  ossl::Ssl ssl = std::move(*made);
  ssl.set_accept_state();
  if (auto r = ossl::io::handshake(ssl, left()); !r) {
    std::fprintf(stderr, "tls_server: handshake failed: %s\n", r.error().to_string().c_str());
    return;
  }
  std::string request;
  char buf[4096];
  while (head_end(request) == std::string::npos && request.size() < 16384) {
    // A client's close_notify is answered with ours inside read_some (so its session
    // stays resumable); a timeout or truncation just ends the connection.
    auto n = ossl::io::read_some(ssl, std::span<char>(buf), left());
    if (!n) return;
    request.append(buf, *n);
  }
  if (head_end(request) == std::string::npos) return;  // over 16 KiB of head
  auto peer = ssl.peer_certificate();
  const std::string alpn = ssl.alpn_selected().empty() ? "none" : std::string(ssl.alpn_selected());
  const std::string body = "version=" + ossl::to_string(ssl.version()) +
                           " cipher=" + std::string(ssl.cipher_name()) + " alpn=" + alpn +
                           " client=" + (peer ? peer->subject_name().value_or("?") : "none") +
                           " sni=" + std::string(ssl.hostname().value_or("none")) + "\n";
  const std::string response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                               std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  if (auto r = ossl::io::write_all(ssl, response, left()); !r) return;
  (void)ossl::io::shutdown(ssl, std::min<ossl::io::Timeout>(left(), 1s));
  std::fprintf(stderr, "tls_server: %s", body.c_str());
}

void serve(const ossl::SslCtx& ctx, net::Fd fd, ossl::io::Timeout timeout) {
  answer(ctx, fd.get(), timeout);
  // Not a plain close: the client may still be sending (a request body we did not read),
  // and closing with unread data makes the kernel reset the connection, response and all.
  ossl::io::lingering_close(fd.release());
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
  const ossl::io::Timeout timeout = std::chrono::seconds(o.timeout_s);
  for (;;) {
    // At the cap, the listener is not polled: new clients wait in the backlog.
    const bool at_cap = workers.size() >= static_cast<std::size_t>(o.max_connections);
    pollfd fds[2] = {{g_signal_pipe[0], POLLIN, 0}, {listener.fd.get(), POLLIN, 0}};
    if (::poll(fds, at_cap ? 1 : 2, at_cap ? 50 : 1000) < 0 && errno != EINTR) fail("poll failed");
    if ((fds[0].revents & POLLIN) != 0) break;  // SIGINT/SIGTERM
    if (!at_cap && (fds[1].revents & POLLIN) != 0) {
      net::Fd client(::accept4(listener.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (client) {
        auto done = std::make_shared<std::atomic<bool>>(false);
        workers.push_back({std::thread([&ctx, done, timeout, fd = std::move(client)]() mutable {
                             serve(ctx, std::move(fd), timeout);
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
