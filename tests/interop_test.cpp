// Interop: ossl against TLS stacks it did not write, on 127.0.0.1, TLS 1.2 and 1.3.
//   ossl client (https_get and in-process) -> openssl s_server, gnutls-serv, nginx
//   ossl server (tls_server)              <- openssl s_client, gnutls-cli, curl
//   PKCS#12 archives                     <-> openssl pkcs12, certtool
// Every peer runs as this test's own process (nginx with its own prefix and config),
// on a free port, bounded in time, and is stopped by the test even when it fails.
// scripts/test installs the peers (openssl gnutls-bin nginx-light curl).
#include "support/handshake.hpp"
#include "support/openssl_ca.hpp"
#include "support/process.hpp"
#include "support/redis_server.hpp"

#include <ossl/ossl.hpp>

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace ossl;
using namespace ossl_test;
using namespace std::literals;

namespace {

constexpr auto kStart = 10s;  // a peer must be listening within this
constexpr auto kRun = 20s;    // a client run must finish within this
const std::string kExamples = OSSL_EXAMPLES_DIR;

std::string version_name(TlsVersion v) {
  return v == TlsVersion::Tls12 ? "TLSv1.2" : "TLSv1.3";
}

// The PKI of pki() written to files, plus a stranger CA for the wrong-CA cases.
struct Files {
  TempDir dir;
  std::string ca, other_ca, server_bundle, server_leaf, chain, server_key, client_bundle,
      client_key;
  ossl::X509 stranger;  // the root in other_ca
};

const Files& files() {
  static const Files* f = [] {
    auto* out = new Files;
    const Pki& p = pki();
    auto write = [&](const std::string& name, const std::string& text) {
      const std::string path = out->dir.path(name);
      std::ofstream(path) << text;
      return path;
    };
    out->ca = write("ca.pem", p.root.cert().to_pem().value());
    out->stranger = testing::TestCa::create_root("stranger").value().cert();
    out->other_ca = write("other-ca.pem", out->stranger.to_pem().value());
    out->server_bundle = out->dir.path("server.pem");
    out->server_key = out->dir.path("server.key");
    REQUIRE(p.server.write_pem(out->server_bundle, out->server_key).has_value());
    out->server_leaf = write("server-leaf.pem", p.server.cert.to_pem().value());
    out->chain = write("chain.pem", p.intermediate.cert().to_pem().value());
    out->client_bundle = out->dir.path("client.pem");
    out->client_key = out->dir.path("client.key");
    REQUIRE(p.client.write_pem(out->client_bundle, out->client_key).has_value());
    return out;
  }();
  return *f;
}

// ------------------------------------------------------------------ peer servers

struct PeerServer {
  std::unique_ptr<Process> process;
  std::uint16_t port = 0;
  std::unique_ptr<TempDir> prefix;  // nginx's
};

PeerServer start(std::vector<std::string> argv, std::uint16_t port) {
  PeerServer s;
  s.port = port;
  s.process = std::make_unique<Process>(std::move(argv));
  REQUIRE_MESSAGE(wait_for_port(port, kStart), s.process->command() << " did not start:\n"
                                                                    << s.process->output());
  return s;
}

PeerServer openssl_s_server(TlsVersion v) {
  const Files& f = files();
  const auto port = free_port();
  return start({"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert",
                f.server_leaf, "-cert_chain", f.chain, "-key", f.server_key, "-www", "-alpn",
                "h2,http/1.1", v == TlsVersion::Tls12 ? "-tls1_2" : "-tls1_3"},
               port);
}

PeerServer gnutls_serv(TlsVersion v) {
  const Files& f = files();
  const auto port = free_port();
  // gnutls-serv cannot choose its address; scripts/test runs this suite in a network
  // namespace that has only loopback (scripts/in-netns).
  return start(
      {"gnutls-serv", "--http", "-p", std::to_string(port), "--x509certfile", f.server_bundle,
       "--x509keyfile", f.server_key, "-a", "--alpn", "h2", "--alpn", "http/1.1", "--priority",
       v == TlsVersion::Tls12 ? "NORMAL:-VERS-ALL:+VERS-TLS1.2" : "NORMAL:-VERS-ALL:+VERS-TLS1.3"},
      port);
}

// nginx on 127.0.0.1 with the PKI's server certificate, HTTP/2 and `extra` directives in
// its server block.
PeerServer nginx_with(TlsVersion v, const std::string& extra) {
  const Files& f = files();
  const auto port = free_port();
  auto prefix = std::make_unique<TempDir>();
  const std::string conf = prefix->path("nginx.conf");
  const std::string p = prefix->dir();
  std::ofstream(conf) << "daemon off;\nmaster_process off;\npid " << p << "/nginx.pid;\n"
                      << "error_log " << p << "/error.log;\nevents {}\nhttp {\n"
                      << "  access_log off;\n  client_body_temp_path " << p << "/body;\n"
                      << "  proxy_temp_path " << p << "/proxy;\n  fastcgi_temp_path " << p
                      << "/fastcgi;\n  uwsgi_temp_path " << p << "/uwsgi;\n  scgi_temp_path " << p
                      << "/scgi;\n  server {\n    listen 127.0.0.1:" << port
                      << " ssl http2;\n    ssl_certificate " << f.server_bundle
                      << ";\n    ssl_certificate_key " << f.server_key << ";\n    ssl_protocols "
                      << (v == TlsVersion::Tls12 ? "TLSv1.2" : "TLSv1.3") << ";\n    " << extra
                      << "\n    location / { return 200 \"hello from nginx\\n\"; }\n  }\n}\n";
  PeerServer s = start({"nginx", "-p", p, "-e", p + "/error.log", "-c", conf}, port);
  s.prefix = std::move(prefix);
  return s;
}

PeerServer nginx(TlsVersion v) {
  return nginx_with(v, "");
}

using PeerFactory = PeerServer (*)(TlsVersion);
struct PeerCase {
  const char* name;
  PeerFactory start;
  const char* body;  // what a GET / returns
};
const PeerCase kPeers[] = {
    {"openssl s_server", openssl_s_server, "s_server"},
    {"gnutls-serv", gnutls_serv, "GnuTLS"},
    {"nginx", nginx, "hello from nginx"},
};

// In-process ossl client: TCP to 127.0.0.1, TLS to `host`.
struct ClientRun {
  HandshakeOutcome outcome;  // rounds unused
  Ssl ssl;
  io::Socket fd;
};
ClientRun ossl_connect(std::uint16_t port, const SslCtx& ctx, std::string_view host) {
  ClientRun r;
  auto fd = io::connect("127.0.0.1", port, 5s);
  REQUIRE_MESSAGE(fd.has_value(), fd.error().to_string());
  r.fd = std::move(*fd);
  r.ssl = ctx.new_ssl_for_host(host).value();
  REQUIRE(r.ssl.set_fd(r.fd.get()).has_value());
  auto hs = io::handshake(r.ssl, 10s);
  r.outcome.ok = hs.has_value();
  if (!hs) r.outcome.client_error = hs.error();
  return r;
}

SslCtx ossl_client(TlsVersion v, const ossl::X509& ca, std::vector<std::string_view> alpn = {}) {
  auto b = SslCtxBuilder<Client>::create().ca_cert(ca).min_proto_version(v).max_proto_version(v);
  if (!alpn.empty()) b.alpn_protos_list(alpn);
  return std::move(b).build().value();
}

// The example clients that behave alike: https_get (blocking, ossl::io) and, when built
// with Asio, async_get (a coroutine over ossl::AsioStream). Same options, same output.
const std::vector<std::string>& example_clients() {
  static const std::vector<std::string> names = {
    "https_get",
#if defined(OSSL_HAVE_ASYNC_SERVER)
    "async_get",
#endif
  };
  return names;
}

RunResult example_client(const std::string& name, std::uint16_t port,
                         std::vector<std::string> args) {
  std::vector<std::string> argv = {kExamples + "/" + name,
                                   "https://localhost:" + std::to_string(port) + "/"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(std::move(argv), kRun);
}

// ------------------------------------------------------------- the ossl server

struct OsslServer {
  std::unique_ptr<Process> process;
  std::uint16_t port = 0;
};
// The example servers that answer alike: tls_server (a thread per connection) and, when
// built with Asio, async_server (coroutines on one thread). Same options, same answers.
const std::vector<std::string>& example_servers() {
  static const std::vector<std::string> names = {
    "tls_server",
#if defined(OSSL_HAVE_ASYNC_SERVER)
    "async_server",
#endif
  };
  return names;
}

OsslServer example_server(const std::string& name, std::vector<std::string> args) {
  const Files& f = files();
  std::vector<std::string> argv = {kExamples + "/" + name, "--port", "0",         "--cert",
                                   f.server_bundle,        "--key",  f.server_key};
  argv.insert(argv.end(), args.begin(), args.end());
  OsslServer s;
  s.process = std::make_unique<Process>(argv);
  REQUIRE_MESSAGE(s.process->wait_for_output("listening on 127.0.0.1:", kStart),
                  s.process->output());
  const std::string out = s.process->output();
  const std::string listening = "listening on 127.0.0.1:";
  s.port =
      static_cast<std::uint16_t>(std::stoi(out.substr(out.find(listening) + listening.size())));
  return s;
}
OsslServer tls_server(std::vector<std::string> args) {
  return example_server("tls_server", std::move(args));
}

const std::string kGet = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";

}  // namespace

// ======================================================= ossl client -> peer servers

namespace {

// Runs `check(peer, version, server, client)` for each peer server, started once per TLS
// version, and each example client.
template <class Check>
void each_peer_and_client(Check&& check) {
  for (const auto& peer : kPeers) {
    for (TlsVersion v : kVersions) {
      CAPTURE(std::string(peer.name));
      CAPTURE(version_name(v));
      PeerServer server = peer.start(v);
      for (const std::string& client : example_clients()) {
        CAPTURE(client);
        check(peer, v, server, client);
      }
    }
  }
}

}  // namespace

TEST_CASE("the example clients download from openssl s_server, gnutls-serv and nginx, and resume") {
  each_peer_and_client([](const auto& peer, TlsVersion v, const PeerServer& server,
                          const std::string& client) {
    RunResult r = example_client(client, server.port,
                                 {"--cafile", files().ca, "--alpn", "http/1.1",
                                  v == TlsVersion::Tls12 ? "--tls1.2" : "--tls1.3", "--resume"});
    CHECK_MESSAGE(r.status == 0, r.output);
    CHECK_MESSAGE(r.output.find(peer.body) != std::string::npos, r.output);
    CHECK_MESSAGE(r.output.find("version : "s + version_name(v)) != std::string::npos, r.output);
    CHECK_MESSAGE(r.output.find("alpn    : http/1.1") != std::string::npos, r.output);
    CHECK_MESSAGE(r.output.find("verify  : ok") != std::string::npos, r.output);
    CHECK_MESSAGE(r.output.find("resumed : yes") != std::string::npos, r.output);
  });
}

TEST_CASE("the example clients' --session-file resumes in the next run, against each peer") {
  const std::string root_pin = SpkiPin::of(pki().root.cert()).value().to_base64();
  each_peer_and_client([&](const auto& peer, TlsVersion v, const PeerServer& server,
                           const std::string& client) {
    TempDir dir;
    const std::string file = dir.path("sessions");
    const std::vector<std::string> args = {"--cafile", files().ca,
                                           v == TlsVersion::Tls12 ? "--tls1.2" : "--tls1.3",
                                           "--session-file", file};
    RunResult first = example_client(client, server.port, args);
    REQUIRE_MESSAGE(first.status == 0, first.output);
    CHECK_MESSAGE(first.output.find("no saved sessions in " + file) != std::string::npos,
                  first.output);
    CHECK_MESSAGE(first.output.find("resumed : no") != std::string::npos, first.output);
    CHECK_MESSAGE(first.output.find("saved ") != std::string::npos, first.output);
    struct stat st {};
    REQUIRE(::stat(file.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);

    // A new process: the sessions come from the file and the handshake resumes.
    RunResult second = example_client(client, server.port, args);
    REQUIRE_MESSAGE(second.status == 0, second.output);
    CHECK_MESSAGE(second.output.find("loaded ") != std::string::npos, second.output);
    CHECK_MESSAGE(second.output.find("resumed : yes") != std::string::npos, second.output);
    CHECK_MESSAGE(second.output.find(peer.body) != std::string::npos, second.output);

    // Another trust configuration: the saved sessions are not used.
    RunResult pinned =
        example_client(client, server.port,
                       {"--cafile", files().ca, v == TlsVersion::Tls12 ? "--tls1.2" : "--tls1.3",
                        "--session-file", file, "--pin", root_pin});
    REQUIRE_MESSAGE(pinned.status == 0, pinned.output);
    CHECK_MESSAGE(pinned.output.find("verification settings changed") != std::string::npos,
                  pinned.output);
    CHECK_MESSAGE(pinned.output.find("resumed : no") != std::string::npos, pinned.output);
  });
}

TEST_CASE("ossl client agrees on ALPN with each peer server") {
  struct Offer {
    std::vector<std::string_view> protocols;
    std::string_view expect;
  };
  for (const auto& peer : kPeers) {
    for (TlsVersion v : kVersions) {
      CAPTURE(std::string(peer.name));
      CAPTURE(version_name(v));
      PeerServer server = peer.start(v);
      for (const auto& offer :
           {Offer{{"h2", "http/1.1"}, "h2"}, Offer{{"x-unknown", "http/1.1"}, "http/1.1"}}) {
        CAPTURE(offer.expect);
        ClientRun c = ossl_connect(server.port, ossl_client(v, pki().root.cert(), offer.protocols),
                                   "localhost");
        REQUIRE_MESSAGE(c.outcome.ok, c.outcome.describe());
        CHECK(c.ssl.alpn_selected() == offer.expect);
        CHECK(c.ssl.version() == v);
        (void)io::shutdown(c.ssl, 1s);
      }
    }
  }
}

TEST_CASE("ossl client refuses each peer server with a wrong CA or a wrong name") {
  const ossl::X509& stranger = files().stranger;
  for (const auto& peer : kPeers) {
    for (TlsVersion v : kVersions) {
      CAPTURE(std::string(peer.name));
      CAPTURE(version_name(v));
      PeerServer server = peer.start(v);

      ClientRun wrong_ca = ossl_connect(server.port, ossl_client(v, stranger), "localhost");
      CHECK_FALSE(wrong_ca.outcome.ok);
      CHECK(wrong_ca.ssl.verify_result().code == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);

      ClientRun wrong_name =
          ossl_connect(server.port, ossl_client(v, pki().root.cert()), "wrong.example");
      CHECK_FALSE(wrong_name.outcome.ok);
      CHECK(wrong_name.ssl.verify_result().code == X509_V_ERR_HOSTNAME_MISMATCH);

      for (const std::string& client : example_clients()) {
        CAPTURE(client);
        RunResult r = example_client(client, server.port, {"--cafile", files().other_ca});
        CHECK(r.status == 2);
        CHECK_MESSAGE(
            r.output.find("certificate verification failed: the issuer of CN=ossl test "
                          "intermediate,O=ossl test (CN=ossl test root,O=ossl test) "
                          "is neither trusted here nor sent by the server") != std::string::npos,
            r.output);
        CHECK_MESSAGE(
            r.output.find(": unable to get local issuer certificate") != std::string::npos,
            r.output);
      }
    }
  }
}

// ===================================================== peer clients -> ossl server

TEST_CASE("curl downloads from the example servers; the server picks ALPN; client certificates") {
  for (const std::string& name : example_servers()) {
    CAPTURE(name);
    const Files& f = files();
    for (TlsVersion v : kVersions) {
      CAPTURE(version_name(v));
      const std::vector<std::string> pin =
          v == TlsVersion::Tls12 ? std::vector<std::string>{"--tlsv1.2", "--tls-max", "1.2"}
                                 : std::vector<std::string>{"--tlsv1.3", "--tls-max", "1.3"};
      auto curl = [&](std::uint16_t port, std::vector<std::string> extra) {
        std::vector<std::string> argv = {"curl",
                                         "-sS",
                                         "--max-time",
                                         "15",
                                         "--cacert",
                                         f.ca,
                                         "--resolve",
                                         "localhost:" + std::to_string(port) + ":127.0.0.1",
                                         "https://localhost:" + std::to_string(port) + "/"};
        argv.insert(argv.end(), pin.begin(), pin.end());
        argv.insert(argv.end(), extra.begin(), extra.end());
        return run(argv, kRun);
      };
      {
        OsslServer server = example_server(name, {"--alpn", "http/1.1"});
        RunResult r = curl(server.port, {"--http2"});  // offers h2 and http/1.1
        CHECK_MESSAGE(r.status == 0, r.output);
        CHECK_MESSAGE(r.output.find("version="s + version_name(v)) != std::string::npos, r.output);
        CHECK_MESSAGE(r.output.find("alpn=http/1.1") != std::string::npos, r.output);
      }
      {
        OsslServer server = example_server(name, {"--client-ca", f.ca});
        RunResult with = curl(server.port, {"--cert", f.client_bundle, "--key", f.client_key});
        CHECK_MESSAGE(with.status == 0, with.output);
        CHECK_MESSAGE(with.output.find("client=CN=ossl test client") != std::string::npos,
                      with.output);
        RunResult without = curl(server.port, {});
        CHECK_MESSAGE(without.status != 0, without.output);  // certificate required
        CHECK(without.output.find("version=") == std::string::npos);
      }
    }
  }
}

TEST_CASE("curl gets the certificate for the name it asks the example servers for (SNI)") {
  for (const std::string& name : example_servers()) {
    CAPTURE(name);
    const Files& f = files();
    const Pki& p = pki();
    TempDir dir;
    testing::LeafSpec spec;
    spec.common_name = "api.example";
    spec.dns_names = {"api.example"};
    const testing::Identity api = p.intermediate.issue(spec).value();
    const std::string bundle = dir.path("api.pem"), key = dir.path("api.key");
    REQUIRE(api.write_pem(bundle, key).has_value());
    for (TlsVersion v : kVersions) {
      CAPTURE(version_name(v));
      OsslServer server = example_server(name, {"--sni", "api.example=" + bundle + "," + key,
                                                v == TlsVersion::Tls12 ? "--tls1.2" : "--tls1.3"});
      const std::string port = std::to_string(server.port);
      for (const std::string host : {"api.example", "localhost"}) {
        CAPTURE(host);
        // curl checks the certificate against the name it asked for: success means the
        // server picked the right one, and the body echoes the name it saw.
        RunResult r = run({"curl", "-sS", "--max-time", "15", "--cacert", f.ca, "--resolve",
                           host + ":" + port + ":127.0.0.1", "https://" + host + ":" + port + "/"},
                          kRun);
        CHECK_MESSAGE(r.status == 0, r.output);
        CHECK_MESSAGE(r.output.find("sni=" + host) != std::string::npos, r.output);
      }
    }
  }
}

TEST_CASE(
    "openssl s_client talks to the example servers: verification, server ALPN preference, client "
    "certs") {
  for (const std::string& name : example_servers()) {
    CAPTURE(name);
    const Files& f = files();
    for (TlsVersion v : kVersions) {
      CAPTURE(version_name(v));
      auto s_client = [&](std::uint16_t port, std::vector<std::string> extra) {
        std::vector<std::string> argv = {"openssl",
                                         "s_client",
                                         "-connect",
                                         "127.0.0.1:" + std::to_string(port),
                                         "-servername",
                                         "localhost",
                                         "-verify_hostname",
                                         "localhost",
                                         "-CAfile",
                                         f.ca,
                                         "-verify_return_error",
                                         "-ign_eof",
                                         v == TlsVersion::Tls12 ? "-tls1_2" : "-tls1_3"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        return run(argv, kRun, kGet);
      };
      {
        OsslServer server = example_server(name, {"--alpn", "x-first,x-second"});
        RunResult r = s_client(server.port, {"-alpn", "x-second,x-first"});
        CHECK_MESSAGE(r.status == 0, r.output);
        CHECK_MESSAGE(r.output.find("Verify return code: 0 (ok)") != std::string::npos, r.output);
        CHECK_MESSAGE(r.output.find("ALPN protocol: x-first") != std::string::npos, r.output);
        CHECK_MESSAGE(r.output.find("version="s + version_name(v)) != std::string::npos, r.output);
      }
      {
        OsslServer server = example_server(name, {"--client-ca", f.ca});
        RunResult r = s_client(
            server.port, {"-cert", f.client_bundle, "-cert_chain", f.chain, "-key", f.client_key});
        CHECK_MESSAGE(r.status == 0, r.output);
        CHECK_MESSAGE(r.output.find("client=CN=ossl test client") != std::string::npos, r.output);
      }
    }
  }
}

TEST_CASE("gnutls-cli talks to the example servers: verification, ALPN, client certs") {
  for (const std::string& name : example_servers()) {
    CAPTURE(name);
    const Files& f = files();
    for (TlsVersion v : kVersions) {
      CAPTURE(version_name(v));
      auto gnutls_cli = [&](std::uint16_t port, const std::string& extra) {
        // gnutls-cli stops at the end of its input; keep it open until the server closes.
        const std::string cmd =
            "(printf 'GET / HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n'; "
            "sleep "
            "5) | "
            "gnutls-cli --x509cafile " +
            f.ca + " -p " + std::to_string(port) +
            " --sni-hostname localhost --verify-hostname localhost --priority " +
            (v == TlsVersion::Tls12 ? "NORMAL:-VERS-ALL:+VERS-TLS1.2"
                                    : "NORMAL:-VERS-ALL:+VERS-TLS1.3") +
            " " + extra + " 127.0.0.1";
        return run({"sh", "-c", cmd}, kRun);
      };
      {
        OsslServer server = example_server(name, {"--alpn", "http/1.1"});
        RunResult r = gnutls_cli(server.port, "--alpn h2 --alpn http/1.1");
        CHECK_MESSAGE(r.output.find("version="s + version_name(v)) != std::string::npos, r.output);
        CHECK_MESSAGE(r.output.find("alpn=http/1.1") != std::string::npos, r.output);
      }
      {
        OsslServer server = example_server(name, {"--client-ca", f.ca});
        RunResult r = gnutls_cli(
            server.port, "--x509certfile " + f.client_bundle + " --x509keyfile " + f.client_key);
        CHECK_MESSAGE(r.output.find("client=CN=ossl test client") != std::string::npos, r.output);
      }
    }
  }
}

TEST_CASE("the nonblocking_client example completes against tls_server and nginx") {
  for (TlsVersion v : kVersions) {
    CAPTURE(version_name(v));
    OsslServer ours = tls_server({v == TlsVersion::Tls12 ? "--tls1.2" : "--tls1.3"});
    PeerServer theirs = nginx(v);
    for (std::uint16_t port : {ours.port, theirs.port}) {
      RunResult r = run({kExamples + "/nonblocking_client", "localhost", std::to_string(port),
                         "--cafile", files().ca},
                        kRun);
      CHECK_MESSAGE(r.status == 0, r.output);
      // Whether a WantRead shows up depends on scheduling (on loopback the reply may
      // already be there), so only the phases and the outcome are checked.
      CHECK_MESSAGE(r.output.find("handshake\n") != std::string::npos, r.output);
      CHECK_MESSAGE(r.output.find("done: "s + version_name(v)) != std::string::npos, r.output);
      CHECK_MESSAGE(r.output.find("first line: HTTP/1.1 200 OK") != std::string::npos, r.output);
    }
  }
}

// ------------------------------------------------- how tls_server ends connections

namespace {
// Threads of a running process (/proc/PID/status).
int thread_count(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return -1;
}
}  // namespace

TEST_CASE(
    "curl posting a body the example servers do not read gets every response (lingering close)") {
  for (const std::string& name : example_servers()) {
    CAPTURE(name);
    const Files& f = files();
    TempDir dir;
    const std::string body_path = dir.path("body");
    std::ofstream(body_path) << std::string(100 * 1024, 'x');
    OsslServer server = example_server(name, {});
    for (int i = 0; i < 10; ++i) {
      CAPTURE(i);
      RunResult r = run({"curl", "-sS", "--max-time", "15", "--cacert", f.ca, "--resolve",
                         "localhost:" + std::to_string(server.port) + ":127.0.0.1", "--data-binary",
                         "@" + body_path, "https://localhost:" + std::to_string(server.port) + "/"},
                        kRun);
      CHECK_MESSAGE(r.status == 0, r.output);
      CHECK_MESSAGE(r.output.find("version=") != std::string::npos, r.output);
    }
  }
}

TEST_CASE("a client that closes first gets close_notify back, and its TLS 1.2 session resumes") {
  for (const std::string& name : example_servers()) {
    CAPTURE(name);
    const Files& f = files();
    OsslServer server = example_server(name, {"--tls1.2"});
    TempDir dir;
    const std::string sess = dir.path("session.pem");
    auto s_client = [&](const std::string& sess_flag) {
      // stdin at EOF at once: s_client sends close_notify before any request.
      return run({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(server.port),
                  "-tls1_2", "-no_ticket", "-CAfile", f.ca, sess_flag, sess},
                 kRun);
    };
    RunResult first = s_client("-sess_out");
    REQUIRE_MESSAGE(first.status == 0, first.output);
    CHECK_MESSAGE(first.output.find("New, TLSv1.2") != std::string::npos, first.output);
    RunResult second = s_client("-sess_in");
    REQUIRE_MESSAGE(second.status == 0, second.output);
    CHECK_MESSAGE(second.output.find("Reused, TLSv1.2") != std::string::npos, second.output);
  }
}

TEST_CASE("the example servers answer a request head that ends in bare LF") {
  for (const std::string& name : example_servers()) {
    CAPTURE(name);
    OsslServer server = example_server(name, {});
    const SslCtx ctx = ossl_client(TlsVersion::Tls13, pki().root.cert());
    ClientRun c = ossl_connect(server.port, ctx, "localhost");
    REQUIRE_MESSAGE(c.outcome.ok, c.outcome.describe());
    REQUIRE(io::write_all(c.ssl, "GET / HTTP/1.0\n\n", 5s).has_value());
    std::string reply;
    auto n = io::read_to_end(c.ssl, reply, 10s);
    REQUIRE_MESSAGE(n.has_value(), n.error().to_string());
    CHECK_MESSAGE(reply.rfind("HTTP/1.1 200 OK\r\n", 0) == 0, reply);
  }
}

TEST_CASE("the example servers reload their certificate on SIGHUP under a loop of connections") {
  // Clients connect in a loop while the certificate files are replaced and the server is
  // sent SIGHUP, five times, then once with a broken key. No connection may fail; each
  // sees one of the certificates; the first after each reload sees the new one.
  for (const std::string& name : example_servers()) {
    CAPTURE(name);
    TempDir dir;
    const std::string cert = dir.path("cert.pem"), key = dir.path("key.pem");
    std::vector<std::string> serials;
    auto renew = [&] {  // new files, each renamed into place whole
      testing::LeafSpec spec;
      spec.dns_names = {"localhost"};
      const testing::Identity id = pki().intermediate.issue(spec).value();
      REQUIRE(id.write_pem(cert + ".new", key + ".new").has_value());
      REQUIRE(std::rename((key + ".new").c_str(), key.c_str()) == 0);
      REQUIRE(std::rename((cert + ".new").c_str(), cert.c_str()) == 0);
      serials.push_back(id.cert.serial_hex().value());
    };
    renew();
    OsslServer server = example_server(name, {"--cert", cert, "--key", key});
    const SslCtx client = ossl_client(TlsVersion::Tls13, pki().root.cert());
    // One GET; the serial of the certificate it was served with, or why it failed.
    auto get = [&]() -> std::pair<std::string, std::string> {
      auto fd = io::connect("127.0.0.1", server.port, 5s);
      if (!fd) return {"", fd.error().to_string()};
      auto ssl = client.new_ssl_for_host("localhost");
      if (!ssl || !ssl->set_fd(fd->get())) return {"", "new_ssl"};
      if (auto hs = io::handshake(*ssl, 10s); !hs)
        return {"", "handshake: " + hs.error().to_string()};
      if (auto w = io::write_all(*ssl, kGet, 10s); !w)
        return {"", "write: " + w.error().to_string()};
      std::string reply;
      if (auto r = io::read_to_end(*ssl, reply, 10s); !r)
        return {"", "read: " + r.error().to_string()};
      if (reply.find("version=") == std::string::npos) return {"", "reply: " + reply};
      auto peer = ssl->peer_certificate();
      return {peer ? peer->serial_hex().value_or("?") : "none", ""};
    };
    std::mutex mutex;
    std::map<std::string, int> seen;
    std::vector<std::string> failures;
    std::atomic<int> done{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> loop;
    for (int t = 0; t < 3; ++t) {
      loop.emplace_back([&] {
        while (!stop) {
          auto [serial, error] = get();
          const std::lock_guard lock(mutex);
          if (error.empty()) {
            ++seen[serial];
          } else {
            failures.push_back(error);
          }
          ++done;
        }
      });
    }
    auto let_some_through = [&] {
      const int before = done;
      const auto deadline = std::chrono::steady_clock::now() + 20s;
      while (done < before + 6 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(5ms);
    };
    for (int generation = 2; generation <= 6; ++generation) {
      let_some_through();
      renew();
      REQUIRE(::kill(server.process->pid(), SIGHUP) == 0);
      REQUIRE_MESSAGE(
          server.process->wait_for_output(
              "reloaded (generation " + std::to_string(generation) + "): serving", kStart),
          server.process->output());
      // A connection made now gets the new certificate.
      auto [serial, error] = get();
      CHECK_MESSAGE(error.empty(), error);
      CHECK(serial == serials.back());
    }
    // A broken key: the reload is refused and the running certificate stays.
    std::ofstream(key) << "not a key\n";
    REQUIRE(::kill(server.process->pid(), SIGHUP) == 0);
    CHECK_MESSAGE(server.process->wait_for_output(
                      "reload failed, still serving generation 6: --key " + key, kStart),
                  server.process->output());
    let_some_through();
    stop = true;
    for (auto& t : loop)
      t.join();
    auto [serial, error] = get();
    CHECK_MESSAGE(error.empty(), error);
    CHECK(serial == serials.back());
    const std::lock_guard lock(mutex);
    CHECK(failures.empty());
    if (!failures.empty()) MESSAGE(failures.front());
    CHECK(done >= 36);
    for (const auto& [s, n] : seen) {
      CAPTURE(s);
      CHECK(std::find(serials.begin(), serials.end(), s) != serials.end());
    }
    CHECK(seen.size() >= 5);  // the loop saw (nearly) every generation
  }
}

TEST_CASE("the example servers' timeout bounds the whole request, not each read") {
  for (const std::string& name : example_servers()) {
    CAPTURE(name);
    OsslServer server = example_server(name, {"--timeout", "2"});
    const SslCtx ctx = ossl_client(TlsVersion::Tls13, pki().root.cert());
    ClientRun c = ossl_connect(server.port, ctx, "localhost");
    REQUIRE_MESSAGE(c.outcome.ok, c.outcome.describe());
    // A byte every half second: each read is quick, the request never ends. The server
    // must end it after about 2 s; 16 bytes take 8 s.
    const std::string trickle = "GET / HTTP/1.1\r\n";
    bool closed = false;
    char buf[256];
    for (std::size_t i = 0; i < 16 && !closed; ++i) {
      if (!io::write_all(c.ssl, trickle.substr(i, 1), 2s)) {
        closed = true;
        break;
      }
      auto r = io::read_some(c.ssl, std::span<char>(buf), 500ms);
      closed = r.has_value() || r.error().sys_errno() != ETIMEDOUT;
    }
    CHECK(closed);
  }
}

TEST_CASE("tls_server holds at most --max-connections threads; the rest wait in the backlog") {
  OsslServer server = tls_server({"--max-connections", "4", "--timeout", "30"});
  std::vector<io::Socket> idle;
  for (int i = 0; i < 40; ++i) {
    auto fd = io::connect("127.0.0.1", server.port, 5s);
    REQUIRE_MESSAGE(fd.has_value(), fd.error().to_string());
    idle.push_back(std::move(*fd));
  }
  // Give the accept loop time to take what it will.
  for (int i = 0; i < 20 && thread_count(server.process->pid()) < 5; ++i)
    std::this_thread::sleep_for(50ms);
  const int threads = thread_count(server.process->pid());
  CHECK(threads >= 2);
  CHECK(threads <= 5);  // the main thread and 4 connections
  idle.clear();         // they close; the server serves again
  const SslCtx ctx = ossl_client(TlsVersion::Tls13, pki().root.cert());
  ClientRun c = ossl_connect(server.port, ctx, "localhost");
  REQUIRE_MESSAGE(c.outcome.ok, c.outcome.describe());
  REQUIRE(io::write_all(c.ssl, kGet, 5s).has_value());
  std::string reply;
  CHECK(io::read_to_end(c.ssl, reply, 10s).has_value());
  CHECK_MESSAGE(reply.find("200 OK") != std::string::npos, reply);
}

#if defined(OSSL_HAVE_ASYNC_SERVER)
namespace {
// Sockets a running process holds open (/proc/PID/fd links to "socket:[...]").
int socket_count(int pid) {
  int n = 0;
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  for (int fd = 0; fd < 4096; ++fd) {
    char target[64];
    const std::string link = dir + "/" + std::to_string(fd);
    const ssize_t len = ::readlink(link.c_str(), target, sizeof target - 1);
    if (len > 0 && std::string_view(target, static_cast<std::size_t>(len)).rfind("socket:", 0) == 0)
      ++n;
  }
  return n;
}
}  // namespace

TEST_CASE("async_server keeps HTTP/1.1 connections alive: curl reuses one for three requests") {
  const Files& f = files();
  OsslServer server = example_server("async_server", {});
  const std::string base = "https://localhost:" + std::to_string(server.port) + "/";
  TempDir dir;
  const std::string body_path = dir.path("body");
  std::ofstream(body_path) << std::string(100 * 1024, 'x');
  // A GET, a POST whose 100 KB body the server reads past, another GET: one connection.
  RunResult r = run({"curl",
                     "-sS",
                     "-v",
                     "--max-time",
                     "15",
                     "--cacert",
                     f.ca,
                     "--resolve",
                     "localhost:" + std::to_string(server.port) + ":127.0.0.1",
                     base + "a",
                     "--next",
                     "--cacert",
                     f.ca,
                     "--data-binary",
                     "@" + body_path,
                     base + "b",
                     "--next",
                     "--cacert",
                     f.ca,
                     base + "c"},
                    kRun);
  CHECK_MESSAGE(r.status == 0, r.output);
  std::size_t answers = 0, reused = 0;
  for (auto at = r.output.find("version=TLSv1.3"); at != std::string::npos;
       at = r.output.find("version=TLSv1.3", at + 1))
    ++answers;
  for (auto at = r.output.find("Re-using existing connection"); at != std::string::npos;
       at = r.output.find("Re-using existing connection", at + 1))
    ++reused;
  CHECK_MESSAGE(answers == 3, r.output);
  CHECK_MESSAGE(reused == 2, r.output);
  CHECK(r.output.find("Connection: keep-alive") != std::string::npos);
}

TEST_CASE("async_server holds at most --max-connections on its one thread; the rest wait") {
  OsslServer server = example_server("async_server", {"--max-connections", "4", "--timeout", "30"});
  const int idle_sockets = socket_count(server.process->pid());  // the listener
  std::vector<io::Socket> idle;
  for (int i = 0; i < 40; ++i) {
    auto fd = io::connect("127.0.0.1", server.port, 5s);
    REQUIRE_MESSAGE(fd.has_value(), fd.error().to_string());
    idle.push_back(std::move(*fd));
  }
  for (int i = 0; i < 20 && socket_count(server.process->pid()) < idle_sockets + 4; ++i)
    std::this_thread::sleep_for(50ms);
  std::this_thread::sleep_for(200ms);  // time to take more, were it to
  CHECK(socket_count(server.process->pid()) == idle_sockets + 4);
  CHECK(thread_count(server.process->pid()) == 1);
  idle.clear();  // they close; the server serves again
  const SslCtx ctx = ossl_client(TlsVersion::Tls13, pki().root.cert());
  ClientRun c = ossl_connect(server.port, ctx, "localhost");
  REQUIRE_MESSAGE(c.outcome.ok, c.outcome.describe());
  REQUIRE(io::write_all(c.ssl, kGet, 5s).has_value());
  std::string reply;
  CHECK(io::read_to_end(c.ssl, reply, 10s).has_value());
  CHECK_MESSAGE(reply.find("200 OK") != std::string::npos, reply);
}
#endif

// ---------------------------------------------------------------- PKCS#12 archives

namespace {
std::vector<std::byte> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto bytes = std::as_bytes(std::span(text.data(), text.size()));
  return {bytes.begin(), bytes.end()};
}
}  // namespace

TEST_CASE("PKCS#12 archives from openssl and certtool open in ossl; ossl's open in openssl") {
  const Files& f = files();
  const Pki& p = pki();
  TempDir dir;
  const auto leaf_der = p.server.cert.to_der().value();
  const auto inter_der = p.intermediate.cert().to_der().value();

  struct Case {
    const char* name;
    std::vector<std::string> argv;  // writes dir/<name>.p12 under the passphrase "pw"
    bool legacy;
  };
  const std::string modern = dir.path("openssl.p12"), legacy = dir.path("legacy.p12"),
                    gnutls = dir.path("certtool.p12");
  for (const auto& c :
       {Case{"openssl pkcs12 -export (AES-256, PBKDF2)",
             {"openssl", "pkcs12", "-export", "-in", f.server_leaf, "-inkey", f.server_key,
              "-certfile", f.chain, "-passout", "pass:pw", "-out", modern},
             false},
        Case{"openssl pkcs12 -export -legacy (RC2-40, 3DES)",
             {"openssl", "pkcs12", "-export", "-legacy", "-in", f.server_leaf, "-inkey",
              f.server_key, "-certfile", f.chain, "-passout", "pass:pw", "-out", legacy},
             true},
        Case{"certtool --to-p12",
             {"certtool", "--to-p12", "--outder", "--load-certificate", f.server_bundle,
              "--load-privkey", f.server_key, "--password", "pw", "--p12-name", "server",
              "--outfile", gnutls},
             false}}) {
    CAPTURE(c.name);
    RunResult made = run(c.argv, kRun);
    REQUIRE_MESSAGE(made.status == 0, made.output);
    auto archive = Pkcs12::from_der(read_file(c.argv.back()));
    REQUIRE_MESSAGE(archive.has_value(), archive.error().to_string());
    auto parsed = archive->parse("pw");
    if (c.legacy) {
      REQUIRE_FALSE(parsed.has_value());
      CHECK(parsed.error().to_string().find("legacy provider") != std::string::npos);
      continue;
    }
    REQUIRE_MESSAGE(parsed.has_value(), parsed.error().to_string());
    REQUIRE(parsed->key.has_value());
    REQUIRE(parsed->cert.has_value());
    CHECK(parsed->cert->to_der().value() == leaf_der);
    REQUIRE(parsed->chain.size() == 1);
    CHECK(parsed->chain[0].to_der().value() == inter_der);
    CHECK(parsed->key->public_key().value().to_der().value() ==
          p.server.key.public_key().value().to_der().value());
  }

  // The other way: openssl reads ossl's archive, with the MAC checked.
  const std::string ours = dir.path("ossl.p12");
  auto der = Pkcs12::create("pw", p.server.key, p.server.cert, p.server.chain, "ossl")
                 .value()
                 .to_der()
                 .value();
  std::ofstream(ours, std::ios::binary)
      .write(reinterpret_cast<const char*>(der.data()), static_cast<std::streamsize>(der.size()));
  RunResult info = run({"openssl", "pkcs12", "-in", ours, "-passin", "pass:pw", "-nokeys"}, kRun);
  REQUIRE_MESSAGE(info.status == 0, info.output);
  CHECK(info.output.find(p.server.cert.to_pem().value()) != std::string::npos);
  CHECK(info.output.find(p.intermediate.cert().to_pem().value()) != std::string::npos);
  CHECK(info.output.find("friendlyName: ossl") != std::string::npos);
  RunResult wrong =
      run({"openssl", "pkcs12", "-in", ours, "-passin", "pass:nope", "-nokeys"}, kRun);
  CHECK(wrong.status != 0);
}

// ================================================================ OCSP stapling

namespace {

// OCSP responses about the PKI's server certificate, answered by `openssl ocsp` over an
// `openssl ca` database, written to files: one "good", one "revoked".
struct OcspFiles {
  std::string good, revoked;
  std::unique_ptr<TempDir> dir;
};

const OcspFiles& ocsp_files() {
  static const OcspFiles* f = [] {
    auto* out = new OcspFiles;
    out->dir = std::make_unique<TempDir>();
    auto write = [&](const std::string& name, const std::vector<std::byte>& der) {
      const std::string path = out->dir->path(name);
      std::ofstream(path, std::ios::binary)
          .write(reinterpret_cast<const char*>(der.data()),
                 static_cast<std::streamsize>(der.size()));
      return path;
    };
    OpensslCa valid(pki().intermediate);
    valid.add_valid(pki().server.cert);
    valid.start_responder();
    out->good = write("good.der", valid.fetch(pki().server.cert));
    OpensslCa revoking(pki().intermediate);
    revoking.revoke(pki().server.cert, "keyCompromise");
    revoking.start_responder();
    out->revoked = write("revoked.der", revoking.fetch(pki().server.cert));
    return out;
  }();
  return *f;
}

PeerServer stapling_peer(const std::string& which, TlsVersion v, const std::string& response) {
  const Files& f = files();
  const auto port = free_port();
  if (which == "openssl s_server") {
    return start({"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert",
                  f.server_leaf, "-cert_chain", f.chain, "-key", f.server_key, "-www",
                  "-status_file", response, v == TlsVersion::Tls12 ? "-tls1_2" : "-tls1_3"},
                 port);
  }
  if (which == "gnutls-serv") {
    return start({"gnutls-serv", "--http", "-p", std::to_string(port), "--x509certfile",
                  f.server_bundle, "--x509keyfile", f.server_key, "--ocsp-response", response,
                  "--ignore-ocsp-response-errors", "--priority",
                  v == TlsVersion::Tls12 ? "NORMAL:-VERS-ALL:+VERS-TLS1.2"
                                         : "NORMAL:-VERS-ALL:+VERS-TLS1.3"},
                 port);
  }
  return nginx_with(v, "ssl_stapling on;\n    ssl_stapling_file " + response + ";");
}

}  // namespace

TEST_CASE("OCSP: the example clients check staples from s_server, gnutls-serv and nginx") {
  const OcspFiles& o = ocsp_files();
  for (const char* peer : {"openssl s_server", "gnutls-serv", "nginx"}) {
    for (TlsVersion v : kVersions) {
      CAPTURE(std::string(peer));
      CAPTURE(version_name(v));
      {
        PeerServer server = stapling_peer(peer, v, o.good);
        for (const std::string& client : example_clients()) {
          CAPTURE(client);
          RunResult r =
              example_client(client, server.port, {"--cafile", files().ca, "--ocsp", "required"});
          CHECK_MESSAGE(r.status == 0, r.output);
        }
        // In-process: the staple the client checked is the file's.
        ClientRun run = ossl_connect(server.port, ossl_client(v, pki().root.cert()), "localhost");
        REQUIRE_MESSAGE(run.outcome.ok, run.outcome.describe());
        std::ifstream in(o.good, std::ios::binary);
        const std::string expected((std::istreambuf_iterator<char>(in)),
                                   std::istreambuf_iterator<char>());
        const std::vector<std::byte> got = run.ssl.ocsp_response();
        CHECK(std::string(reinterpret_cast<const char*>(got.data()), got.size()) == expected);
      }
      {
        PeerServer server = stapling_peer(peer, v, o.revoked);
        for (const std::string& client : example_clients()) {
          CAPTURE(client);
          RunResult r = example_client(client, server.port, {"--cafile", files().ca});
          CHECK(r.status == 2);
          CHECK_MESSAGE(r.output.find("is revoked (reason: keyCompromise") != std::string::npos,
                        r.output);
        }
      }
    }
  }
}

TEST_CASE("OCSP: openssl s_client -status and gnutls-cli --ocsp read the example servers' staple") {
  const OcspFiles& o = ocsp_files();
  const Files& f = files();
  for (const std::string& name : example_servers()) {
    for (TlsVersion v : kVersions) {
      CAPTURE(name);
      CAPTURE(version_name(v));
      OsslServer server = example_server(name, {"--ocsp", o.good});
      const RunResult s_client =
          run({"sh", "-c",
               "printf 'GET / HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' | "
               "openssl s_client -connect 127.0.0.1:" +
                   std::to_string(server.port) + " -servername localhost -status -CAfile " + f.ca +
                   (v == TlsVersion::Tls12 ? " -tls1_2" : " -tls1_3")},
              kRun);
      CHECK_MESSAGE(s_client.output.find("OCSP Response Status: successful") != std::string::npos,
                    s_client.output);
      CHECK_MESSAGE(s_client.output.find("Cert Status: good") != std::string::npos,
                    s_client.output);
      const RunResult gnutls =
          run({"sh", "-c",
               "(printf 'GET / HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n'; "
               "sleep 2) | gnutls-cli --ocsp --x509cafile " +
                   f.ca + " -p " + std::to_string(server.port) +
                   " --sni-hostname localhost --verify-hostname localhost --priority " +
                   (v == TlsVersion::Tls12 ? "NORMAL:-VERS-ALL:+VERS-TLS1.2"
                                           : "NORMAL:-VERS-ALL:+VERS-TLS1.3") +
                   " 127.0.0.1"},
              kRun);
      // gnutls-cli --ocsp checks the staple as part of trust, and prints each certificate's
      // RFC 7469 pin: the same as ossl's SpkiPin.
      CHECK_MESSAGE(gnutls.output.find("OCSP status request") != std::string::npos, gnutls.output);
      CHECK_MESSAGE(gnutls.output.find("The certificate is trusted") != std::string::npos,
                    gnutls.output);
      CHECK_MESSAGE(
          gnutls.output.find("pin-sha256=\"" + SpkiPin::of(pki().server.cert).value().to_base64() +
                             "\"") != std::string::npos,
          gnutls.output);
      CHECK_MESSAGE(gnutls.output.find("version="s + version_name(v)) != std::string::npos,
                    gnutls.output);
    }
  }
}

TEST_CASE("the example clients' --pin and --crl refuse what they should, against s_server") {
  const std::string right = SpkiPin::of(pki().intermediate.cert()).value().to_base64();
  const std::string wrong = SpkiPin::of(files().stranger).value().to_base64();
  OpensslCa ca(pki().intermediate);
  ca.revoke(pki().server.cert, "superseded");
  const std::string crl = ca.gencrl();
  OpensslCa clean(pki().intermediate);
  const std::string clean_crl = clean.gencrl();
  PeerServer server = openssl_s_server(TlsVersion::Tls13);
  struct Case {
    const char* name;
    std::vector<std::string> args;
    int status;
    const char* says;
  };
  const Case cases[] = {
      {"pinned intermediate", {"--pin", right}, 0, ""},
      {"wrong pin, then the backup", {"--pin", wrong, "--pin", "sha256//" + right}, 0, ""},
      {"wrong pin", {"--pin", wrong}, 2, "no certificate of the verified chain has a pinned"},
      {"malformed pin", {"--pin", "xyz"}, 1, "\"xyz\" is not a SHA-256 pin"},
      {"CRL revoking the server", {"--crl", crl}, 2, "is revoked (reason: superseded"},
      {"CRL revoking nothing", {"--crl", clean_crl}, 0, ""},
  };
  for (const std::string& client : example_clients()) {
    for (const Case& c : cases) {
      CAPTURE(client);
      CAPTURE(std::string(c.name));
      std::vector<std::string> args = {"--cafile", files().ca};
      args.insert(args.end(), c.args.begin(), c.args.end());
      RunResult r = example_client(client, server.port, args);
      CHECK_MESSAGE(r.status == c.status, r.output);
      CHECK_MESSAGE(r.output.find(c.says) != std::string::npos, r.output);
    }
  }
}

TEST_CASE("the example clients explain what cannot be agreed with s_server, in one line") {
  const Files& f = files();
  struct Case {
    const char* name;
    std::vector<std::string> server_args;
    const char* says;
  };
  const Case cases[] = {
      {"TLS 1.0/1.1 only",
       {"-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"},
       "the server supports only TLS versions older than TLS 1.2 (such as TLS 1.0/1.1); this "
       "client requires TLS 1.2 or later"},
      {"a client certificate required (TLS 1.3)",
       {"-tls1_3", "-Verify", "1", "-CAfile", f.ca},
       "the server requires a client certificate and this client sent none"},
      {"a client certificate required (TLS 1.2)",
       {"-tls1_2", "-Verify", "1", "-CAfile", f.ca},
       "or a client certificate it requires"},
  };
  for (const Case& c : cases) {
    CAPTURE(std::string(c.name));
    const auto port = free_port();
    std::vector<std::string> argv = {
        "openssl", "s_server",    "-accept",     "127.0.0.1:" + std::to_string(port),
        "-cert",   f.server_leaf, "-cert_chain", f.chain,
        "-key",    f.server_key,  "-www"};
    argv.insert(argv.end(), c.server_args.begin(), c.server_args.end());
    PeerServer server = start(argv, port);
    for (const std::string& client : example_clients()) {
      CAPTURE(client);
      RunResult r = example_client(client, server.port, {"--cafile", f.ca});
      CHECK_MESSAGE(r.status == 2, r.output);
      CHECK_MESSAGE(r.output.find(c.says) != std::string::npos, r.output);
      // One line, and OpenSSL's source paths are not in it.
      CHECK_MESSAGE(r.output.find(".c:") == std::string::npos, r.output);
    }
  }
}

// ================================================= the misconfigured-server matrix

namespace {

// A certificate (with its chain, maybe empty) and key written for s_server.
struct Served {
  std::string cert, key, chain;  // chain: "" when the server sends none
};

Served write_served(const TempDir& dir, const std::string& name, const testing::Identity& id) {
  Served s{dir.path(name + ".pem"), dir.path(name + ".key"), ""};
  std::ofstream(s.cert) << id.cert.to_pem().value();
  std::ofstream(s.key) << id.key.to_pem().value();
  if (!id.chain.empty()) {
    s.chain = dir.path(name + "-chain.pem");
    std::ofstream chain(s.chain);
    for (const ossl::X509& c : id.chain)
      chain << c.to_pem().value();
  }
  return s;
}

}  // namespace

TEST_CASE("the misconfigured-server matrix: the example clients refuse each in one line") {
  TempDir dir;
  auto issued = [&](const std::string& name, auto&& adjust) {
    testing::LeafSpec spec;
    spec.dns_names = {"localhost"};
    adjust(spec);
    return write_served(dir, name, pki().intermediate.issue(spec).value());
  };
  using testing::LeafSpec;
  const Served good = write_served(dir, "good", pki().server);
  testing::Identity alone = pki().server;
  alone.chain.clear();
  const Served no_intermediate = write_served(dir, "alone", alone);
  const testing::TestCa stranger = testing::TestCa::create_root("stranger root").value();
  LeafSpec plain;
  plain.dns_names = {"localhost"};
  testing::Identity strange =
      stranger.create_intermediate("stranger ca").value().issue(plain).value();
  strange.chain.push_back(stranger.cert());  // the whole chain, root included
  const Served untrusted = write_served(dir, "untrusted", strange);
  // A self-signed certificate as OpenSSL's own tool makes one.
  const Served self_signed{dir.path("self.pem"), dir.path("self.key"), ""};
  const RunResult req =
      run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
           "-nodes", "-days", "30", "-subj", "/CN=localhost", "-addext",
           "subjectAltName=DNS:localhost", "-keyout", self_signed.key, "-out", self_signed.cert},
          kRun);
  REQUIRE_MESSAGE(req.status == 0, req.output);
  OpensslCa ca(pki().intermediate);
  ca.revoke(pki().server.cert, "keyCompromise");
  const std::string crl = ca.gencrl();
  const std::string weak = "DEFAULT:@SECLEVEL=0";  // lets s_server load what it serves

  struct Case {
    const char* name;
    Served served;
    std::vector<std::string> server_args;  // beyond the certificate, key and chain
    std::vector<std::string> client_args;  // beyond --cafile
    bool pinned_version;                   // server_args choose the version: run once
    int status;
    std::vector<std::string> says;  // each in the client's output
  };
  const std::string leaf = "CN=localhost,O=ossl test";
  const Case cases[] = {
      {"good (the control)", good, {}, {}, false, 0, {"verify  : ok"}},
      {"expired",
       issued("expired", [](LeafSpec& s) { s.validity = testing::Validity::expired(); }),
       {},
       {},
       false,
       2,
       {"the certificate " + leaf + " expired on ", ": certificate has expired"}},
      {"not yet valid",
       issued("early", [](LeafSpec& s) { s.validity = testing::Validity::not_yet_valid(); }),
       {},
       {},
       false,
       2,
       {"the certificate " + leaf + " is valid only from ", ": certificate is not yet valid"}},
      {"wrong host",
       issued("elsewhere", [](LeafSpec& s) { s.dns_names = {"www.example.com"}; }),
       {},
       {},
       false,
       2,
       {"the certificate " + leaf + " is for DNS:www.example.com, not for \"localhost\""}},
      {"self-signed",
       self_signed,
       {},
       {},
       false,
       2,
       {"the server sent only the self-signed certificate CN=localhost, not one this client "
        "trusts: self-signed certificate"}},
      {"untrusted root",
       untrusted,
       {},
       {},
       false,
       2,
       {"the chain ends in the root CN=stranger root,O=ossl test, not one this client trusts"}},
      {"missing intermediate",
       no_intermediate,
       {},
       {},
       false,
       2,
       {"the issuer of " + leaf + " (CN=ossl test intermediate,O=ossl test)",
        "the server may be leaving out an intermediate certificate"}},
      {"revoked (CRL)",
       good,
       {},
       {"--crl", crl},
       false,
       2,
       {"the certificate " + leaf + " is revoked (reason: keyCompromise", "by the CRL of "}},
      {"revoked (OCSP staple)",
       good,
       {"-status_file", ocsp_files().revoked},
       {},
       false,
       2,
       {"is revoked (reason: keyCompromise"}},
      {"SHA-1 signature",
       issued("sha1", [](LeafSpec& s) { s.signature_digest = testing::SignatureDigest::Sha1; }),
       {"-cipher", weak},
       {},
       false,
       2,
       {"the certificate " + leaf +
        " is signed with ecdsa-with-SHA1, too weak for security "
        "level 2"}},
      {"RSA-1024 key",
       issued("rsa1024", [](LeafSpec& s) { s.key_type = testing::KeyType::Rsa1024; }),
       {"-cipher", weak},
       {},
       false,
       2,
       {"the certificate " + leaf +
        " has a 1024-bit RSA key (80 bits of security); security "
        "level 2 requires 112"}},
      {"TLS 1.0/1.1 only",
       good,
       {"-tls1_1", "-cipher", weak},
       {},
       true,
       2,
       {"the server supports only TLS versions older than TLS 1.2 (such as TLS 1.0/1.1); this "
        "client requires TLS 1.2 or later"}},
      {"CA:TRUE leaf",
       issued("ca-leaf",
              [](LeafSpec& s) {
                s.ca = true;
                s.key_usage = "critical,digitalSignature,keyCertSign";
              }),
       {},
       {},
       false,
       2,
       {"is a CA certificate (basicConstraints CA:TRUE) presented as the server's own"}},
      {"clientAuth-only EKU",
       issued("client-only", [](LeafSpec& s) { s.usage = testing::Usage::Client; }),
       {},
       {},
       false,
       2,
       {"the certificate " + leaf + " is not for TLS servers", "extended key usage: clientAuth"}},
  };
  for (const Case& c : cases) {
    for (TlsVersion v : kVersions) {
      if (c.pinned_version && v != kVersions[0]) continue;
      CAPTURE(std::string(c.name));
      CAPTURE(version_name(v));
      const auto port = free_port();
      std::vector<std::string> argv = {
          "openssl", "s_server",    "-accept", "127.0.0.1:" + std::to_string(port),
          "-cert",   c.served.cert, "-key",    c.served.key,
          "-www"};
      if (!c.served.chain.empty()) argv.insert(argv.end(), {"-cert_chain", c.served.chain});
      if (!c.pinned_version) argv.push_back(v == TlsVersion::Tls12 ? "-tls1_2" : "-tls1_3");
      argv.insert(argv.end(), c.server_args.begin(), c.server_args.end());
      PeerServer server = start(argv, port);
      for (const std::string& client : example_clients()) {
        CAPTURE(client);
        std::vector<std::string> args = {"--cafile", files().ca};
        args.insert(args.end(), c.client_args.begin(), c.client_args.end());
        const RunResult r = example_client(client, server.port, args);
        CHECK_MESSAGE(r.status == c.status, r.output);
        for (const std::string& part : c.says) {
          CHECK_MESSAGE(r.output.find(part) != std::string::npos, r.output);
        }
        if (c.status != 0) {
          // One line a person reads: the client's name, then the reason; OpenSSL's
          // records (with their source paths) are not in it.
          CHECK_MESSAGE(r.output.find('\n') == r.output.size() - 1, r.output);
          CHECK_MESSAGE(r.output.starts_with(client + ": "), r.output);
          CHECK_MESSAGE(r.output.find(".c:") == std::string::npos, r.output);
        }
      }
    }
  }
}

// ================================================== sessions across server processes

// One GET through `openssl s_client` to an example server on `port`, pinned to `v`,
// trusting the test CA; `session_args` (e.g. "-sess_out FILE") go on its command line.
RunResult s_client_get(std::uint16_t port, TlsVersion v, const std::string& session_args) {
  return run({"sh", "-c",
              "printf 'GET / HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' | "
              "openssl s_client -connect 127.0.0.1:" +
                  std::to_string(port) + " -ign_eof -servername localhost -CAfile " + files().ca +
                  " " + session_args + (v == TlsVersion::Tls12 ? " -tls1_2" : " -tls1_3")},
             kRun);
}

// The fleet check: a session from `a` resumes on `b` (which shares a's session state)
// and not on `c` (which does not), where the request is still served. `sess` is the
// s_client session file written from a.
void check_resumes_across(const OsslServer& a, const OsslServer& b, const OsslServer& c,
                          TlsVersion v, const std::string& sess) {
  const RunResult first = s_client_get(a.port, v, "-sess_out " + sess);
  CHECK_MESSAGE(first.output.find("resumed=no") != std::string::npos, first.output);
  const RunResult resumed = s_client_get(b.port, v, "-sess_in " + sess);
  CHECK_MESSAGE(resumed.output.find("Reused, " + version_name(v)) != std::string::npos,
                resumed.output);
  CHECK_MESSAGE(resumed.output.find("resumed=yes") != std::string::npos, resumed.output);
  const RunResult full = s_client_get(c.port, v, "-sess_in " + sess);
  CHECK_MESSAGE(full.output.find("New, " + version_name(v)) != std::string::npos, full.output);
  CHECK_MESSAGE(full.output.find("resumed=no") != std::string::npos, full.output);
}

// ===================================================================== early data

TEST_CASE("openssl s_client's early data: tls_server takes it once per ticket, 425 for a POST") {
  TempDir dir;
  const std::string get = dir.path("get.txt"), post = dir.path("post.txt");
  std::ofstream(get) << kGet;
  std::ofstream(post) << "POST / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  OsslServer server = tls_server({"--early-data", "16384"});
  CHECK_MESSAGE(
      server.process->output().find("; early data up to 16384 bytes") != std::string::npos,
      server.process->output());
  auto s_client = [&](const std::string& args) {
    return run({"sh", "-c",
                "openssl s_client -connect 127.0.0.1:" + std::to_string(server.port) +
                    " -servername localhost -CAfile " + files().ca + " -tls1_3 -ign_eof " + args},
               kRun);
  };
  const std::string sess = dir.path("sess.pem"), sess2 = dir.path("sess2.pem");
  const RunResult first = s_client("-sess_out " + sess + " < " + get);
  CHECK_MESSAGE(first.output.find("resumed=no") != std::string::npos, first.output);
  CHECK_MESSAGE(first.output.find("Max Early Data: 16384") != std::string::npos, first.output);
  // The whole request as early data: answered, and the answer says so.
  const RunResult early = s_client("-sess_in " + sess + " -early_data " + get + " < /dev/null");
  CHECK_MESSAGE(early.output.find("Early data was accepted") != std::string::npos, early.output);
  CHECK_MESSAGE(
      early.output.find("resumed=yes early=" + std::to_string(kGet.size())) != std::string::npos,
      early.output);
  // The same ticket again (a replay of the session): a full handshake, early data refused.
  const RunResult again = s_client("-sess_in " + sess + " -early_data " + get + " < /dev/null");
  CHECK_MESSAGE(again.output.find("Early data was rejected") != std::string::npos, again.output);
  CHECK_MESSAGE(again.output.find("New, TLSv1.3") != std::string::npos, again.output);
  // A POST as early data is not safe to repeat: 425 Too Early (RFC 8470).
  REQUIRE(s_client("-sess_out " + sess2 + " < " + get).status == 0);
  const RunResult posted = s_client("-sess_in " + sess2 + " -early_data " + post + " < /dev/null");
  CHECK_MESSAGE(posted.output.find("Early data was accepted") != std::string::npos, posted.output);
  CHECK_MESSAGE(posted.output.find("HTTP/1.1 425 Too Early") != std::string::npos, posted.output);
}

TEST_CASE("the ossl client's early data reaches openssl s_server -early_data once per ticket") {
  const Files& f = files();
  const auto port = free_port();
  // s_server prints what it receives, early data included; its stdin stays open.
  PeerServer peer =
      start({"sh", "-c",
             "sleep 300 | exec openssl s_server -accept 127.0.0.1:" + std::to_string(port) +
                 " -cert " + f.server_leaf + " -cert_chain " + f.chain + " -key " + f.server_key +
                 " -early_data -quiet -tls1_3"},
            port);
  const SslCtx client = ossl_client(TlsVersion::Tls13, pki().root.cert());
  // A full handshake for the ticket: read until the tickets are in (s_server echoes
  // nothing, so the read ends in a timeout).
  ClientRun first = ossl_connect(port, client, "localhost");
  REQUIRE_MESSAGE(first.outcome.ok, first.outcome.describe());
  REQUIRE(io::write_all(first.ssl, "full\n", 5s).has_value());
  char buf[64];
  (void)io::read_some(first.ssl, std::span<char>(buf), 500ms);
  const SslSession session = first.ssl.get1_session().value();
  REQUIRE(session.is_resumable());
  CHECK(session.max_early_data() == 16384);  // s_server's -early_data limit
  (void)io::shutdown(first.ssl, 1s);

  auto resume = [&](const std::string& early, const std::string& after) {
    auto fd = io::connect("127.0.0.1", port, 5s);
    REQUIRE_MESSAGE(fd.has_value(), fd.error().to_string());
    Ssl ssl = client.new_ssl_for_host("localhost").value();
    REQUIRE(ssl.set_fd(fd->get()).has_value());
    REQUIRE(ssl.set_session(session).has_value());
    auto sent = io::retry(ssl, 5s, [&] { return ssl.write_early_data(early); });
    REQUIRE_MESSAGE(sent.has_value(), sent.error().to_string());
    auto hs = io::handshake(ssl, 10s);
    REQUIRE_MESSAGE(hs.has_value(), hs.error().to_string());
    const EarlyDataStatus status = ssl.early_data_status();
    REQUIRE(io::write_all(ssl, after, 5s).has_value());
    CHECK_MESSAGE(peer.process->wait_for_output(after, kStart), peer.process->output());
    (void)io::shutdown(ssl, 1s);
    return std::make_pair(status, ssl.session_reused());
  };
  const auto accepted = resume("early-one\n", "after-one\n");
  CHECK(accepted.first == EarlyDataStatus::Accepted);
  CHECK(accepted.second);
  CHECK(peer.process->output().find("early-one") != std::string::npos);
  // s_server's anti-replay: the ticket was used; a full handshake, the early data unseen.
  const auto rejected = resume("early-two\n", "after-two\n");
  CHECK(rejected.first == EarlyDataStatus::Rejected);
  CHECK_FALSE(rejected.second);
  CHECK(peer.process->output().find("early-two") == std::string::npos);
}

#if defined(OSSL_HAVE_HIREDIS)
TEST_CASE("example servers sharing a Redis session store resume each other's sessions (s_client)") {
  TempDir dir;
  auto redis = std::make_unique<RedisServer>();
  const std::uint16_t redis_port = redis->port();
  // One server of each kind there is, on the same Redis; a third on a Redis of its own.
  RedisServer other_redis;
  const std::string second = example_servers().back();
  OsslServer a = example_server("tls_server", {"--session-store", redis->url()});
  OsslServer b = example_server(second, {"--session-store", redis->url()});
  OsslServer c = example_server("tls_server", {"--session-store", other_redis.url()});
  CHECK_MESSAGE(
      a.process->output().find("sessions shared through Redis at 127.0.0.1:" +
                               std::to_string(redis_port) + " (answering)") != std::string::npos,
      a.process->output());
  for (TlsVersion v : kVersions) {
    CAPTURE(version_name(v));
    const std::string sess = dir.path("sess-" + version_name(v) + ".pem");
    check_resumes_across(a, b, c, v, sess);  // c: another Redis
    // TLS 1.2: the session ID resumes again, on a; the TLS 1.3 ticket was used up on b.
    const RunResult again = s_client_get(a.port, v, "-sess_in " + sess);
    const std::string expected = v == TlsVersion::Tls12 ? "resumed=yes" : "resumed=no";
    CHECK_MESSAGE(again.output.find(expected) != std::string::npos, again.output);
  }
  // Redis stops: the servers keep serving, in full handshakes, and say why.
  const std::string sess = dir.path("sess-down.pem");
  REQUIRE(s_client_get(a.port, TlsVersion::Tls12, "-sess_out " + sess).output.find("resumed=no") !=
          std::string::npos);
  redis->stop();
  const RunResult down = s_client_get(b.port, TlsVersion::Tls12, "-sess_in " + sess);
  CHECK_MESSAGE(down.output.find("New, TLSv1.2") != std::string::npos, down.output);
  CHECK_MESSAGE(down.output.find("resumed=no") != std::string::npos, down.output);
  CHECK(b.process->wait_for_output("Redis at 127.0.0.1:" + std::to_string(redis_port) + " is down",
                                   kStart));
  CHECK_MESSAGE(b.process->output().find("the client gets a full handshake") != std::string::npos,
                b.process->output());
}
#endif

TEST_CASE("example servers sharing a ticket key file resume each other's sessions (s_client)") {
  TempDir dir;
  const std::string shared = dir.path("shared.key");
  const std::string other = dir.path("other.key");
  REQUIRE(TicketKey::generate().value().write_file(shared).has_value());
  REQUIRE(TicketKey::generate().value().write_file(other).has_value());
  // Two servers of each kind there is, on the shared key; a third on its own key.
  const std::string second = example_servers().back();
  OsslServer a = example_server("tls_server", {"--ticket-keys", shared});
  OsslServer b = example_server(second, {"--ticket-keys", shared});
  OsslServer c = example_server("tls_server", {"--ticket-keys", other});
  CHECK_MESSAGE(
      a.process->output().find("; 1 ticket key(s), new tickets under ") != std::string::npos,
      a.process->output());
  for (TlsVersion v : kVersions) {
    CAPTURE(version_name(v));
    const std::string sess = dir.path("sess-" + version_name(v) + ".pem");
    check_resumes_across(a, b, c, v, sess);  // c: another key
  }
}
