// ossl: ClientSessionCache, a client's cache of resumable sessions, filled by OpenSSL's
// new-session callback and drawn from by SslCtx::new_ssl_for_host(). src/session_cache.cpp
// owns the context's new-session callback slot.
#pragma once

#include <ossl/detail/export.hpp>
#include <ossl/session.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace ossl {

namespace detail {
struct SessionCacheAccess;  // src/session_cache.cpp: put() and take() for the callbacks
}

/// A client's cache of resumable sessions: a short list per peer (context, host, port),
/// newest first, and at most max_peers() peers, the least recently used evicted first.
///
/// Attached to a client context (SslCtx::set_client_session_cache(), builder
/// client_session_cache()), it is filled by OpenSSL's new-session callback as servers
/// send sessions (a TLS 1.2 session at the end of a full handshake, each TLS 1.3 ticket
/// when the client reads it), and SslCtx::new_ssl_for_host(host, port) offers the peer's
/// newest session that still resumes there. A TLS 1.3 ticket is handed out once and
/// forgotten (RFC 8446 C.4: a reused ticket lets an observer link the connections); a
/// TLS 1.2 session stays and may be offered again until it expires. A session is kept
/// per context and offered only where ossl's binding allows it (the same context, host,
/// verification settings and policy generation: Ssl::set_session()); one that no longer
/// may resume, or has expired, is dropped when met.
///
/// One cache may serve several contexts (their sessions never mix). Thread-safe: every
/// member may run on several threads at once (one mutex, held for a list operation).
class OSSL_API ClientSessionCache {
 public:
  /// What the cache has done since it was made (each count only grows).
  struct Stats {
    std::uint64_t stored = 0;   ///< sessions the new-session callback put in
    std::uint64_t offered = 0;  ///< sessions handed to a connection
    std::uint64_t missed = 0;   ///< lookups that found nothing to offer
    std::uint64_t evicted = 0;  ///< sessions dropped for capacity, expiry or binding
  };

  /// Makes an empty cache holding sessions for at most `max_peers` peers and at most
  /// `max_sessions_per_peer` sessions each (TLS 1.3 servers send two tickets by
  /// default; a peer's oldest session goes first). Zero limits are taken as one.
  explicit ClientSessionCache(std::size_t max_peers = 256, std::size_t max_sessions_per_peer = 4);
  /// Frees the cache and the references it holds (sessions live on where still used).
  ~ClientSessionCache();
  ClientSessionCache(const ClientSessionCache&) = delete;
  ClientSessionCache& operator=(const ClientSessionCache&) = delete;

  /// Returns the number of sessions held, over all peers.
  [[nodiscard]] std::size_t size() const;
  /// Returns the number of sessions held for `host` and `port` (0: connections made
  /// without a port) across the contexts using this cache.
  [[nodiscard]] std::size_t count(std::string_view host, std::uint16_t port = 0) const;
  /// Returns the number of peers with sessions.
  [[nodiscard]] std::size_t peers() const;
  /// Returns the most peers kept (the limit given at construction, at least one).
  [[nodiscard]] std::size_t max_peers() const noexcept { return max_peers_; }
  /// Returns the most sessions kept per peer (given at construction, at least one).
  [[nodiscard]] std::size_t max_sessions_per_peer() const noexcept { return max_per_peer_; }
  /// Returns the counters.
  [[nodiscard]] Stats stats() const;
  /// Forgets every session (the counters stay).
  void clear();
  /// Forgets the sessions for `host` and `port`, e.g. after the server's key changed.
  void forget(std::string_view host, std::uint16_t port = 0);

 private:
  friend struct detail::SessionCacheAccess;
  struct Impl;
  std::size_t max_peers_;
  std::size_t max_per_peer_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ossl
