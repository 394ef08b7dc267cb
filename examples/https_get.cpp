// https_get: downloads a URL over HTTPS with ossl and prints the body.
//
//   https_get URL [--cafile FILE] [--alpn h2,http/1.1] [--tls1.2|--tls1.3] [--resume]
//             [--pin SHA256-BASE64]... [--crl FILE]... [--ocsp off|if-stapled|required]
//             [--session-file FILE]
//
// Verifies the server (chain and hostname), sends SNI, offers ALPN, sends an HTTP/1.1
// GET, prints the response body to stdout and a summary to stderr. --resume connects a
// second time with the first session and reports whether it was resumed. --pin requires
// a pinned public key in the verified chain (repeat for backups), --crl checks the
// server certificate against CRL files, --ocsp sets what to do with a stapled OCSP
// response (default: if-stapled; see docs/verification.md). --session-file keeps sessions
// across runs: it loads what the last run saved, resumes with it, and saves the sessions
// this run got (docs/sessions.md, "Persisting sessions").
// Exit status: 0 success, 1 usage, 2 TLS or verification failure, 3 connection
// failure, 4 HTTP failure. Failures print one line saying what failed.
#include "client_common.hpp"

#include <ossl/ossl.hpp>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

const char* const client_common::g_program = "https_get";

namespace {

using namespace std::chrono_literals;
using namespace client_common;
constexpr ossl::io::Timeout kTimeout = 15s;

// One connection: handshake, GET, read to the end. Returns the session for --resume.
std::optional<ossl::SslSession> fetch(const Options& o, const ossl::SslCtx& ctx,
                                      const std::optional<ossl::SslSession>& resume,
                                      bool print_body) {
  // Every address of the host in turn; non-blocking, as the io:: helpers' timeouts need.
  auto fd = ossl::io::connect(o.host, o.port, kTimeout);
  if (!fd) fail(3, fd.error().to_string());

  // SNI (DNS names only) + hostname check; with --session-file, the cached session for
  // this host and port.
  auto made = ctx.new_ssl_for_host(o.host, o.port);
  if (!made) fail(2, made.error().to_string());
  ossl::Ssl ssl = std::move(*made);
  if (auto r = ssl.set_fd(fd->get()); !r) fail(3, r.error().to_string());
  if (resume) {
    if (auto r = ssl.set_session(*resume); !r) fail(2, r.error().to_string());
  }
  if (auto r = ossl::io::handshake(ssl, kTimeout); !r) {
    fail(r.error() == ossl::SslIoError::Kind::Syscall ? 3 : 2,
         "TLS handshake with " + o.host + " failed: " +
             (r.error() == ossl::SslIoError::Kind::Syscall
                  ? r.error().to_string()
                  : describe_failure(ssl, r.error().stack())));
  }
  require_http11(ssl);
  if (auto r = ossl::io::write_all(ssl, request(o), kTimeout); !r) fail(3, r.error().to_string());

  std::string raw;
  auto n = ossl::io::read_to_end(ssl, raw, kTimeout);
  bool complete = false;
  auto response = parse_http(raw, complete);
  if (!n) {
    // Many servers close without close_notify after a complete response; accept that
    // only when the HTTP framing says the body is whole.
    if (!(n.error().truncated() && response && complete)) {
      if (n.error().truncated()) fail(4, "the response was truncated (no close_notify)");
      // A TLS failure after the handshake (in TLS 1.3 a server refuses a client
      // certificate only then, with an alert) is a TLS failure, not a connection one.
      if (n.error() == ossl::SslIoError::Kind::Ssl) {
        fail(2, "TLS failure with " + o.host + ": " + describe_failure(ssl, n.error().stack()));
      }
      fail(3, n.error().to_string());
    }
  }
  if (!response) fail(4, "not an HTTP response");
  if (print_body) std::fwrite(response->body.data(), 1, response->body.size(), stdout);

  print_summary(o, *response, ssl);
  auto session = ssl.get1_session();
  (void)ossl::io::shutdown(ssl, 1s);  // a clean close keeps the session resumable
  return session;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  const ossl::SslCtx ctx = make_context(o);
  load_sessions(o, ctx);
  auto session = fetch(o, ctx, std::nullopt, true);
  if (o.resume) {
    if (!session || !session->is_resumable()) fail(2, "no resumable session to offer");
    fetch(o, ctx, session, false);
  }
  save_sessions(o, ctx);
  return 0;
}
