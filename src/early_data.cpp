// TLS 1.3 early data (0-RTT). Anti-replay rests on single-use tickets (RFC 8446
// section 8.1), which come from one of two places:
// - OpenSSL's own: with a max_early_data above 0 and SSL_OP_NO_ANTI_REPLAY clear, a
//   server issues stateful tickets kept in its internal cache and removes each on use
//   (SSL_CTX_remove_session must succeed, so this needs the internal cache);
// - a SessionStore (src/session_store.cpp): its tickets are stateful already and a
//   TLS 1.3 lookup take()s the session, so the store sets SSL_OP_NO_ANTI_REPLAY (with the
//   internal store off, OpenSSL's check would refuse every ticket).
// Shared ticket keys make stateless tickets any server accepts, as often as it lives;
// with early data on, OpenSSL would quietly switch to its stateful tickets instead (and
// the keys would stop resuming anything), so the two exclude each other unless
// danger_allow_early_data_replay() turned anti-replay off.
#include <ossl/early_data.hpp>
#include <ossl/context.hpp>
#include <ossl/session.hpp>
#include <ossl/ssl.hpp>

#include "ctx_state.hpp"
#include "internal.hpp"
#include "verify_policy.hpp"

#include <openssl/ssl.h>

#include <string>

namespace ossl {

Result<void> SslCtx::set_max_early_data(std::uint32_t max_bytes) {
  static constexpr const char* what = "SslCtx::set_max_early_data";
  if (!*this) return empty_error("set_max_early_data");
  detail::CtxState* state = detail::ctx_state(native_handle());
  if (state == nullptr) return detail::failure(what);
  const std::lock_guard lock(state->update_mutex);
  if (max_bytes > 0 && state->ticket_keys.load() && !state->early_data_replay_allowed.load()) {
    return ErrorStack::message(
        std::string(what) +
        ": the context shares ticket keys (set_ticket_keys), whose tickets every server with "
        "the keys accepts as often as they live: early data under them could be replayed. "
        "Share sessions through a session store instead (single-use tickets), or accept "
        "replays with danger_allow_early_data_replay()");
  }
  // The limit tickets announce, and the limit this server reads (the same: OpenSSL
  // refuses a connection sending more than the latter).
  if (auto r = detail::check_positive(SSL_CTX_set_max_early_data(native_handle(), max_bytes),
                                      "SSL_CTX_set_max_early_data");
      !r) {
    return r;
  }
  return detail::check_positive(SSL_CTX_set_recv_max_early_data(native_handle(), max_bytes),
                                "SSL_CTX_set_recv_max_early_data");
}

std::uint32_t SslCtx::max_early_data() const noexcept {
  return *this ? SSL_CTX_get_max_early_data(native_handle()) : 0;
}

Result<void> SslCtx::danger_allow_early_data_replay() {
  if (!*this) return empty_error("danger_allow_early_data_replay");
  detail::CtxState* state = detail::ctx_state(native_handle());
  if (state == nullptr) return detail::failure("SslCtx::danger_allow_early_data_replay");
  const std::lock_guard lock(state->update_mutex);
  state->early_data_replay_allowed.store(true);
  SSL_CTX_set_options(native_handle(), SSL_OP_NO_ANTI_REPLAY);
  return {};
}

std::uint32_t SslSession::max_early_data() const noexcept {
  return *this ? SSL_SESSION_get_max_early_data(native_handle()) : 0;
}

Result<std::size_t, SslIoError> Ssl::write_early_data(std::span<const std::byte> buf) {
  static constexpr const char* what = "Ssl::write_early_data";
  using Kind = SslIoError::Kind;
  if (!*this) return SslIoError(Kind::Other, empty_error("write_early_data"));
  if (is_server()) {
    return SslIoError(
        Kind::Other,
        ErrorStack::message(std::string(what) + ": a client call (a server reads early data with "
                                                "read_early_data())"));
  }
  if (buf.empty()) return std::size_t{0};
  detail::clear_error_queue();
  if (session_offered_) {
    // A session whose host or verification no longer matches is withdrawn here, before
    // any early data is encrypted under it.
    session_offered_ = false;
    detail::recheck_offered_session(native_handle());
  }
  const SSL_SESSION* session = SSL_get0_session(native_handle());  // get0: the connection's
  if (session == nullptr) {
    return SslIoError(
        Kind::Other,
        ErrorStack::message(std::string(what) +
                            ": no session to resume: early data is sent only with a resumption "
                            "(set_session(), or new_ssl_for_host() with a client session "
                            "cache), and a session that no longer binds to this connection's "
                            "host and verification is withdrawn"));
  }
  const std::uint32_t allowed = SSL_SESSION_get_max_early_data(session);
  if (allowed == 0) {
    return SslIoError(Kind::Other,
                      ErrorStack::message(std::string(what) +
                                          ": the session allows no early data (a TLS 1.2 session, "
                                          "or a server that takes none)"));
  }
  if (buf.size() > allowed) {
    return SslIoError(Kind::Other,
                      ErrorStack::message(std::string(what) + ": " + std::to_string(buf.size()) +
                                          " bytes exceed the " + std::to_string(allowed) +
                                          " the session allows"));
  }
  std::size_t written = 0;
  errno = 0;  // a Syscall error reports this call's errno, never an older one
  const int rc = SSL_write_early_data(native_handle(), buf.data(), buf.size(), &written);
  if (rc == 1) return written;
  return io_error(rc, what);
}

Result<std::size_t, SslIoError> Ssl::write_early_data(std::string_view text) {
  return write_early_data(detail::as_bytes(text));
}

Result<EarlyDataRead, SslIoError> Ssl::read_early_data(std::span<std::byte> buf) {
  static constexpr const char* what = "Ssl::read_early_data";
  using Kind = SslIoError::Kind;
  if (!*this) return SslIoError(Kind::Other, empty_error("read_early_data"));
  if (!is_server()) {
    return SslIoError(
        Kind::Other,
        ErrorStack::message(std::string(what) + ": a server call (a client sends early data with "
                                                "write_early_data())"));
  }
  if (buf.empty()) {
    return SslIoError(Kind::Other, ErrorStack::message(std::string(what) + ": an empty buffer"));
  }
  detail::clear_error_queue();
  std::size_t n = 0;
  errno = 0;
  // SUCCESS: `n` bytes of early data; FINISH: no more (or none, or rejected); ERROR: as
  // any I/O call, through SSL_get_error (WantRead while the client's flight is pending).
  switch (SSL_read_early_data(native_handle(), buf.data(), buf.size(), &n)) {
    case SSL_READ_EARLY_DATA_SUCCESS:
      early_data_pending_ = true;  // read() refuses until `finished`
      return EarlyDataRead{n, false};
    case SSL_READ_EARLY_DATA_FINISH:
      early_data_pending_ = false;
      return EarlyDataRead{n, true};
    default:
      return io_error(0, what);
  }
}

Result<EarlyDataRead, SslIoError> Ssl::read_early_data(std::span<char> buf) {
  return read_early_data(std::as_writable_bytes(buf));
}

EarlyDataStatus Ssl::early_data_status() const noexcept {
  if (!*this) return EarlyDataStatus::NotSent;
  switch (SSL_get_early_data_status(native_handle())) {
    case SSL_EARLY_DATA_ACCEPTED:
      return EarlyDataStatus::Accepted;
    case SSL_EARLY_DATA_REJECTED:
      return EarlyDataStatus::Rejected;
    default:
      return EarlyDataStatus::NotSent;
  }
}

}  // namespace ossl
