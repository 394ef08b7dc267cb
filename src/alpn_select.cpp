// Server-side ALPN selection: SslCtx::set_alpn_server_protocols and
// SslCtx::set_alpn_select_callback. Owns the context's ALPN select callback slot.
#include <ossl/context.hpp>

#include "ctx_state.hpp"
#include "internal.hpp"

#include <openssl/ssl.h>

#include <memory>
#include <vector>

namespace ossl {

namespace detail {
/// The server's ALPN configuration (a snapshot in CtxState::alpn; never changed once
/// stored).
struct AlpnSelectConfig {
  std::vector<unsigned char> wire;  ///< preference order (used when there is no selector)
  AlpnSelector selector;
  AlpnMismatch on_mismatch = AlpnMismatch::Fail;
};
}  // namespace detail

namespace {

using detail::AlpnSelectConfig;

// Points *out at the protocol `name` inside the client's list `in` (which OpenSSL keeps
// valid while it copies the answer), so the answer never depends on our configuration
// outliving the call. False when the client did not offer it.
bool point_into_offer(std::string_view name, const unsigned char* in, unsigned int inlen,
                      const unsigned char** out, unsigned char* outlen) noexcept {
  for (unsigned int i = 0; i < inlen;) {
    const unsigned int len = in[i];
    if (i + 1 + len > inlen) return false;  // OpenSSL validated it; never trust blindly
    if (std::string_view(reinterpret_cast<const char*>(in + i + 1), len) == name) {
      *out = in + i + 1;
      *outlen = static_cast<unsigned char>(len);
      return true;
    }
    i += 1 + len;
  }
  return false;
}

// The server's pick by its own preference: the first protocol of `cfg.wire` that the
// client also offers.
bool pick_by_preference(const AlpnSelectConfig& cfg, const unsigned char* in, unsigned int inlen,
                        const unsigned char** out, unsigned char* outlen) noexcept {
  const std::vector<unsigned char>& w = cfg.wire;
  for (std::size_t i = 0; i < w.size(); i += 1 + w[i]) {
    const std::string_view name(reinterpret_cast<const char*>(w.data() + i + 1), w[i]);
    if (point_into_offer(name, in, inlen, out, outlen)) return true;
  }
  return false;
}

int select_with(const AlpnSelectConfig& cfg, const unsigned char** out, unsigned char* outlen,
                const unsigned char* in, unsigned int inlen, int mismatch) {
  if (!cfg.selector) {
    return pick_by_preference(cfg, in, inlen, out, outlen) ? SSL_TLSEXT_ERR_OK : mismatch;
  }
  auto offered = alpn_decode(std::as_bytes(std::span(in, inlen)));  // allocates
  if (!offered) return SSL_TLSEXT_ERR_ALERT_FATAL;
  const std::optional<std::string_view> pick = cfg.selector(*offered);
  if (!pick) return mismatch;
  // A name the client did not offer (or a view into anything else) fails the handshake.
  return point_into_offer(*pick, in, inlen, out, outlen) ? SSL_TLSEXT_ERR_OK
                                                         : SSL_TLSEXT_ERR_ALERT_FATAL;
}

// SSL_CTX_alpn_select_cb_func; `arg` is the context's CtxState. The snapshot loaded
// here is held for the call, so a configuration replaced meanwhile stays valid until
// it returns. No exception (a throwing selector, bad_alloc) unwinds into libssl.
int alpn_select(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void* arg) {
  const std::shared_ptr<const AlpnSelectConfig> cfg =
      static_cast<const detail::CtxState*>(arg)->alpn.load();
  if (!cfg) return SSL_TLSEXT_ERR_NOACK;
  const int mismatch =
      cfg->on_mismatch == AlpnMismatch::Fail ? SSL_TLSEXT_ERR_ALERT_FATAL : SSL_TLSEXT_ERR_NOACK;
#if defined(__cpp_exceptions)
  try {
    return select_with(*cfg, out, outlen, in, inlen, mismatch);
  } catch (...) {
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
#else
  return select_with(*cfg, out, outlen, in, inlen, mismatch);
#endif
}

Result<void> install(SSL_CTX* ctx, std::shared_ptr<const AlpnSelectConfig> cfg, const char* what) {
  detail::CtxState* state = detail::ctx_state(ctx);
  if (state == nullptr) return detail::failure(what);
  state->alpn.store(std::move(cfg));
  if (state->install_once(detail::kAlpnSelectSlot))
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, state);
  return {};
}

}  // namespace

Result<void> SslCtx::set_alpn_server_protocols(std::span<const std::byte> wire,
                                               AlpnMismatch on_mismatch) {
  static constexpr const char* what = "SslCtx::set_alpn_server_protocols";
  if (!*this) return empty_error("set_alpn_server_protocols");
  if (auto names = alpn_decode(wire); !names) return std::move(names).error().with_context(what);
  auto cfg = std::make_shared<AlpnSelectConfig>();
  const auto* bytes = reinterpret_cast<const unsigned char*>(wire.data());
  cfg->wire.assign(bytes, bytes + wire.size());
  cfg->on_mismatch = on_mismatch;
  return install(native_handle(), std::move(cfg), what);
}

Result<void> SslCtx::set_alpn_select_callback(AlpnSelector selector, AlpnMismatch on_mismatch) {
  static constexpr const char* what = "SslCtx::set_alpn_select_callback";
  if (!*this) return empty_error("set_alpn_select_callback");
  if (!selector) return ErrorStack::message(std::string(what) + ": empty selector");
  auto cfg = std::make_shared<AlpnSelectConfig>();
  cfg->selector = std::move(selector);
  cfg->on_mismatch = on_mismatch;
  return install(native_handle(), std::move(cfg), what);
}

}  // namespace ossl
