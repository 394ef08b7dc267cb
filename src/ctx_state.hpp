// Private to src/: the state ossl keeps beside each SSL_CTX, and the snapshot rule that
// lets a live context be reconfigured while handshakes run.
//
// Every OpenSSL callback slot ossl fills (verify, ALPN select, servername, key log,
// status, new session, get and remove session, ticket keys) has one owner: the feature
// file that installs it (src/verify.cpp, src/alpn_select.cpp, src/sni.cpp, src/keylog.cpp,
// src/ocsp.cpp, src/session_cache.cpp, src/session_store.cpp, src/ticket_keys.cpp). What a callback
// reads is an immutable configuration held in a Snapshot<T> of the context's CtxState: a setter
// builds a new T and swaps it in atomically; a callback loads its own reference for the duration of
// the call, so a configuration replaced meanwhile is freed only when the last call using it
// returns.
#pragma once

#include <ossl/result.hpp>
#include <ossl/x509.hpp>

#include <openssl/ssl.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

namespace ossl::detail {

/// An immutable configuration that can be replaced while other threads read it.
/// load() hands out a reference of the reader's own (no allocation: a reference count
/// increment); store() swaps in a new configuration. The pointer swap and the count
/// increment happen under a mutex held for just that: libstdc++ 12's
/// std::atomic<std::shared_ptr> guards its pointer with a lock bit ThreadSanitizer
/// cannot see, and this is as cheap uncontended (one handshake loads once per callback).
template <class T>
class Snapshot {
 public:
  /// Returns the current configuration (null when none was set), shared with the caller.
  [[nodiscard]] std::shared_ptr<const T> load() const noexcept {
    const std::lock_guard lock(mutex_);
    return value_;
  }
  /// Replaces the configuration; readers holding the old one keep it alive until done.
  /// The old one is released after the lock, so its destructor never runs under it.
  void store(std::shared_ptr<const T> value) noexcept {
    {
      const std::lock_guard lock(mutex_);
      value_.swap(value);
    }
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const T> value_;
};

struct VerifyPolicy;        // src/verify.cpp
struct AlpnSelectConfig;    // src/alpn_select.cpp
struct SniConfig;           // src/sni.cpp
struct KeyLogConfig;        // src/keylog.cpp
struct OcspConfig;          // src/ocsp.cpp
struct ClientCacheConfig;   // src/session_cache.cpp
struct TicketKeyConfig;     // src/ticket_keys.cpp
struct SessionStoreConfig;  // src/session_store.cpp

/// The callback slots a feature installs once per context (CtxState::install_once).
enum CallbackSlot : unsigned {
  kAlpnSelectSlot = 1u << 0,
  kServernameSlot = 1u << 1,
  kKeyLogSlot = 1u << 2,
  kStatusSlot = 1u << 3,
  kNewSessionSlot = 1u << 4,
  kTicketKeySlot = 1u << 5,
  kGetSessionSlot = 1u << 6,  ///< with the remove-session slot
};

/// What ossl keeps beside one SSL_CTX, in one ex_data slot that owns it (freed with the
/// context). It is attached once, before any callback can read it, and never replaced:
/// only the snapshots inside change.
///
/// A feature's callback is written into the SSL_CTX once, the first time the feature is
/// configured (OpenSSL reads those fields unlocked, so that first call belongs to the
/// configuration phase, before the context is shared); from then on the feature's
/// setters only swap its snapshot, which is safe while handshakes run.
struct CtxState {
  /// Unique among the contexts of this process (never reused): sessions are bound to it.
  const std::uint64_t id;
  Snapshot<VerifyPolicy> verify;
  /// The last generation number given to a VerifyPolicy of this context.
  std::atomic<std::uint64_t> verify_generation{0};
  Snapshot<AlpnSelectConfig> alpn;
  Snapshot<SniConfig> sni;
  Snapshot<KeyLogConfig> keylog;
  Snapshot<OcspConfig> ocsp;
  Snapshot<ClientCacheConfig> client_cache;
  Snapshot<TicketKeyConfig> ticket_keys;
  Snapshot<SessionStoreConfig> session_store;
  /// danger_allow_early_data_replay() was called: OpenSSL's anti-replay stays off
  /// whatever the session store does (src/early_data.cpp).
  std::atomic<bool> early_data_replay_allowed{false};
  /// Serialises setters that derive a new snapshot from the current one (SNI entries
  /// are added one at a time), so two concurrent setters never lose an update.
  std::mutex update_mutex;
  /// The trust ossl's setters put in the context's store, for the verification
  /// fingerprint of persisted sessions (src/verify.cpp). Once the system's trust
  /// locations are in use (SslCtx::set_default_verify_paths), verifications load
  /// certificates from their directories into the store as they need them, so the
  /// store's contents no longer describe the trust: the fingerprint then names the
  /// locations and takes the certificates and CRLs the other setters added from here.
  /// Guarded by update_mutex.
  struct TrustRecord {
    bool system = false;
    std::vector<std::array<unsigned char, 32>> added;  // SHA-256 of certificates and CRLs
  } trust;

  explicit CtxState(std::uint64_t context_id) noexcept : id(context_id) {}

  /// Returns true for the first caller per slot (which then installs the callback),
  /// false afterwards.
  [[nodiscard]] bool install_once(CallbackSlot slot) noexcept {
    return (installed_.fetch_or(slot, std::memory_order_acq_rel) & slot) == 0;
  }

 private:
  std::atomic<unsigned> installed_{0};
};

/// Returns the context's state, or null when ossl attached none (a context made by
/// raw code and adopted, before any ossl setter touched it). get0: the context owns it.
/// Safe on any thread once the state exists. (SSL_CTX_get_ex_data)
[[nodiscard]] CtxState* find_ctx_state(const SSL_CTX* ctx) noexcept;

/// Returns the context's state, attaching a new one first if it has none (under a
/// process-wide lock, so concurrent first calls attach one). Null only when the
/// allocation or OpenSSL's ex_data storage fails (the error is queued).
/// (SSL_CTX_set_ex_data)
[[nodiscard]] CtxState* ctx_state(SSL_CTX* ctx) noexcept;

/// Records `port` on a new client connection (the ClientSessionCache key: 0 when none
/// was given) and, when the context has a client session cache, offers the newest
/// session cached for `host` and `port` that may resume there. Defined in
/// src/session_cache.cpp. (SSL_set_ex_data, SSL_set_session)
[[nodiscard]] Result<void> offer_cached_session(SSL* ssl, std::string_view host,
                                                std::uint16_t port);

/// True when the context feeds a ClientSessionCache. Defined in src/session_cache.cpp.
[[nodiscard]] bool has_client_session_cache(const SSL_CTX* ctx) noexcept;

/// Installs the new-session callback (once per context), which files client sessions
/// in the ClientSessionCache and hands server sessions to store_new_session(). Defined in
/// src/session_cache.cpp, the slot's owner. (SSL_CTX_sess_set_new_cb)
void install_new_session_callback(SSL_CTX* ctx, CtxState& state) noexcept;

/// Puts a session a server made into the context's SessionStore (if it has one and the
/// session is looked up by id), reporting a failure to the store's error callback.
/// Defined in src/session_store.cpp. (i2d_SSL_SESSION)
void store_new_session(SSL* ssl, SSL_SESSION* session) noexcept;

/// True when the context resumes through a SessionStore. Defined in src/session_store.cpp.
[[nodiscard]] bool has_session_store(const SSL_CTX* ctx) noexcept;

/// A certificate a server context presents, with the chain sent after it.
struct ServedCert {
  X509 cert;
  std::vector<X509> chain;
};

/// Returns the context's SNI certificates (copies sharing the objects), none when it
/// has no SNI table. Defined in src/sni.cpp.
[[nodiscard]] std::vector<ServedCert> sni_served_certs(const SSL_CTX* ctx);

}  // namespace ossl::detail
