#include <ossl/tls.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstdio>

namespace ossl {

std::string to_string(TlsVersion v) {
  switch (v) {
    case TlsVersion::Tls12:
      return "TLSv1.2";
    case TlsVersion::Tls13:
      return "TLSv1.3";
  }
  char buf[32];
  const int n = std::snprintf(buf, sizeof buf, "unknown (0x%04x)", static_cast<unsigned>(v));
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string("unknown");
}

bool SslIoError::truncated() const noexcept {
  // OpenSSL 3 reports a transport EOF without close_notify as this SSL error (unless
  // SSL_OP_IGNORE_UNEXPECTED_EOF is set); 1.1 reported SSL_ERROR_SYSCALL with errno 0.
  return (kind_ == Kind::Ssl && stack_.contains(ERR_LIB_SSL, SSL_R_UNEXPECTED_EOF_WHILE_READING)) ||
         (kind_ == Kind::Syscall && errno_ == 0 && stack_.empty());
}

std::string_view to_string(SslIoError::Kind kind) noexcept {
  switch (kind) {
    case SslIoError::Kind::WantRead:
      return "WantRead";
    case SslIoError::Kind::WantWrite:
      return "WantWrite";
    case SslIoError::Kind::ZeroReturn:
      return "ZeroReturn";
    case SslIoError::Kind::Syscall:
      return "Syscall";
    case SslIoError::Kind::Ssl:
      return "Ssl";
    case SslIoError::Kind::Other:
      return "Other";
  }
  return "Other";
}

std::string SslIoError::to_string() const {
  std::string out(ossl::to_string(kind_));
  if (kind_ == Kind::Other) out += " (SSL_get_error " + std::to_string(ssl_error_) + ")";
  if (truncated()) out += " (truncated: transport closed without close_notify)";
  if (!stack_.empty() || !stack_.context().empty()) out += ": " + stack_.to_string();
  return out;
}

ErrorStack to_error_stack(const SslIoError& e) {
  ErrorStack stack = e.stack();
  if (stack.empty()) {
    ErrorRecord rec;
    rec.library = "ossl";
    rec.reason = "TLS I/O outcome " + std::string(to_string(e.kind()));
    stack.push(std::move(rec));
  }
  return stack;
}

}  // namespace ossl
