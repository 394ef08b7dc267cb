// ossl: ReloadableCtx, the context a running server makes its connections from, replaced
// as a whole (certificate, key, SNI table, OCSP staple, ticket keys, verification) while
// connections are made and served: hot reload without dropping a connection.
#pragma once

#include <ossl/context.hpp>
#include <ossl/detail/export.hpp>
#include <ossl/result.hpp>

#include <cstdint>
#include <mutex>

namespace ossl {

/// A context that can be replaced while other threads make connections from it.
///
/// Each connection keeps the context it was made from (SSL_new holds a reference to
/// it), so replacing the context never disturbs a connection in flight, whatever stage
/// its handshake is at: it finishes, and serves, with the identity it started with.
/// Connections made after replace() returns get the new context. The replaced context
/// is freed when its last connection is.
///
/// Build the new context in full first (a builder, a certificate that failed to load
/// stays with the old one), then replace(): there is no moment at which a connection
/// sees half of a configuration. Resumption across a reload needs what resumption
/// across servers needs (docs/sessions.md): the same session store or ticket keys on
/// both contexts and, for verified clients, the same client verification; otherwise
/// clients get full handshakes, never failures.
///
/// Thread safety: every member may be called from any thread at any time. new_ssl()
/// and current() take a mutex for the time of one reference-count increment.
class OSSL_API ReloadableCtx {
 public:
  /// Holds `initial` as generation 1. An empty context is held as it is: new_ssl()
  /// then fails until replace() gives a context.
  explicit ReloadableCtx(SslCtx initial) noexcept;
  ReloadableCtx(const ReloadableCtx&) = delete;
  ReloadableCtx& operator=(const ReloadableCtx&) = delete;

  /// Returns the current context, a reference of the caller's own: it stays valid
  /// (and keeps its configuration) however often the context is replaced meanwhile.
  [[nodiscard]] SslCtx current() const;

  /// Makes a connection from the current context (SslCtx::new_ssl()). Fails, naming
  /// why, when no context was given.
  [[nodiscard]] Result<Ssl> new_ssl() const;

  /// Makes `next` the context new connections come from and returns its generation
  /// (the initial context is 1, each replacement adds 1). Connections made from the
  /// previous context keep it. An empty `next`, or a context for another role (a
  /// client context replacing a server context), is refused: the current context
  /// stays. (SSL_CTX_get_ssl_method)
  [[nodiscard]] Result<std::uint64_t> replace(SslCtx next);

  /// Returns the generation of the current context: 1 for the initial one, plus one
  /// per successful replace().
  [[nodiscard]] std::uint64_t generation() const noexcept;

 private:
  mutable std::mutex mutex_;
  SslCtx ctx_;
  std::uint64_t generation_ = 1;
};

}  // namespace ossl
