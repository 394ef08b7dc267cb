// Record size limits: SslCtx::set_max_send_fragment and Ssl::set_max_send_fragment.
#include <ossl/ssl.hpp>

#include "ctrl.hpp"
#include "internal.hpp"

#include <openssl/ssl.h>

#include <string>

namespace ossl {

namespace {
// Sets the record plaintext limit with `set_max` and `set_split` on `obj` (a context or
// a connection). SSL_CTRL_SET_MAX_SEND_FRAGMENT returns 0 with no record outside
// 512..16384, so the range is checked here. Lowering the maximum also lowers
// split_send_fragment, but raising it does not, and records are cut at the split size:
// both are set, so the limit can go up again.
template <class Obj>
Result<void> set_fragment(Obj* obj, long (*set_max)(Obj*, long) noexcept,
                          long (*set_split)(Obj*, long) noexcept, std::size_t bytes,
                          const char* what) {
  if (bytes < 512 || bytes > SSL3_RT_MAX_PLAIN_LENGTH) {
    return ErrorStack::message(std::string(what) + ": " + std::to_string(bytes) +
                               " bytes is outside 512 to 16384");
  }
  const auto n = static_cast<long>(bytes);
  if (auto ok = detail::check_positive(set_max(obj, n), what); !ok) return ok;
  return detail::check_positive(set_split(obj, n), what);
}
}  // namespace

Result<void> SslCtx::set_max_send_fragment(std::size_t bytes) {
  if (!*this) return empty_error("set_max_send_fragment");
  return set_fragment(native_handle(), detail::ctx_set_max_send_fragment,
                      detail::ctx_set_split_send_fragment, bytes, "SslCtx::set_max_send_fragment");
}

Result<void> Ssl::set_max_send_fragment(std::size_t bytes) {
  static constexpr const char* what = "Ssl::set_max_send_fragment";
  if (!*this) return empty_error("set_max_send_fragment");
  // OpenSSL sizes the write buffer when the handshake starts; a larger limit set
  // later makes the next write fail with an internal error. Refuse instead.
  if (SSL_in_before(native_handle()) != 1) {
    return ErrorStack::message(std::string(what) +
                               ": must be set before the handshake starts (OpenSSL sizes its "
                               "write buffer then)");
  }
  return set_fragment(native_handle(), detail::ssl_set_max_send_fragment,
                      detail::ssl_set_split_send_fragment, bytes, what);
}

}  // namespace ossl
