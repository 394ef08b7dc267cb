// ossl private machinery: the return-convention adapters. Every OpenSSL call that can
// fail goes through exactly one of these, so each convention is checked in one place.
#pragma once

#include <ossl/result.hpp>

#include <openssl/err.h>

#include <concepts>
#include <cstring>
#include <string>
#include <string_view>

namespace ossl::detail {

/// Empties the thread's error queue before an I/O call, so that SSL_get_error() sees
/// only this call's records. ERR_peek_error() costs ~15 ns, ERR_clear_error() ~100 ns
/// in OpenSSL 3.0, so the clear runs only when something is queued.
inline void clear_error_queue() noexcept {
  if (ERR_peek_error() != 0) ERR_clear_error();
}

/// Drains the queue into an ErrorStack with `what` as context; a failure that queued
/// nothing still gets a record saying so, so an error is never empty.
[[nodiscard]] OSSL_API ErrorStack failure(std::string_view what);

/// Convention "1 (or any positive value) on success, 0 or negative on failure".
[[nodiscard]] inline Result<void> check_positive(long rc, std::string_view what) {
  if (rc > 0) return {};
  return failure(what);
}

/// check_positive() whose context is built by `make_context()` only on failure, so
/// that success never allocates (for contexts that quote the caller's input).
template <class MakeContext>
requires std::invocable<MakeContext&>
[[nodiscard]] Result<void> check_positive(long rc, MakeContext&& make_context) {
  if (rc > 0) return {};
  return failure(make_context());
}

/// Convention "non-null on success".
template <class P>
[[nodiscard]] Result<P*> check_ptr(P* p, std::string_view what) {
  if (p != nullptr) return p;
  return failure(what);
}

/// Inverted convention "0 on success, non-zero on failure". Only SSL_CTX_set_alpn_protos
/// and SSL_set_alpn_protos use it.
[[nodiscard]] inline Result<void> check_zero(int rc, std::string_view what) {
  if (rc == 0) return {};
  return failure(what);
}

/// Calls `f(const char*)` with a NUL-terminated copy of `s` (on the stack when short)
/// and returns its result; returns an error naming `what` instead when `s` holds an
/// embedded NUL byte, which C would otherwise truncate silently.
template <class F>
auto with_cstr(std::string_view s, std::string_view what, F&& f) -> decltype(f("")) {
  if (auto nul = s.find('\0'); nul != std::string_view::npos) {
    return ErrorStack::message(std::string(what) + ": embedded NUL byte at offset " +
                               std::to_string(nul));
  }
  char small[256];
  if (s.size() < sizeof small) {
    if (!s.empty()) std::memcpy(small, s.data(), s.size());  // memcpy(_, nullptr, 0) is UB
    small[s.size()] = '\0';
    return f(static_cast<const char*>(small));
  }
  std::string copy(s);
  return f(copy.c_str());
}

}  // namespace ossl::detail
