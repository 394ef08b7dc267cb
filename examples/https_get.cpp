// https_get: downloads a URL over HTTPS with ossl and prints the body.
//
//   https_get URL [--cafile FILE] [--alpn h2,http/1.1] [--tls1.2|--tls1.3] [--resume]
//
// Verifies the server (chain and hostname), sends SNI, offers ALPN, sends an HTTP/1.1
// GET, prints the response body to stdout and a summary to stderr. --resume connects a
// second time with the first session and reports whether it was resumed.
// Exit status: 0 success, 1 usage, 2 TLS or verification failure, 3 connection
// failure, 4 HTTP failure. Failures print one line saying what failed.
#include "net.hpp"

#include <ossl/ossl.hpp>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
constexpr ossl::io::Timeout kTimeout = 15s;

struct Options {
  std::string host;  // without brackets
  std::uint16_t port = 443;
  std::string path = "/";
  std::string cafile;
  std::vector<std::string> alpn;
  std::optional<ossl::TlsVersion> version;
  bool resume = false;
};

[[noreturn]] void fail(int code, const std::string& what) {
  std::fprintf(stderr, "https_get: %s\n", what.c_str());
  std::exit(code);
}

[[noreturn]] void usage(const std::string& why) {
  fail(1, why +
              "\nusage: https_get URL [--cafile FILE] [--alpn h2,http/1.1] "
              "[--tls1.2|--tls1.3] [--resume]");
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const auto at = s.find(sep, start);
    out.push_back(s.substr(start, at - start));
    if (at == std::string::npos) return out;
    start = at + 1;
  }
}

Options parse(int argc, char** argv) {
  Options o;
  std::string url;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--cafile") {
      o.cafile = value();
    } else if (a == "--alpn") {
      o.alpn = split(value(), ',');
    } else if (a == "--tls1.2") {
      o.version = ossl::TlsVersion::Tls12;
    } else if (a == "--tls1.3") {
      o.version = ossl::TlsVersion::Tls13;
    } else if (a == "--resume") {
      o.resume = true;
    } else if (a.starts_with("--")) {
      usage("unknown option " + a);
    } else if (url.empty()) {
      url = a;
    } else {
      usage("more than one URL");
    }
  }
  if (url.empty()) usage("no URL");
  if (!url.starts_with("https://")) usage("only https:// URLs are supported: " + url);
  std::string rest = url.substr(8);
  const auto slash = rest.find('/');
  if (slash != std::string::npos) {
    o.path = rest.substr(slash);
    rest.resize(slash);
  }
  std::string port;
  if (rest.starts_with("[")) {  // [IPv6]:port
    const auto close = rest.find(']');
    if (close == std::string::npos) usage("bad IPv6 address in " + url);
    o.host = rest.substr(1, close - 1);
    if (close + 1 < rest.size() && rest[close + 1] == ':') port = rest.substr(close + 2);
  } else {
    const auto colon = rest.find(':');
    o.host = rest.substr(0, colon);
    if (colon != std::string::npos) port = rest.substr(colon + 1);
  }
  if (o.host.empty()) usage("no host in " + url);
  if (!port.empty()) {
    char* end = nullptr;
    const long p = std::strtol(port.c_str(), &end, 10);
    if (*end != '\0' || p <= 0 || p > 65535) usage("bad port in " + url);
    o.port = static_cast<std::uint16_t>(p);
  }
  return o;
}

ossl::SslCtx make_context(const Options& o) {
  auto b = ossl::SslCtxBuilder<ossl::Client>::create();
  if (!o.cafile.empty()) b.ca_bundle_file(o.cafile);  // else: the system trust store
  if (!o.alpn.empty()) {
    std::vector<std::string_view> names(o.alpn.begin(), o.alpn.end());
    b.alpn_protos_list(names);
  }
  if (o.version) b.min_proto_version(*o.version).max_proto_version(*o.version);
  auto ctx = std::move(b).build();
  if (!ctx) fail(1, "bad TLS settings: " + ctx.error().to_string());
  return std::move(*ctx);
}

struct Response {
  std::string status;
  std::string body;
};

// Splits an HTTP/1.1 response; decodes a chunked body.
std::optional<Response> parse_http(const std::string& raw, bool& complete) {
  const auto end = raw.find("\r\n\r\n");
  if (end == std::string::npos) return std::nullopt;
  Response r;
  const std::string head = raw.substr(0, end);
  r.status = head.substr(0, head.find("\r\n"));
  std::string lower = head;
  for (char& c : lower)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const std::string body = raw.substr(end + 4);
  if (lower.find("\r\ntransfer-encoding: chunked") != std::string::npos) {
    std::size_t at = 0;
    complete = false;
    while (at < body.size()) {
      const auto eol = body.find("\r\n", at);
      if (eol == std::string::npos) break;
      const std::size_t len = std::strtoul(body.substr(at, eol - at).c_str(), nullptr, 16);
      if (len == 0) {
        complete = true;
        break;
      }
      if (eol + 2 + len > body.size()) break;
      r.body += body.substr(eol + 2, len);
      at = eol + 2 + len + 2;
    }
    return r;
  }
  r.body = body;
  const auto cl = lower.find("\r\ncontent-length:");
  complete = cl == std::string::npos ||
             std::strtoul(lower.c_str() + cl + 17, nullptr, 10) == r.body.size();
  return r;
}

std::string describe_failure(const ossl::Ssl& ssl, const ossl::SslIoError& e) {
  if (!ssl.verify_result().ok()) {
    return "certificate verification failed: " + std::string(ssl.verify_result().message());
  }
  return e.to_string();
}

// One connection: handshake, GET, read to the end. Returns the session for --resume.
std::optional<ossl::SslSession> fetch(const Options& o, const ossl::SslCtx& ctx,
                                      const std::optional<ossl::SslSession>& resume,
                                      bool print_body) {
  std::string error;
  net::Fd fd = net::connect_to(o.host, o.port, kTimeout, error);
  if (!fd) fail(3, error);
  if (auto r = ossl::io::set_nonblocking(fd.get()); !r) fail(3, r.error().to_string());

  auto made = ctx.new_ssl_for_host(o.host);  // SNI (DNS names only) + hostname check
  if (!made) fail(2, made.error().to_string());
  ossl::Ssl ssl = std::move(*made);
  if (auto r = ssl.set_fd(fd.get()); !r) fail(3, r.error().to_string());
  if (resume) {
    if (auto r = ssl.set_session(*resume); !r) fail(2, r.error().to_string());
  }
  if (auto r = ossl::io::handshake(ssl, kTimeout); !r) {
    fail(r.error() == ossl::SslIoError::Kind::Syscall ? 3 : 2,
         "TLS handshake with " + o.host + " failed: " + describe_failure(ssl, r.error()));
  }
  const std::string_view alpn = ssl.alpn_selected();
  if (!alpn.empty() && alpn != "http/1.1") {
    fail(4, "the server selected ALPN \"" + std::string(alpn) +
                "\"; https_get speaks HTTP/1.1 only (offer http/1.1)");
  }

  std::string host_header = o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host;
  if (o.port != 443) host_header += ":" + std::to_string(o.port);
  const std::string request = "GET " + o.path + " HTTP/1.1\r\nHost: " + host_header +
                              "\r\nUser-Agent: ossl-https_get\r\nAccept: */*\r\n"
                              "Connection: close\r\n\r\n";
  if (auto r = ossl::io::write_all(ssl, request, kTimeout); !r) fail(3, r.error().to_string());

  std::string raw;
  auto n = ossl::io::read_to_end(ssl, raw, kTimeout);
  bool complete = false;
  auto response = parse_http(raw, complete);
  if (!n) {
    // Many servers close without close_notify after a complete response; accept that
    // only when the HTTP framing says the body is whole.
    if (!(n.error().truncated() && response && complete)) {
      fail(n.error().truncated() ? 4 : 3, n.error().truncated()
                                              ? "the response was truncated (no close_notify)"
                                              : n.error().to_string());
    }
  }
  if (!response) fail(4, "not an HTTP response");
  if (print_body) std::fwrite(response->body.data(), 1, response->body.size(), stdout);

  auto peer = ssl.peer_certificate();
  std::fprintf(stderr,
               "https_get: %s:%u\n  status  : %s\n  version : %s\n  cipher  : %.*s\n"
               "  group   : %.*s\n  alpn    : %s\n  peer    : %s\n  verify  : %.*s\n"
               "  resumed : %s\n",
               o.host.c_str(), o.port, response->status.c_str(),
               ossl::to_string(ssl.version()).c_str(), static_cast<int>(ssl.cipher_name().size()),
               ssl.cipher_name().data(), static_cast<int>(ssl.group_name().size()),
               ssl.group_name().data(), alpn.empty() ? "none" : std::string(alpn).c_str(),
               peer ? peer->subject_name().value_or("?").c_str() : "none",
               static_cast<int>(ssl.verify_result().message().size()),
               ssl.verify_result().message().data(), ssl.session_reused() ? "yes" : "no");
  auto session = ssl.get1_session();
  (void)ossl::io::shutdown(ssl, 1s);  // a clean close keeps the session resumable
  return session;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  const ossl::SslCtx ctx = make_context(o);
  auto session = fetch(o, ctx, std::nullopt, true);
  if (o.resume) {
    if (!session || !session->is_resumable()) fail(2, "no resumable session to offer");
    fetch(o, ctx, session, false);
  }
  return 0;
}
