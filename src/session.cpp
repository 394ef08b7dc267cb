#include <ossl/session.hpp>

#include "internal.hpp"

#include <cstdint>

namespace ossl {

Result<SslSession> SslSession::from_der(std::span<const std::byte> der) {
  auto s = detail::d2i_exact<SSL_SESSION>(d2i_SSL_SESSION, SSL_SESSION_free, der,
                                          "SslSession::from_der");
  if (!s) return std::move(s).error();
  return SslSession(*s);
}

Result<std::vector<std::byte>> SslSession::to_der() const {
  if (!*this) return empty_error("to_der");
  return detail::i2d_bytes(i2d_SSL_SESSION, native_handle(), "SslSession::to_der");
}

std::span<const std::byte> SslSession::id() const noexcept {
  if (!*this) return {};
  unsigned int len = 0;
  const unsigned char* id = SSL_SESSION_get_id(native_handle(), &len);
  return {reinterpret_cast<const std::byte*>(id), len};
}

TlsVersion SslSession::protocol_version() const noexcept {
  return static_cast<TlsVersion>(*this ? SSL_SESSION_get_protocol_version(native_handle()) : 0);
}

std::string_view SslSession::cipher_name() const noexcept {
  const SSL_CIPHER* c = *this ? SSL_SESSION_get0_cipher(native_handle()) : nullptr;
  return c != nullptr ? SSL_CIPHER_get_name(c) : std::string_view();
}

SslSession::Clock::time_point SslSession::time() const noexcept {
  if (!*this) return Clock::time_point();
#if OPENSSL_VERSION_NUMBER >= 0x30300000L
  // time_t: SSL_SESSION_get_time (a long) is deprecated since 3.4 for the 2038 problem.
  const auto t = static_cast<std::int64_t>(SSL_SESSION_get_time_ex(native_handle()));
#else
  const auto t = static_cast<std::int64_t>(SSL_SESSION_get_time(native_handle()));
#endif
  return Clock::time_point(std::chrono::seconds(t));
}

std::chrono::seconds SslSession::timeout() const noexcept {
  return std::chrono::seconds(*this ? SSL_SESSION_get_timeout(native_handle()) : 0);
}

bool SslSession::is_resumable() const noexcept {
  return *this && SSL_SESSION_is_resumable(native_handle()) == 1;
}

bool SslSession::has_ticket() const noexcept {
  return *this && SSL_SESSION_has_ticket(native_handle()) == 1;
}

std::chrono::seconds SslSession::ticket_lifetime_hint() const noexcept {
  return std::chrono::seconds(*this ? SSL_SESSION_get_ticket_lifetime_hint(native_handle()) : 0);
}

std::string_view SslSession::alpn_selected() const noexcept {
  if (!*this) return {};
  const unsigned char* data = nullptr;
  std::size_t len = 0;
  SSL_SESSION_get0_alpn_selected(native_handle(), &data, &len);
  return data != nullptr ? std::string_view(reinterpret_cast<const char*>(data), len)
                         : std::string_view();
}

std::string_view SslSession::hostname() const noexcept {
  const char* h = *this ? SSL_SESSION_get0_hostname(native_handle()) : nullptr;
  return h != nullptr ? std::string_view(h) : std::string_view();
}

}  // namespace ossl
