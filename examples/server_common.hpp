// Shared by the example servers (tls_server, async_server): their command line, their
// certificate (from files, or a generated CA whose path they print as "CA certificate:
// PATH"), their context, and what they answer. Each defines g_program (its name, for
// messages) before including this file. Loading the files throws LoadError, so that a
// reload can keep the running context when a file is bad; at startup it is fatal.
#pragma once

#include <ossl/ossl.hpp>
#include <ossl/testing/certs.hpp>
#if defined(OSSL_EXAMPLES_HAVE_HIREDIS)
#include <ossl/redis_session_store.hpp>
#endif

#include <stdlib.h>  // mkdtemp

#include <cstdio>
#include <cstdlib>
#include <chrono>
#include <ctime>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace server_common {

extern const char* const g_program;

[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", g_program, what.c_str());
  std::exit(1);
}

[[noreturn]] inline void usage(const std::string& why) {
  fail(why + "\nusage: " + g_program +
       " [--cert FILE --key FILE] [--chain FILE] [--port N] "
       "[--host ADDR] [--alpn LIST] [--client-ca FILE] [--tls1.2|--tls1.3] "
       "[--sni NAME=CERT,KEY]... [--ocsp FILE]... [--ticket-keys FILE]... "
       "[--session-store redis://HOST:PORT] [--early-data BYTES] [--timeout SECONDS] "
       "[--max-connections N]");
}

// A file that does not load: fatal at startup, reported (the old context kept) on reload.
struct LoadError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct SniOption {
  std::string name, cert, key;
};

struct Options {
  std::string cert, key, chain, client_ca, host = "127.0.0.1", alpn = "http/1.1";
  std::vector<SniOption> sni;
  std::vector<std::string> ocsp;  // DER OCSP responses to staple (each finds its certificate)
  std::vector<std::string> ticket_keys;  // shared ticket key files, the encrypting one first
  std::string session_store;             // redis://HOST:PORT: sessions shared through Redis
  long port = 8443;
  long timeout_s = 10;
  long max_connections = 0;  // 0: the server's own default
  long early_data = 0;       // TLS 1.3 early data taken per connection (0: none)
  std::optional<ossl::TlsVersion> version;
};

inline long number(const std::string& v, long lo, long hi, const char* what) {
  char* end = nullptr;
  const long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || n < lo || n > hi) {
    usage(std::string("bad ") + what + " " + v + " (" + std::to_string(lo) + " to " +
          std::to_string(hi) + ")");
  }
  return n;
}

inline Options parse(int argc, char** argv) {
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
    } else if (a == "--ocsp") {
      o.ocsp.push_back(value());
    } else if (a == "--ticket-keys") {
      o.ticket_keys.push_back(value());
    } else if (a == "--session-store") {
      o.session_store = value();
    } else if (a == "--tls1.2")
      o.version = ossl::TlsVersion::Tls12;
    else if (a == "--tls1.3")
      o.version = ossl::TlsVersion::Tls13;
    else if (a == "--port") {
      o.port = number(value(), 0, 65535, "port");
    } else if (a == "--timeout") {
      o.timeout_s = number(value(), 1, 3600, "timeout");
    } else if (a == "--early-data") {
      o.early_data = number(value(), 1, 1 << 20, "early-data");
    } else if (a == "--max-connections") {
      o.max_connections = number(value(), 1, 100000, "max-connections");
    } else {
      usage("unknown argument " + a);
    }
  }
  if (o.cert.empty() != o.key.empty()) usage("--cert and --key go together");
  if (!o.session_store.empty() && !o.ticket_keys.empty()) {
    usage("--session-store and --ticket-keys do not go together (a server resumes through one)");
  }
  return o;
}

// The certificate and key: from the files of --cert/--key/--chain, read again on each
// reload; without --cert, `generated` (made once at startup).
inline ossl::testing::Identity load_identity(
    const Options& o, const std::optional<ossl::testing::Identity>& generated) {
  if (o.cert.empty()) {
    if (!generated) throw LoadError("no certificate: give --cert and --key");
    return *generated;
  }
  {
    auto certs = ossl::X509::stack_from_pem_file(o.cert);
    if (!certs) throw LoadError("--cert " + o.cert + ": " + certs.error().to_string());
    auto key = ossl::Pkey<ossl::Private>::from_pem_file(o.key);
    if (!key) throw LoadError("--key " + o.key + ": " + key.error().to_string());
    ossl::testing::Identity id{(*certs)[0], std::move(*key), {}};
    id.chain.assign(certs->begin() + 1, certs->end());  // a PEM file may carry the chain too
    if (!o.chain.empty()) {
      auto chain = ossl::X509::stack_from_pem_file(o.chain);
      if (!chain) throw LoadError("--chain " + o.chain + ": " + chain.error().to_string());
      id.chain.insert(id.chain.end(), chain->begin(), chain->end());
    }
    return id;
  }
}

// Without --cert: a generated CA and a certificate for localhost/127.0.0.1/::1 under it;
// the CA's path is printed as "CA certificate: PATH".
inline std::optional<ossl::testing::Identity> generate_identity(const Options& o) {
  if (!o.cert.empty()) return std::nullopt;
  auto root = ossl::testing::TestCa::create_root(std::string(g_program) + " test CA");
  if (!root) fail(root.error().to_string());
  ossl::testing::LeafSpec spec;
  spec.dns_names = {"localhost"};
  spec.ip_addresses = {"127.0.0.1", "::1"};
  auto id = root->issue(spec);
  if (!id) fail(id.error().to_string());
  std::string dir_template = "/tmp/ossl-" + std::string(g_program) + "-XXXXXX";
  char* dir = dir_template.data();
  if (::mkdtemp(dir) == nullptr) fail("cannot create a temporary directory");
  const std::string ca_path = std::string(dir) + "/ca.pem";
  std::ofstream(ca_path) << root->cert().to_pem().value();
  std::printf("CA certificate: %s\n", ca_path.c_str());
  return std::move(*id);
}

// The session store's error callback: one line per failure on stderr, except that a
// reason repeated within 10 s is counted instead of printed again (a Redis that is down
// fails every handshake's lookup). The handshakes go on, in full.
inline ossl::SessionStoreErrorCallback store_error_printer() {
  struct Last {
    std::mutex mutex;
    std::string reason;
    std::chrono::steady_clock::time_point at;
    unsigned repeated = 0;
  };
  auto last = std::make_shared<Last>();
  return [last](const ossl::ErrorStack& e) {
    std::string reason = e.to_string();
    // "next attempt in N ms" changes with every call; the rest is the reason.
    const std::string key = reason.substr(0, reason.find("; next attempt in "));
    const std::lock_guard lock(last->mutex);
    const auto now = std::chrono::steady_clock::now();
    if (key == last->reason && now - last->at < std::chrono::seconds(10)) {
      ++last->repeated;
      return;
    }
    std::fprintf(stderr, "%s: %s; the client gets a full handshake", g_program, reason.c_str());
    if (last->repeated != 0)
      std::fprintf(stderr, " (%u more failures before this)", last->repeated);
    std::fprintf(stderr, "\n");
    last->reason = key;
    last->at = now;
    last->repeated = 0;
  };
}

// --session-store: the store named by its URL, checked once (a Redis not answering yet
// is not fatal: the server starts and makes full handshakes until it answers).
inline std::shared_ptr<ossl::SessionStore> open_session_store(const std::string& url) {
#if defined(OSSL_EXAMPLES_HAVE_HIREDIS)
  auto options = ossl::RedisSessionStoreOptions::from_url(url);
  if (!options) usage("--session-store: " + options.error().to_string());
  auto store = std::make_shared<ossl::RedisSessionStore>(*options);
  if (auto up = store->ping(); up) {
    std::fprintf(stderr, "%s: sessions shared through Redis at %s (answering)\n", g_program,
                 store->address().c_str());
  } else {
    std::fprintf(stderr,
                 "%s: sessions shared through Redis at %s, not answering yet (%s); full "
                 "handshakes until it does\n",
                 g_program, store->address().c_str(), up.error().to_string().c_str());
  }
  return store;
#else
  fail("--session-store " + url +
       ": this build has no Redis support (build with hiredis: "
       "meson setup -Dhiredis=enabled)");
#endif
}

// The server's context from the options' files, with `store` (null: none) for
// --session-store, opened once for every context the server makes.
inline ossl::SslCtx make_context(const Options& o, const ossl::testing::Identity& id,
                                 std::shared_ptr<ossl::SessionStore> store) {
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
    auto certs = ossl::X509::stack_from_pem_file(s.cert);
    if (!certs) throw LoadError("--sni " + s.cert + ": " + certs.error().to_string());
    auto key = ossl::Pkey<ossl::Private>::from_pem_file(s.key);
    if (!key) throw LoadError("--sni " + s.key + ": " + key.error().to_string());
    const std::vector<ossl::X509> chain(certs->begin() + 1, certs->end());
    b.sni_certificate(s.name, (*certs)[0], *key, chain);
  }
  for (const std::string& file : o.ocsp)
    b.ocsp_response_file(file);
  if (!o.ticket_keys.empty()) b.ticket_key_files(o.ticket_keys);
  if (store) b.session_store(std::move(store), store_error_printer());
  if (o.early_data > 0) b.early_data(static_cast<std::uint32_t>(o.early_data));
  auto ctx = std::move(b).build();
  if (!ctx) throw LoadError(ctx.error().to_string());
  return std::move(*ctx);
}

// What a context was made of, for the operator: "certificate CN=localhost serial 1F..
// until 2026-12-24; SNI api.example (CN=api.example); 1 OCSP staple; 2 ticket keys, new
// tickets under 0A1B..". Key names are not secret.
inline std::string describe_loaded(const Options& o, const ossl::testing::Identity& id) {
  auto until = [](const ossl::X509& cert) {
    auto t = cert.not_after();
    if (!t) return std::string("?");
    const std::time_t tt = ossl::X509::Clock::to_time_t(*t);
    std::tm tm{};
    ::gmtime_r(&tt, &tm);
    char out[32];
    std::strftime(out, sizeof out, "%Y-%m-%d %H:%M:%SZ", &tm);
    return std::string(out);
  };
  std::string d = "certificate " + id.cert.subject_name().value_or("?") + " serial " +
                  id.cert.serial_hex().value_or("?") + " until " + until(id.cert);
  for (const SniOption& s : o.sni)
    d += "; SNI " + s.name + " (" + s.cert + ")";
  if (!o.ocsp.empty()) d += "; " + std::to_string(o.ocsp.size()) + " OCSP staple(s)";
  if (!o.client_ca.empty()) d += "; client CAs from " + o.client_ca;
  if (o.early_data > 0) d += "; early data up to " + std::to_string(o.early_data) + " bytes";
  if (!o.ticket_keys.empty()) {
    auto first = ossl::TicketKey::load_file(o.ticket_keys.front());
    d += "; " + std::to_string(o.ticket_keys.size()) + " ticket key(s), new tickets under " +
         (first ? first->name_hex() : std::string("?")) + " (" + o.ticket_keys.front() + ")";
  }
  return d;
}

// Everything the server serves with: read from the options' files (throws LoadError).
struct Served {
  std::optional<ossl::testing::Identity> generated;  // without --cert, made at startup
  std::shared_ptr<ossl::SessionStore> store;         // --session-store, opened at startup
};

inline ossl::SslCtx load_context(const Options& o, const Served& served, std::string& what) {
  const ossl::testing::Identity id = load_identity(o, served.generated);
  ossl::SslCtx ctx = make_context(o, id, served.store);
  what = describe_loaded(o, id);
  return ctx;
}

// The context at startup: a file that does not load is fatal here.
inline ossl::SslCtx startup_context(const Options& o, Served& served) {
  served.generated = generate_identity(o);
  if (!o.session_store.empty()) served.store = open_session_store(o.session_store);
  try {
    std::string what;
    ossl::SslCtx ctx = load_context(o, served, what);
    std::fprintf(stderr, "%s: serving %s\n", g_program, what.c_str());
    return ctx;
  } catch (const LoadError& e) {
    fail(e.what());
  }
}

// SIGHUP: reads the files again and replaces the context new connections come from;
// connections in flight keep theirs. A file that does not load leaves the running
// context in place and says why. Prints what it loaded either way.
inline void reload(const Options& o, const Served& served, ossl::ReloadableCtx& ctx) {
  try {
    std::string what;
    ossl::SslCtx next = load_context(o, served, what);
    auto generation = ctx.replace(std::move(next));
    if (!generation) throw LoadError(generation.error().to_string());
    std::fprintf(stderr, "%s: reloaded (generation %llu): serving %s\n", g_program,
                 static_cast<unsigned long long>(*generation), what.c_str());
  } catch (const LoadError& e) {
    std::fprintf(stderr, "%s: reload failed, still serving generation %llu: %s\n", g_program,
                 static_cast<unsigned long long>(ctx.generation()), e.what());
  }
}

// Where the request head ends: after an empty line, whose line ends may be CRLF or a bare
// LF (RFC 9112 section 2.2 lets a server accept LF alone). npos while incomplete.
inline std::size_t head_end(const std::string& request) {
  for (std::size_t at = request.find('\n'); at != std::string::npos;
       at = request.find('\n', at + 1)) {
    std::size_t next = at + 1;
    if (next < request.size() && request[next] == '\r') ++next;
    if (next < request.size() && request[next] == '\n') return next + 1;
  }
  return std::string::npos;
}

// The one-line body both servers answer with: what was negotiated, and (tls_server)
// how many bytes of the request came as TLS 1.3 early data.
inline std::string describe(const ossl::Ssl& ssl, std::size_t early_bytes = 0) {
  auto peer = ssl.peer_certificate();
  const std::string alpn = ssl.alpn_selected().empty() ? "none" : std::string(ssl.alpn_selected());
  return "version=" + ossl::to_string(ssl.version()) + " cipher=" + std::string(ssl.cipher_name()) +
         " alpn=" + alpn + " client=" + (peer ? peer->subject_name().value_or("?") : "none") +
         " sni=" + std::string(ssl.hostname().value_or("none")) +
         " resumed=" + (ssl.session_reused() ? "yes" : "no") +
         (early_bytes > 0 ? " early=" + std::to_string(early_bytes) : std::string()) + "\n";
}

}  // namespace server_common
