// ossl: SessionStore, where a server keeps the sessions it resumes by id (TLS 1.2 session
// IDs, TLS 1.3 stateful tickets), so that several contexts, a reloaded context or a
// fleet of server processes resume each other's sessions; and MemorySessionStore, the
// in-process implementation. A Redis implementation is in <ossl/redis_session_store.hpp>
// (optional: needs hiredis). src/session_store.cpp owns the context's get-session and
// remove-session callback slots.
#pragma once

#include <ossl/detail/export.hpp>
#include <ossl/error.hpp>
#include <ossl/result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

namespace ossl {

/// The interface of a server-side session store: sessions, serialised (SslSession's
/// DER, which holds the session's secrets), filed under their session id.
///
/// Attached to a server context (SslCtx::set_session_store(), builder session_store()),
/// it replaces OpenSSL's per-context cache: OpenSSL's new-session callback puts each
/// session the server makes, its get-session callback looks the id a client offers up
/// (get() for a TLS 1.2 session ID; take() for a TLS 1.3 ticket, used once: RFC 8446
/// section 8.1 and C.4, and the anti-replay of early data), and its remove-session
/// callback removes one OpenSSL gives up on (expired, or its connection failed).
///
/// The calls run inside the handshake, on the thread driving it, possibly on several
/// threads at once: an implementation is thread-safe and answers quickly (a network
/// store bounds each call with a timeout). A call that cannot be answered returns an
/// error naming why; ossl then goes on as if the store had nothing (a full handshake,
/// never a failed one) and reports the error to the context's error callback. No
/// exception may leave a call (they run inside OpenSSL).
class OSSL_API SessionStore {
 public:
  /// A serialised session, as stored.
  using Bytes = std::vector<std::byte>;

  /// Destroys the store (the sessions in it go with an in-process store).
  virtual ~SessionStore();
  SessionStore(const SessionStore&) = delete;
  SessionStore& operator=(const SessionStore&) = delete;

  /// Files `session` under `id` (1 to 32 bytes) for `lifetime` (at least one second),
  /// replacing what was there. An error when it could not be stored.
  [[nodiscard]] virtual Result<void> put(std::span<const std::byte> id,
                                         std::span<const std::byte> session,
                                         std::chrono::seconds lifetime) = 0;
  /// Returns the session filed under `id`, empty when there is none (or it expired); it
  /// stays in the store. An error when the store could not be asked.
  [[nodiscard]] virtual Result<std::optional<Bytes>> get(std::span<const std::byte> id) = 0;
  /// Returns the session filed under `id` and removes it in the same step, so that two
  /// servers asking at once never both get it. Empty when there is none. TLS 1.3
  /// resumption and early data's anti-replay rest on this being atomic: a store whose
  /// take() is a get() then a remove() lets a recorded ClientHello's early data through
  /// twice.
  [[nodiscard]] virtual Result<std::optional<Bytes>> take(std::span<const std::byte> id) = 0;
  /// Removes the session filed under `id`, if any.
  [[nodiscard]] virtual Result<void> remove(std::span<const std::byte> id) = 0;

 protected:
  /// For implementations.
  SessionStore() = default;
};

/// A SessionStore in this process's memory: at most max_entries() sessions, the least
/// recently used evicted first, expired ones dropped when met. One store may serve
/// several server contexts (the SNI contexts of one server, or a context and the one
/// that replaces it on reload) so that their sessions resume across them. Thread-safe
/// (one mutex, held for a map operation).
class OSSL_API MemorySessionStore final : public SessionStore {
 public:
  /// What the store has done since it was made (each count only grows).
  struct Stats {
    std::uint64_t stored = 0;   ///< put() calls that stored a session
    std::uint64_t found = 0;    ///< get() and take() calls that found one
    std::uint64_t missed = 0;   ///< get() and take() calls that found none
    std::uint64_t evicted = 0;  ///< sessions dropped for capacity or expiry
  };

  /// Makes an empty store holding at most `max_entries` sessions (0 is taken as 1).
  explicit MemorySessionStore(std::size_t max_entries = 20480);
  /// Frees the store and the sessions in it.
  ~MemorySessionStore() override;

  /// Stores a copy of `session` under `id`, evicting the least recently used session
  /// when full. An id of 0 or more than 32 bytes, an empty session or a lifetime under
  /// one second is an error naming it.
  [[nodiscard]] Result<void> put(std::span<const std::byte> id, std::span<const std::byte> session,
                                 std::chrono::seconds lifetime) override;
  /// Returns a copy of the session under `id` unless it expired (then it is dropped).
  [[nodiscard]] Result<std::optional<Bytes>> get(std::span<const std::byte> id) override;
  /// get() that removes the session.
  [[nodiscard]] Result<std::optional<Bytes>> take(std::span<const std::byte> id) override;
  /// Removes the session under `id`; no error when there is none.
  [[nodiscard]] Result<void> remove(std::span<const std::byte> id) override;

  /// Returns the number of sessions held (expired ones not yet met included).
  [[nodiscard]] std::size_t size() const;
  /// Returns the most sessions held (the limit given at construction, at least one).
  [[nodiscard]] std::size_t max_entries() const noexcept { return max_entries_; }
  /// Returns the counters.
  [[nodiscard]] Stats stats() const;
  /// Forgets every session (the counters stay).
  void clear();

 private:
  struct Impl;
  std::size_t max_entries_;
  std::unique_ptr<Impl> impl_;
};

/// What a server context's session store has been asked, as the context saw it
/// (SslCtx::session_store_stats()). Each count only grows.
struct SessionStoreStats {
  std::uint64_t stored = 0;   ///< sessions put in the store
  std::uint64_t found = 0;    ///< lookups that found the session the client offered
  std::uint64_t missed = 0;   ///< lookups that found none (a full handshake followed)
  std::uint64_t removed = 0;  ///< sessions OpenSSL gave up on, removed from the store
  std::uint64_t failed = 0;   ///< calls that failed (each reported to the error callback)
};

/// Called with the reason each time a session store call fails (the store is down, an
/// entry too large, a stored session that does not decode). It runs inside the handshake
/// on the thread driving it, possibly on several at once; it must not throw. The
/// handshake goes on without the store.
using SessionStoreErrorCallback = std::function<void(const ErrorStack& error)>;

}  // namespace ossl
