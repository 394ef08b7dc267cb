// ClientSessionCache and the context's new-session callback slot, which this file owns:
// OpenSSL calls the callback with each session a server hands a client (a TLS 1.2
// session after a full handshake, each TLS 1.3 ticket as the client reads it), and the
// callback files it under the connection's context, host and port. On a server
// connection it hands the session to the context's SessionStore (src/session_store.cpp).
#include <ossl/session_cache.hpp>

#include <ossl/context.hpp>

#include "ctrl.hpp"
#include "ctx_state.hpp"
#include "internal.hpp"
#include "session_cache_impl.hpp"
#include "verify_policy.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <list>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <utility>

namespace ossl {

namespace detail {

/// The client cache a context feeds (a snapshot in CtxState::client_cache).
struct ClientCacheConfig {
  std::shared_ptr<ClientSessionCache> cache;
};

}  // namespace detail

ClientSessionCache::ClientSessionCache(std::size_t max_peers, std::size_t max_sessions_per_peer)
    : max_peers_(std::max<std::size_t>(max_peers, 1)),
      max_per_peer_(std::max<std::size_t>(max_sessions_per_peer, 1)),
      impl_(std::make_unique<Impl>()) {}

ClientSessionCache::~ClientSessionCache() = default;

std::size_t ClientSessionCache::size() const {
  const std::lock_guard lock(impl_->mutex);
  return impl_->size;
}

std::size_t ClientSessionCache::count(std::string_view host, std::uint16_t port) const {
  const std::lock_guard lock(impl_->mutex);
  std::size_t n = 0;
  for (const Impl::Peer& p : impl_->peers) {
    if (p.port == port && p.host == host) n += p.sessions.size();
  }
  return n;
}

std::size_t ClientSessionCache::peers() const {
  const std::lock_guard lock(impl_->mutex);
  return impl_->peers.size();
}

ClientSessionCache::Stats ClientSessionCache::stats() const {
  const std::lock_guard lock(impl_->mutex);
  return impl_->stats;
}

void ClientSessionCache::clear() {
  std::list<Impl::Peer> dropped;  // freed after the lock
  const std::lock_guard lock(impl_->mutex);
  dropped.swap(impl_->peers);
  impl_->index.clear();
  impl_->size = 0;
}

void ClientSessionCache::forget(std::string_view host, std::uint16_t port) {
  const std::lock_guard lock(impl_->mutex);
  for (auto it = impl_->peers.begin(); it != impl_->peers.end();) {
    if (it->port == port && it->host == host) {
      const auto next = std::next(it);
      impl_->erase(it);
      it = next;
    } else {
      ++it;
    }
  }
}

namespace detail {

/// put() and take(), for the new-session callback and new_ssl_for_host().
struct SessionCacheAccess {
  // Files `session` under (context, host, port) as the peer's newest; drops the peer's
  // oldest past the per-peer limit and the least recently used peer past max_peers.
  static void put(ClientSessionCache& cache, std::uint64_t context, std::string_view host,
                  std::uint16_t port, SslSession session) {
    cache.impl_->put(context, host, port, std::move(session), cache.max_peers_,
                     cache.max_per_peer_);
  }

  // Returns the newest session filed under (context, host, port) that is still
  // resumable, has not expired and that `ssl` may resume (ossl's binding), dropping the
  // ones met that fail a test; a TLS 1.3 session is removed as it is handed out, a TLS 1.2 one
  // stays.
  static std::optional<SslSession> take(ClientSessionCache& cache, std::uint64_t context,
                                        std::string_view host, std::uint16_t port, SSL* ssl) {
    ClientSessionCache::Impl& c = *cache.impl_;
    const std::string key = ClientSessionCache::Impl::key_of(context, host, port);
    const auto now = SslSession::Clock::now();
    std::deque<SslSession> dropped;  // freed after the lock
    std::optional<SslSession> out;
    {
      const std::lock_guard lock(c.mutex);
      const auto found = c.index.find(key);
      if (found == c.index.end()) {
        ++c.stats.missed;
        return std::nullopt;
      }
      std::deque<SslSession>& list = found->second->sessions;
      while (!list.empty()) {
        SslSession s = std::move(list.front());
        list.pop_front();
        --c.size;
        const bool expired = ClientSessionCache::Impl::expired(s, now);
        ERR_set_mark();  // a binding that does not hold queues nothing of the caller's
        const bool binds =
            !expired &&
            check_session_binding(ssl, s.native_handle(), "ClientSessionCache").has_value();
        ERR_pop_to_mark();
        if (!binds) {
          ++c.stats.evicted;
          dropped.push_back(std::move(s));
          continue;
        }
        if (s.protocol_version() != TlsVersion::Tls13) {
          list.push_front(s);  // TLS 1.2: may be offered again
          ++c.size;
        }
        out = std::move(s);
        break;
      }
      if (out) {
        ++c.stats.offered;
        c.peers.splice(c.peers.begin(), c.peers, found->second);
      } else {
        ++c.stats.missed;
      }
      if (list.empty()) c.erase(found->second);
    }
    return out;
  }
};

namespace {

// The peer's port on a client connection with a cache, in an SSL ex_data slot that owns
// it (freed with the connection; SSL_dup leaves the copy without one). Null: port 0.
int port_index() noexcept {
  static const int index = SSL_get_ex_new_index(
      0, nullptr, nullptr,
      [](CRYPTO_EX_DATA*, const CRYPTO_EX_DATA*, void** from_d, int, long, void*) -> int {
        *from_d = nullptr;
        return 1;
      },
      [](void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
        delete static_cast<std::uint16_t*>(ptr);
      });
  return index;
}

std::uint16_t connection_port(const SSL* ssl) noexcept {
  const int index = port_index();
  const auto* port =
      index >= 0 ? static_cast<const std::uint16_t*>(SSL_get_ex_data(ssl, index)) : nullptr;
  return port != nullptr ? *port : 0;
}

std::shared_ptr<ClientSessionCache> cache_of(const SSL_CTX* ctx) noexcept {
  const CtxState* state = find_ctx_state(ctx);
  const std::shared_ptr<const ClientCacheConfig> cfg =
      state != nullptr ? state->client_cache.load() : nullptr;
  return cfg ? cfg->cache : nullptr;
}

// SSL_CTX_sess_new_cb: OpenSSL offers each new client session here. The cache takes a
// reference of its own and the callback returns 0 (OpenSSL keeps its reference either
// way; 1 would hand it over). Sessions of connections that name no host are not kept
// (nothing to file them under). A server's sessions go to its SessionStore. No exception may unwind
// through libssl: a failure to store just leaves the session out.
int on_new_session(SSL* ssl, SSL_SESSION* session) {
  if (SSL_is_server(ssl) == 1) {
    store_new_session(ssl, session);  // src/session_store.cpp
    return 0;
  }
  if (SSL_SESSION_is_resumable(session) != 1) return 0;
  const std::shared_ptr<ClientSessionCache> cache = cache_of(SSL_get_SSL_CTX(ssl));
  const CtxState* state = find_ctx_state(SSL_get_SSL_CTX(ssl));
  if (!cache || state == nullptr) return 0;
#if defined(__cpp_exceptions)
  try {
#endif
    const std::string host = expected_host(SSL_get0_param(ssl));
    if (host.empty()) return 0;
    auto shared = SslSession::share(session);
    if (shared) {
      SessionCacheAccess::put(*cache, state->id, host, connection_port(ssl), std::move(*shared));
    }
#if defined(__cpp_exceptions)
  } catch (...) {  // std::bad_alloc: the session is not kept
  }
#endif
  return 0;
}

}  // namespace

Result<void> offer_cached_session(SSL* ssl, std::string_view host, std::uint16_t port) {
  const std::shared_ptr<ClientSessionCache> cache = cache_of(SSL_get_SSL_CTX(ssl));
  const CtxState* state = find_ctx_state(SSL_get_SSL_CTX(ssl));
  if (!cache || state == nullptr) return {};  // nothing recorded: no allocation
  // Port 0 is the slot's empty value; any other is recorded.
  if (port != 0) {
    const int index = port_index();
    auto* kept = new (std::nothrow) std::uint16_t(port);
    if (index < 0 || kept == nullptr || SSL_set_ex_data(ssl, index, kept) != 1) {
      delete kept;
      return failure("SslCtx::new_ssl_for_host: recording the port");
    }
  }
  std::optional<SslSession> session = SessionCacheAccess::take(*cache, state->id, host, port, ssl);
  if (!session) return {};
  // take() checked the binding; SSL_set_session takes its own reference.
  return check_positive(SSL_set_session(ssl, session->native_handle()),
                        "SslCtx::new_ssl_for_host: offering the cached session");
}

bool has_client_session_cache(const SSL_CTX* ctx) noexcept {
  return cache_of(ctx) != nullptr;
}

void install_new_session_callback(SSL_CTX* ctx, CtxState& state) noexcept {
  if (state.install_once(kNewSessionSlot)) SSL_CTX_sess_set_new_cb(ctx, on_new_session);
}

}  // namespace detail

Result<void> SslCtx::set_client_session_cache(std::shared_ptr<ClientSessionCache> cache) {
  static constexpr const char* what = "SslCtx::set_client_session_cache";
  if (!*this) return empty_error("set_client_session_cache");
  detail::CtxState* state = detail::ctx_state(native_handle());
  if (state == nullptr) return detail::failure(what);
  if (!cache) {
    // Detached: the callback stays (OpenSSL reads the field unlocked) and keeps nothing.
    state->client_cache.store(nullptr);
    return {};
  }
  auto cfg = std::make_shared<detail::ClientCacheConfig>();
  cfg->cache = std::move(cache);
  state->client_cache.store(std::move(cfg));
  // The client mode feeds the callback; the internal store would keep a second copy of
  // every client session that OpenSSL's client never looks up.
  detail::ctx_set_session_cache_mode(
      native_handle(), detail::ctx_get_session_cache_mode(native_handle()) | SSL_SESS_CACHE_CLIENT |
                           SSL_SESS_CACHE_NO_INTERNAL_STORE);
  detail::install_new_session_callback(native_handle(), *state);
  return {};
}

std::shared_ptr<ClientSessionCache> SslCtx::client_session_cache() const {
  return *this ? detail::cache_of(native_handle()) : nullptr;
}

}  // namespace ossl
