// ossl: ClientSessionCache, a client's cache of resumable sessions, filled by OpenSSL's
// new-session callback and drawn from by SslCtx::new_ssl_for_host(), and saved to a file
// for the next process. src/session_cache.cpp owns the context's new-session callback
// slot; src/session_cache_file.cpp saves and loads.
#pragma once

#include <ossl/detail/export.hpp>
#include <ossl/result.hpp>
#include <ossl/session.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ossl {

class SslCtx;

namespace detail {
struct SessionCacheAccess;  // src/session_cache.cpp: put() and take() for the callbacks
struct SessionFileAccess;   // src/session_cache_file.cpp: saving and loading
}  // namespace detail

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
    std::uint64_t stored = 0;   ///< sessions put in (by the new-session callback or a load)
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

  /// What load() or import_sessions() did.
  struct LoadReport {
    bool found = false;                 ///< there was something to load (load(): the file)
    bool verification_changed = false;  ///< written under other verification: none loaded
    std::size_t loaded = 0;             ///< sessions now in the cache
    std::size_t expired = 0;            ///< sessions left out: expired or not resumable
  };

  /// Writes the sessions `ctx` filed in this cache, for another process to load
  /// (import_sessions()) and resume with: ossl's binding is per process, so the bytes
  /// carry a fingerprint of everything `ctx`'s verification depends on (trust, verify
  /// mode and parameters, pins, CRLs, OCSP policy, host rules) and a session is loaded
  /// only by a context whose fingerprint is the same. A context that verifies with a
  /// hook needs `hook_label`: a name for the hook's checks that changes when they do.
  ///
  /// TLS 1.3 tickets are moved out of the cache (each is used once: it goes either to
  /// the bytes or to this process); TLS 1.2 sessions stay. Expired sessions and ones
  /// `ctx` may no longer resume are left out. The bytes hold the sessions' secrets:
  /// whoever reads them can decrypt the resumed connections, and whoever can replace
  /// them can make this client resume with a server it never verified, so keep them
  /// as you keep a private key (save() writes a file only its owner can read).
  /// Fails when `ctx` does not feed this cache, when ossl does not own its verification,
  /// or for a hook without a label. (i2d_SSL_SESSION)
  [[nodiscard]] Result<std::vector<std::byte>> export_sessions(const SslCtx& ctx,
                                                               std::string_view hook_label = {});

  /// Files the sessions in `bytes` (from export_sessions()) under `ctx`, bound to what
  /// `ctx` verifies, so SslCtx::new_ssl_for_host() offers them. Nothing is loaded when the
  /// bytes were written under another verification fingerprint (verification_changed:
  /// the trust or settings changed, so the sessions' authentication no longer holds
  /// here); expired ones are left out. Bytes that are not a whole, well-formed export are
  /// refused with an error naming what is wrong, and the cache is left as it was.
  /// (d2i_SSL_SESSION, SSL_SESSION_set1_id_context)
  [[nodiscard]] Result<LoadReport> import_sessions(const SslCtx& ctx,
                                                   std::span<const std::byte> bytes,
                                                   std::string_view hook_label = {});

  /// Writes export_sessions() to `path`, replacing it atomically: a new file that only
  /// its owner can read or write (mode 0600), synced, then renamed over `path`. Returns
  /// the number of sessions written. Errors name the path and the system's reason.
  [[nodiscard]] Result<std::size_t> save(const SslCtx& ctx, std::string_view path,
                                         std::string_view hook_label = {});

  /// Loads the sessions save() wrote to `path` (import_sessions()), then removes the
  /// file, so the TLS 1.3 tickets in it are used by one process only; a file that does
  /// not parse is kept (and refused). A missing file is not an error (found is false):
  /// the first start has none. A file that is not a regular file owned by this user, or
  /// that others may read or write, is refused with its mode, as ssh refuses a key.
  [[nodiscard]] Result<LoadReport> load(const SslCtx& ctx, std::string_view path,
                                        std::string_view hook_label = {});

 private:
  friend struct detail::SessionCacheAccess;
  friend struct detail::SessionFileAccess;
  struct Impl;
  std::size_t max_peers_;
  std::size_t max_per_peer_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ossl
