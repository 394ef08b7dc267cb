#include <ossl/ssl.hpp>

#include "ctrl.hpp"
#include "ctx_state.hpp"
#include "explain.hpp"
#include "internal.hpp"
#include "verify_policy.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>

namespace ossl {

void Ssl::on_take_over(SSL* p) noexcept {
  // Read first (adding no bits reads the mode): a connection that has it (every one
  // ossl made) is not written to.
  if ((detail::ssl_set_mode(p, 0) & SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER) == 0) {
    detail::ssl_set_mode(p, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  }
}

namespace {

// SNI for a host already known not to be an IP literal. (SSL_set_tlsext_host_name)
Result<void> set_sni(SSL* ssl, std::string_view hostname) {
  if (hostname.empty()) return ErrorStack::message("Ssl::set_hostname: empty host name");
  if (hostname.size() > TLSEXT_MAXLEN_host_name) {
    return ErrorStack::message("Ssl::set_hostname: host name longer than 255 bytes");
  }
  return detail::with_cstr(hostname, "Ssl::set_hostname", [ssl](const char* s) {
    return detail::check_positive(detail::ssl_set_tlsext_host_name(ssl, s), "Ssl::set_hostname");
  });
}

// The certificate name check; `ip` says whether `host` is an IP literal.
// (X509_VERIFY_PARAM_set1_host or X509_VERIFY_PARAM_set1_ip_asc on the SSL's get0
// parameters; SSL_set1_host, the same call, is deprecated in OpenSSL 4.0)
Result<void> set_verify_host(SSL* ssl, std::string_view host, bool ip) {
  if (host.empty()) return ErrorStack::message("Ssl::set_verify_hostname: empty host");
  return detail::with_cstr(host, "Ssl::set_verify_hostname", [ssl, host, ip](const char* s) {
    auto what = [host] { return "Ssl::set_verify_hostname(\"" + std::string(host) + "\")"; };
    // get0: the parameters belong to the SSL. One kind of identity per connection: a
    // name inherited from the context (builder verify_hostname) or set before is
    // replaced, so the leaf is checked against exactly `host`.
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (ip) {
      if (auto ok = detail::check_positive(X509_VERIFY_PARAM_set1_host(param, nullptr, 0), what);
          !ok) {
        return ok;
      }
      return detail::check_positive(X509_VERIFY_PARAM_set1_ip_asc(param, s), what);
    }
    if (auto ok = detail::check_positive(X509_VERIFY_PARAM_set1_ip(param, nullptr, 0), what); !ok) {
      return ok;
    }
    return detail::check_positive(X509_VERIFY_PARAM_set1_host(param, s, 0), what);
  });
}

}  // namespace

// -------------------------------------------------------------------------------- Ssl

void Ssl::set_bio_duplex(Bio&& bio) noexcept {
  if (!*this) return;
  BIO* b = bio.release();
  // With rbio == wbio, SSL_set_bio takes exactly one reference (it up-refs once more
  // itself for the second slot), which is the one `bio` gave up.
  SSL_set_bio(native_handle(), b, b);
}

void Ssl::set_bio(Bio&& rbio, Bio&& wbio) noexcept {
  if (!*this) return;
  // SSL_set_bio takes one reference to each.
  SSL_set_bio(native_handle(), rbio.release(), wbio.release());
}

Result<void> Ssl::set_fd(int fd) {
  if (!*this) return empty_error("set_fd");
  if (fd < 0)
    return ErrorStack::message("Ssl::set_fd: invalid file descriptor " + std::to_string(fd));
  return detail::check_positive(SSL_set_fd(native_handle(), fd), "Ssl::set_fd");
}

Result<void> Ssl::set_hostname(std::string_view hostname) {
  if (!*this) return empty_error("set_hostname");
  if (detail::is_ip_literal(hostname)) {
    return ErrorStack::message("Ssl::set_hostname: \"" + std::string(hostname) +
                               "\" is an IP address; SNI carries DNS names only (RFC 6066)");
  }
  return set_sni(native_handle(), hostname);
}

std::optional<std::string_view> Ssl::hostname() const noexcept {
  const char* name =
      *this ? SSL_get_servername(native_handle(), TLSEXT_NAMETYPE_host_name) : nullptr;
  if (name == nullptr) return std::nullopt;
  return std::string_view(name);
}

Result<void> Ssl::set_verify_hostname(std::string_view host) {
  if (!*this) return empty_error("set_verify_hostname");
  return set_verify_host(native_handle(), host, detail::is_ip_literal(host));
}

Result<void> Ssl::set_peer_host(std::string_view host, HostnameFlags flags) {
  if (!*this) return empty_error("set_peer_host");
  const bool ip = detail::is_ip_literal(host);  // parsed once for both steps
  if (!ip) {
    if (auto ok = set_sni(native_handle(), host); !ok) return ok;  // SNI: DNS names only
  }
  set_verify_hostname_flags(flags);
  return set_verify_host(native_handle(), host, ip);
}

Result<void> Ssl::set_alpn_protos(std::span<const std::byte> wire) {
  if (!*this) return empty_error("set_alpn_protos");
  if (auto names = alpn_decode(wire); !names) {
    return std::move(names).error().with_context("Ssl::set_alpn_protos");
  }
  // Inverted convention: SSL_set_alpn_protos returns 0 on success.
  return detail::check_zero(
      SSL_set_alpn_protos(native_handle(), reinterpret_cast<const unsigned char*>(wire.data()),
                          static_cast<unsigned int>(wire.size())),
      "Ssl::set_alpn_protos");
}

void Ssl::set_verify_hostname_flags(HostnameFlags flags) noexcept {
  if (*this) SSL_set_hostflags(native_handle(), flags.bits());
}

void Ssl::set_verify(SslVerifyMode mode) noexcept {
  // Mode only: the callback copied from the context at SSL_new stays.
  if (*this) SSL_set_verify(native_handle(), mode.bits(), SSL_get_verify_callback(native_handle()));
}

Result<void> Ssl::set_min_proto_version(TlsVersion version) {
  if (!*this) return empty_error("set_min_proto_version");
  return detail::check_positive(
      detail::ssl_set_min_proto_version(native_handle(), static_cast<long>(version)),
      "Ssl::set_min_proto_version");
}

Result<void> Ssl::set_max_proto_version(TlsVersion version) {
  if (!*this) return empty_error("set_max_proto_version");
  return detail::check_positive(
      detail::ssl_set_max_proto_version(native_handle(), static_cast<long>(version)),
      "Ssl::set_max_proto_version");
}

void Ssl::set_connect_state() noexcept {
  if (*this) SSL_set_connect_state(native_handle());
}

void Ssl::set_accept_state() noexcept {
  if (*this) SSL_set_accept_state(native_handle());
}

SslIoError Ssl::io_error(int rc, const char* what) {
  const int saved_errno = errno;  // before anything else can change it
  const int code = SSL_get_error(native_handle(), rc);
  using Kind = SslIoError::Kind;
  switch (code) {
    case SSL_ERROR_WANT_READ:
      return SslIoError(Kind::WantRead, {}, code);
    case SSL_ERROR_WANT_WRITE:
      return SslIoError(Kind::WantWrite, {}, code);
    case SSL_ERROR_ZERO_RETURN:
      return SslIoError(Kind::ZeroReturn, {}, code);
    case SSL_ERROR_SYSCALL: {
      fatal_ = true;
      ErrorStack stack = ErrorStack::drain().with_context(what);
      if (saved_errno != 0) {
        ErrorRecord rec;
        rec.library = "system";
        rec.reason = std::strerror(saved_errno);
        stack.push(std::move(rec));
      }
      return SslIoError(Kind::Syscall, std::move(stack), code, saved_errno);
    }
    case SSL_ERROR_SSL: {
      ErrorStack stack = detail::failure(what);
      detail::explain_failure(native_handle(), stack);
      // Writing after our close_notify is the caller's mistake, not a broken
      // connection: reading the peer's remaining data and close_notify still works.
      if (!stack.contains(ERR_LIB_SSL, SSL_R_PROTOCOL_IS_SHUTDOWN)) fatal_ = true;
      return SslIoError(Kind::Ssl, std::move(stack), code);
    }
    default:
      return SslIoError(Kind::Other, ErrorStack::drain().with_context(what), code);
  }
}

Result<void, SslIoError> Ssl::handshake_step(int (*step)(SSL*), const char* what) {
  if (!*this) return SslIoError(SslIoError::Kind::Other, empty_error(what));
  detail::clear_error_queue();
  if (session_offered_) [[unlikely]] {
    session_offered_ = false;
    detail::recheck_offered_session(native_handle());
  }
  errno = 0;  // a Syscall error reports this call's errno, never an older one
  const int rc = step(native_handle());
  if (rc == 1) return {};
  return io_error(rc, what);
}

Result<void, SslIoError> Ssl::connect() {
  return handshake_step(SSL_connect, "Ssl::connect");
}
Result<void, SslIoError> Ssl::accept() {
  return handshake_step(SSL_accept, "Ssl::accept");
}
Result<void, SslIoError> Ssl::do_handshake() {
  return handshake_step(SSL_do_handshake, "Ssl::do_handshake");
}

Result<std::size_t, SslIoError> Ssl::read(std::span<std::byte> buf) {
  if (!*this) return SslIoError(SslIoError::Kind::Other, empty_error("read"));
  if (buf.empty()) return std::size_t{0};
  detail::clear_error_queue();
  if (session_offered_ || early_data_pending_) [[unlikely]] {
    if (early_data_pending_) {
      // SSL_read_ex would hand out the rest of the client's early data as if it were
      // ordinary data (OpenSSL allows it once SSL_read_early_data has returned some).
      return SslIoError(SslIoError::Kind::Other,
                        ErrorStack::message("Ssl::read: the client's early data is still being "
                                            "read: call read_early_data() until it says "
                                            "finished; read() returns what follows the "
                                            "handshake"));
    }
    session_offered_ = false;  // the handshake may start here
    detail::recheck_offered_session(native_handle());
  }
  std::size_t n = 0;
  errno = 0;  // a Syscall error reports this call's errno, never an older one
  const int rc = SSL_read_ex(native_handle(), buf.data(), buf.size(), &n);
  if (rc == 1) return n;
  return io_error(rc, "Ssl::read");
}

Result<std::size_t, SslIoError> Ssl::read(std::span<char> buf) {
  return read(std::as_writable_bytes(buf));
}

Result<std::size_t, SslIoError> Ssl::read(std::span<unsigned char> buf) {
  return read(std::as_writable_bytes(buf));
}

Result<std::size_t, SslIoError> Ssl::write(std::span<const std::byte> buf) {
  if (!*this) return SslIoError(SslIoError::Kind::Other, empty_error("write"));
  if (buf.empty()) return std::size_t{0};
  detail::clear_error_queue();
  if (session_offered_) [[unlikely]] {  // the handshake may start here
    session_offered_ = false;
    detail::recheck_offered_session(native_handle());
  }
  std::size_t n = 0;
  errno = 0;  // a Syscall error reports this call's errno, never an older one
  const int rc = SSL_write_ex(native_handle(), buf.data(), buf.size(), &n);
  if (rc == 1) return n;
  return io_error(rc, "Ssl::write");
}

Result<std::size_t, SslIoError> Ssl::write(std::string_view text) {
  return write(detail::as_bytes(text));
}

Result<std::size_t, SslIoError> Ssl::write(std::span<const unsigned char> buf) {
  return write(std::as_bytes(buf));
}

Result<void> Ssl::key_update(bool request_peer_update) {
  if (!*this) return empty_error("key_update");
  detail::clear_error_queue();
  return detail::check_positive(
      SSL_key_update(native_handle(),
                     request_peer_update ? SSL_KEY_UPDATE_REQUESTED : SSL_KEY_UPDATE_NOT_REQUESTED),
      "Ssl::key_update");
}

Result<void> Ssl::export_keying_material(std::span<std::byte> out, std::string_view label,
                                         std::optional<std::span<const std::byte>> context) const {
  static constexpr const char* what = "Ssl::export_keying_material";
  if (!*this) return empty_error("export_keying_material");
  // Before the handshake OpenSSL returns -1 without a record (no session yet), and
  // during it the secrets are not final: refuse both with a reason.
  if (SSL_is_init_finished(native_handle()) != 1) {
    return ErrorStack::message(std::string(what) + ": the handshake is not complete");
  }
  if (out.empty()) return ErrorStack::message(std::string(what) + ": empty output buffer");
  detail::clear_error_queue();
  const auto* ctx_bytes =
      context ? reinterpret_cast<const unsigned char*>(context->data()) : nullptr;
  // Returns 1 on success, 0 or -1 on failure.
  return detail::check_positive(
      SSL_export_keying_material(native_handle(), reinterpret_cast<unsigned char*>(out.data()),
                                 out.size(), label.data(), label.size(), ctx_bytes,
                                 context ? context->size() : 0, context ? 1 : 0),
      what);
}

Result<ShutdownResult, SslIoError> Ssl::shutdown() {
  using Kind = SslIoError::Kind;
  if (!*this) return SslIoError(Kind::Other, empty_error("shutdown"));
  if (fatal_) {
    return SslIoError(Kind::Other,
                      ErrorStack::message("Ssl::shutdown: refused after a fatal error on this "
                                          "connection (OpenSSL forbids sending close_notify "
                                          "then; just free the Ssl)"));
  }
  // OpenSSL refuses (SSL_R_SHUTDOWN_WHILE_IN_INIT) before and during the handshake;
  // that is the caller's timing, not a broken connection, so it is said here and the
  // connection stays usable.
  if (SSL_in_init(native_handle()) == 1) {
    return SslIoError(Kind::Other,
                      ErrorStack::message("Ssl::shutdown: the handshake has not completed; "
                                          "there is no TLS session to close (nothing sent)"));
  }
  detail::clear_error_queue();
  errno = 0;
  const int rc = SSL_shutdown(native_handle());
  const int code = rc == 1 || rc == 0 ? SSL_ERROR_NONE : SSL_get_error(native_handle(), rc);
  const bool sent_or_done = rc >= 0 || (code == SSL_ERROR_WANT_READ &&
                                        (SSL_get_shutdown(native_handle()) & SSL_SENT_SHUTDOWN));
  if (sent_or_done && ERR_peek_error() != 0) {
    // SSL_shutdown read the peer's records while waiting for its close_notify and met a
    // fatal alert, yet reported progress: the connection is dead, and the records say
    // why. Report them (and leave the thread's queue empty) instead of "Sent".
    fatal_ = true;
    return SslIoError(Kind::Ssl, ErrorStack::drain().with_context("Ssl::shutdown"), SSL_ERROR_SSL);
  }
  if (rc == 1) return ShutdownResult::Complete;
  // rc == 0, or WantRead with ours out: the peer's has not arrived yet.
  if (sent_or_done) return ShutdownResult::Sent;
  // WantWrite: close_notify could not be written yet; call again when writable.
  return io_error(rc, "Ssl::shutdown");
}

ShutdownState Ssl::shutdown_state() const noexcept {
  const int s = *this ? SSL_get_shutdown(native_handle()) : 0;
  return {(s & SSL_SENT_SHUTDOWN) != 0, (s & SSL_RECEIVED_SHUTDOWN) != 0};
}

std::optional<X509> Ssl::peer_certificate() const {
  if (!*this) return std::nullopt;
  ::X509* cert = SSL_get0_peer_certificate(native_handle());  // get0: borrowed
  if (cert == nullptr) return std::nullopt;
  return *X509::share(cert);
}

std::optional<std::vector<X509>> Ssl::peer_cert_chain() const {
  if (!*this) return std::nullopt;
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(native_handle());  // get0: borrowed
  if (chain == nullptr) return std::nullopt;
  std::vector<X509> out;
  out.reserve(static_cast<std::size_t>(ossl_sk_x509_num(chain)));
  for (int i = 0; i < ossl_sk_x509_num(chain); ++i)
    out.push_back(*X509::share(ossl_sk_x509_value(chain, i)));
  return out;
}

std::optional<SslSession> Ssl::get1_session() const {
  if (!*this) return std::nullopt;
  SSL_SESSION* s = SSL_get1_session(native_handle());  // get1: we own this reference
  if (s == nullptr) return std::nullopt;
  return *SslSession::adopt(s);
}

std::optional<BorrowedSslSession> Ssl::session() const noexcept {
  if (!*this) return std::nullopt;
  SSL_SESSION* s = SSL_get_session(native_handle());  // get0; the handle up-refs it
  if (s == nullptr) return std::nullopt;
  return BorrowedSslSession(s);
}

Result<void> Ssl::set_session(const SslSession& session) {
  static constexpr const char* what = "Ssl::set_session";
  if (!*this) return empty_error("set_session");
  if (!session) return ErrorStack::message("Ssl::set_session: empty session");
  if (auto ok = detail::check_session_binding(native_handle(), session.native_handle(), what);
      !ok) {
    return ok;
  }
  // SSL_set_session takes its own reference; `session` stays the caller's.
  auto ok = detail::check_positive(SSL_set_session(native_handle(), session.native_handle()), what);
  if (ok) session_offered_ = true;
  return ok;
}

bool Ssl::session_reused() const noexcept {
  return *this && SSL_session_reused(native_handle()) == 1;
}

std::size_t Ssl::pending() const noexcept {
  const int n = *this ? SSL_pending(native_handle()) : 0;
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

TlsVersion Ssl::version() const noexcept {
  return static_cast<TlsVersion>(*this ? SSL_version(native_handle()) : 0);
}

std::string_view Ssl::cipher_name() const noexcept {
  const SSL_CIPHER* c = *this ? SSL_get_current_cipher(native_handle()) : nullptr;
  return c != nullptr ? SSL_CIPHER_get_name(c) : std::string_view();
}

std::string_view Ssl::group_name() const noexcept {
  if (!*this) return {};
  const long id = detail::ssl_get_negotiated_group(native_handle());
  if (id <= 0) return {};
  const char* name = SSL_group_to_name(native_handle(), static_cast<int>(id));
  return name != nullptr ? std::string_view(name) : std::string_view();
}

std::string_view Ssl::alpn_selected() const noexcept {
  if (!*this) return {};
  const unsigned char* data = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(native_handle(), &data, &len);
  return data != nullptr ? std::string_view(reinterpret_cast<const char*>(data), len)
                         : std::string_view();
}

std::vector<std::byte> Ssl::ocsp_response() const {
  if (!*this) return {};
  const unsigned char* der = nullptr;  // get0: the connection's
  const long n = detail::ssl_get_status_ocsp_resp(native_handle(), &der);
  if (n <= 0 || der == nullptr) return {};
  const auto* bytes = reinterpret_cast<const std::byte*>(der);
  return {bytes, bytes + n};
}

VerifyResult Ssl::verify_result() const noexcept {
  if (!*this) return {X509_V_ERR_UNSPECIFIED, false, nullptr};
  const long code = SSL_get_verify_result(native_handle());
  return {code, code != X509_V_OK || SSL_get0_peer_certificate(native_handle()) != nullptr,
          code != X509_V_OK ? detail::verify_reason(native_handle()) : nullptr};
}

bool Ssl::is_server() const noexcept {
  return *this && SSL_is_server(native_handle()) == 1;
}

bool Ssl::is_init_finished() const noexcept {
  return *this && SSL_is_init_finished(native_handle()) == 1;
}

std::optional<SslCtx> Ssl::ctx() const {
  if (!*this) return std::nullopt;
  return *SslCtx::share(SSL_get_SSL_CTX(native_handle()));  // get0: share adds a reference
}

}  // namespace ossl
