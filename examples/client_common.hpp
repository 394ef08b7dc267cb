// Shared by the example clients (https_get, async_get): their command line, their
// context, the HTTP/1.1 request they send and how they read the response. Each defines
// g_program (its name, for messages) before including this file.
#pragma once

#include <ossl/ossl.hpp>

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace client_common {

extern const char* const g_program;

struct Options {
  std::string host;  // without brackets
  std::uint16_t port = 443;
  std::string path = "/";
  std::string cafile;
  std::vector<std::string> alpn;
  std::optional<ossl::TlsVersion> version;
  bool resume = false;
  std::vector<std::string> pins;         // --pin, repeatable: SPKI SHA-256, base64
  std::vector<std::string> crls;         // --crl, repeatable: CRL files (PEM or DER)
  std::optional<ossl::OcspPolicy> ocsp;  // --ocsp off|if-stapled|required
  std::string session_file;              // --session-file: sessions kept across runs
};

[[noreturn]] inline void fail(int code, const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", g_program, what.c_str());
  std::exit(code);
}

[[noreturn]] inline void usage(const std::string& why) {
  fail(1, why + "\nusage: " + g_program +
              " URL [--cafile FILE] [--alpn h2,http/1.1] [--tls1.2|--tls1.3] [--resume]\n"
              "    [--pin SHA256-BASE64]... [--crl FILE]... [--ocsp off|if-stapled|required]\n"
              "    [--session-file FILE]");
}

inline std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const auto at = s.find(sep, start);
    out.push_back(s.substr(start, at - start));
    if (at == std::string::npos) return out;
    start = at + 1;
  }
}

inline Options parse(int argc, char** argv) {
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
    } else if (a == "--session-file") {
      o.session_file = value();
    } else if (a == "--pin") {
      o.pins.push_back(value());
    } else if (a == "--crl") {
      o.crls.push_back(value());
    } else if (a == "--ocsp") {
      const std::string p = value();
      if (p == "off") {
        o.ocsp = ossl::OcspPolicy::Off;
      } else if (p == "if-stapled") {
        o.ocsp = ossl::OcspPolicy::IfStapled;
      } else if (p == "required") {
        o.ocsp = ossl::OcspPolicy::Required;
      } else {
        usage("--ocsp takes off, if-stapled or required, not " + p);
      }
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

inline ossl::SslCtx make_context(const Options& o) {
  auto b = ossl::SslCtxBuilder<ossl::Client>::create();
  if (!o.cafile.empty()) b.ca_bundle_file(o.cafile);  // else: the system trust store
  if (!o.alpn.empty()) {
    std::vector<std::string_view> names(o.alpn.begin(), o.alpn.end());
    b.alpn_protos_list(names);
  }
  if (o.version) b.min_proto_version(*o.version).max_proto_version(*o.version);
  for (const std::string& pin : o.pins)
    b.pin_spki_sha256(pin);
  for (const std::string& crl : o.crls)
    b.crl_file(crl);
  if (o.ocsp) b.ocsp_stapling(*o.ocsp);
  if (!o.session_file.empty()) b.client_session_cache(std::make_shared<ossl::ClientSessionCache>());
  auto ctx = std::move(b).build();
  if (!ctx) fail(1, "bad TLS settings: " + ctx.error().to_string());
  return std::move(*ctx);
}

// --session-file: loads the sessions an earlier run saved into the context's cache (the
// file is removed as it is read: its TLS 1.3 tickets are for one run) and says what it
// found. A file that cannot be used costs a full handshake, never the download.
inline void load_sessions(const Options& o, const ossl::SslCtx& ctx) {
  if (o.session_file.empty()) return;
  auto report = ctx.client_session_cache()->load(ctx, o.session_file);
  if (!report) {
    std::fprintf(stderr, "%s: sessions not loaded: %s\n", g_program,
                 report.error().to_string().c_str());
  } else if (!report->found) {
    std::fprintf(stderr, "%s: no saved sessions in %s yet\n", g_program, o.session_file.c_str());
  } else if (report->verification_changed) {
    std::fprintf(stderr, "%s: saved sessions dropped: verification settings changed since\n",
                 g_program);
  } else {
    std::fprintf(stderr, "%s: loaded %zu saved session(s) (%zu expired)\n", g_program,
                 report->loaded, report->expired);
  }
}

// --session-file: saves the context's sessions for the next run (mode 0600).
inline void save_sessions(const Options& o, const ossl::SslCtx& ctx) {
  if (o.session_file.empty()) return;
  auto written = ctx.client_session_cache()->save(ctx, o.session_file);
  if (!written) {
    std::fprintf(stderr, "%s: sessions not saved: %s\n", g_program,
                 written.error().to_string().c_str());
  } else {
    std::fprintf(stderr, "%s: saved %zu session(s) to %s\n", g_program, *written,
                 o.session_file.c_str());
  }
}

struct Response {
  std::string status;
  std::string body;
};

// Splits an HTTP/1.1 response; decodes a chunked body.
inline std::optional<Response> parse_http(const std::string& raw, bool& complete) {
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

// One line for a TLS failure: ossl's explanation when it has one (ErrorStack::summary),
// else the reason of OpenSSL's last record; the records with their source paths stay in
// the stack (to_string()) for a log.
inline std::string describe_failure(const ossl::Ssl& ssl, const ossl::ErrorStack& e) {
  if (ssl.verify_result().checked && !ssl.verify_result().ok()) {
    return "certificate verification failed: " + std::string(ssl.verify_result().message());
  }
  return e.headline();
}

// The GET request both clients send (Connection: close: the body ends with the
// connection).
inline std::string request(const Options& o) {
  std::string host_header = o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host;
  if (o.port != 443) host_header += ":" + std::to_string(o.port);
  return "GET " + o.path + " HTTP/1.1\r\nHost: " + host_header + "\r\nUser-Agent: ossl-" +
         g_program + "\r\nAccept: */*\r\nConnection: close\r\n\r\n";
}

// The summary both clients print to stderr after a response.
inline void print_summary(const Options& o, const Response& response, const ossl::Ssl& ssl) {
  auto peer = ssl.peer_certificate();
  const std::string_view alpn = ssl.alpn_selected();
  std::fprintf(stderr,
               "%s: %s:%u\n  status  : %s\n  version : %s\n  cipher  : %.*s\n"
               "  group   : %.*s\n  alpn    : %s\n  peer    : %s\n  verify  : %.*s\n"
               "  resumed : %s\n",
               g_program, o.host.c_str(), o.port, response.status.c_str(),
               ossl::to_string(ssl.version()).c_str(), static_cast<int>(ssl.cipher_name().size()),
               ssl.cipher_name().data(), static_cast<int>(ssl.group_name().size()),
               ssl.group_name().data(), alpn.empty() ? "none" : std::string(alpn).c_str(),
               peer ? peer->subject_name().value_or("?").c_str() : "none",
               static_cast<int>(ssl.verify_result().message().size()),
               ssl.verify_result().message().data(), ssl.session_reused() ? "yes" : "no");
}

// Refuses a protocol other than HTTP/1.1 chosen by ALPN.
inline void require_http11(const ossl::Ssl& ssl) {
  const std::string_view alpn = ssl.alpn_selected();
  if (!alpn.empty() && alpn != "http/1.1") {
    fail(4, "the server selected ALPN \"" + std::string(alpn) + "\"; " + g_program +
                " speaks HTTP/1.1 only (offer http/1.1)");
  }
}

}  // namespace client_common
