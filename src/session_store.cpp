// SessionStore's server-side plumbing and MemorySessionStore. This file owns the
// context's get-session and remove-session callback slots; the new-session slot belongs
// to src/session_cache.cpp, whose callback hands server sessions to store_new_session().
//
// OpenSSL's rules relied on:
// - the cache mode SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL makes the
//   callbacks the only cache: no session is kept in, or looked up from, the context;
// - SSL_OP_NO_TICKET makes a TLS 1.2 server resume by session ID and a TLS 1.3 server
//   issue stateful tickets (the ticket is the session ID), both looked up through the
//   get-session callback; without it a TLS 1.3 server's new-session callback still runs
//   with a dummy ID, which is not stored;
// - the get-session callback returns a session whose reference OpenSSL takes (*copy = 0);
//   OpenSSL then checks the session id context and the expiry itself;
// - the remove-session callback runs for a session OpenSSL gives up on (expired, or its
//   connection freed without close_notify) whether or not it was in the internal cache.
#include <ossl/session_store.hpp>

#include <ossl/context.hpp>

#include "ctrl.hpp"
#include "ctx_state.hpp"
#include "internal.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

namespace ossl {

SessionStore::~SessionStore() = default;

// ---- MemorySessionStore ----

namespace {

Result<void> check_id(std::span<const std::byte> id, const char* what) {
  if (id.empty() || id.size() > SSL_MAX_SSL_SESSION_ID_LENGTH) {
    return ErrorStack::message(std::string(what) + ": a session id is 1 to " +
                               std::to_string(SSL_MAX_SSL_SESSION_ID_LENGTH) + " bytes, got " +
                               std::to_string(id.size()));
  }
  return {};
}

}  // namespace

struct MemorySessionStore::Impl {
  using Clock = std::chrono::steady_clock;
  struct Entry {
    std::string id;
    Bytes session;
    Clock::time_point expires;
  };
  mutable std::mutex mutex;
  std::list<Entry> entries;  // most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> index;
  Stats stats;

  static std::string key_of(std::span<const std::byte> id) {
    return {reinterpret_cast<const char*>(id.data()), id.size()};
  }

  // The live entry under `id` (expired ones are dropped), or end(); the lock held.
  std::list<Entry>::iterator find(std::span<const std::byte> id) {
    const auto found = index.find(key_of(id));
    if (found == index.end()) return entries.end();
    if (found->second->expires <= Clock::now()) {
      entries.erase(found->second);
      index.erase(found);
      ++stats.evicted;
      return entries.end();
    }
    return found->second;
  }

  // get() (the entry becomes the most recently used) or take() (the entry goes).
  Result<std::optional<Bytes>> lookup(std::span<const std::byte> id, bool remove,
                                      const char* what) {
    if (auto r = check_id(id, what); !r) return std::move(r).error();
    const std::lock_guard lock(mutex);
    const auto it = find(id);
    if (it == entries.end()) {
      ++stats.missed;
      return std::optional<Bytes>();
    }
    ++stats.found;
    if (!remove) {
      entries.splice(entries.begin(), entries, it);
      return std::optional<Bytes>(it->session);
    }
    std::optional<Bytes> out(std::move(it->session));
    index.erase(it->id);
    entries.erase(it);
    return out;
  }
};

MemorySessionStore::MemorySessionStore(std::size_t max_entries)
    : max_entries_(std::max<std::size_t>(max_entries, 1)), impl_(std::make_unique<Impl>()) {}

MemorySessionStore::~MemorySessionStore() = default;

Result<void> MemorySessionStore::put(std::span<const std::byte> id,
                                     std::span<const std::byte> session,
                                     std::chrono::seconds lifetime) {
  static constexpr const char* what = "MemorySessionStore::put";
  if (auto r = check_id(id, what); !r) return r;
  if (session.empty()) return ErrorStack::message(std::string(what) + ": empty session");
  if (lifetime.count() < 1) {
    return ErrorStack::message(std::string(what) + ": a lifetime of " +
                               std::to_string(lifetime.count()) + " s (at least 1 s)");
  }
  Impl::Entry entry{Impl::key_of(id), Bytes(session.begin(), session.end()),
                    Impl::Clock::now() + lifetime};
  std::list<Impl::Entry> dropped;  // freed after the lock
  const std::lock_guard lock(impl_->mutex);
  if (const auto found = impl_->index.find(entry.id); found != impl_->index.end()) {
    dropped.splice(dropped.begin(), impl_->entries, found->second);
    impl_->index.erase(found);
  }
  while (impl_->entries.size() >= max_entries_) {
    impl_->index.erase(impl_->entries.back().id);
    dropped.splice(dropped.begin(), impl_->entries, std::prev(impl_->entries.end()));
    ++impl_->stats.evicted;
  }
  impl_->entries.push_front(std::move(entry));
  impl_->index.emplace(impl_->entries.front().id, impl_->entries.begin());
  ++impl_->stats.stored;
  return {};
}

Result<std::optional<SessionStore::Bytes>> MemorySessionStore::get(std::span<const std::byte> id) {
  return impl_->lookup(id, false, "MemorySessionStore::get");
}

Result<std::optional<SessionStore::Bytes>> MemorySessionStore::take(std::span<const std::byte> id) {
  return impl_->lookup(id, true, "MemorySessionStore::take");
}

Result<void> MemorySessionStore::remove(std::span<const std::byte> id) {
  if (auto r = check_id(id, "MemorySessionStore::remove"); !r) return r;
  const std::lock_guard lock(impl_->mutex);
  if (const auto found = impl_->index.find(Impl::key_of(id)); found != impl_->index.end()) {
    impl_->entries.erase(found->second);
    impl_->index.erase(found);
  }
  return {};
}

std::size_t MemorySessionStore::size() const {
  const std::lock_guard lock(impl_->mutex);
  return impl_->entries.size();
}

MemorySessionStore::Stats MemorySessionStore::stats() const {
  const std::lock_guard lock(impl_->mutex);
  return impl_->stats;
}

void MemorySessionStore::clear() {
  std::list<Impl::Entry> dropped;  // freed after the lock
  const std::lock_guard lock(impl_->mutex);
  dropped.swap(impl_->entries);
  impl_->index.clear();
}

// ---- the context's callbacks ----

namespace detail {

/// The counters behind SslCtx::session_store_stats(), shared by the configurations a
/// context is given in turn (replacing the store keeps the counts).
struct StoreCounters {
  std::atomic<std::uint64_t> stored{0};
  std::atomic<std::uint64_t> found{0};
  std::atomic<std::uint64_t> missed{0};
  std::atomic<std::uint64_t> removed{0};
  std::atomic<std::uint64_t> failed{0};
};

/// The store a server context resumes through (a snapshot in CtxState::session_store).
struct SessionStoreConfig {
  std::shared_ptr<SessionStore> store;
  SessionStoreErrorCallback on_error;
  std::shared_ptr<StoreCounters> counters;
};

namespace {

std::shared_ptr<const SessionStoreConfig> store_of(const SSL_CTX* ctx) noexcept {
  const CtxState* state = find_ctx_state(ctx);
  return state != nullptr ? state->session_store.load() : nullptr;
}

std::span<const std::byte> id_of(const SSL_SESSION* session) noexcept {
  unsigned int len = 0;
  const unsigned char* id = SSL_SESSION_get_id(session, &len);  // get0
  return {reinterpret_cast<const std::byte*>(id), len};
}

// Counts a failure and hands it to the error callback, which must not throw (one that
// does is stopped here: nothing may unwind through libssl).
void report(const SessionStoreConfig& cfg, ErrorStack error, const char* doing) noexcept {
  cfg.counters->failed.fetch_add(1, std::memory_order_relaxed);
  if (!cfg.on_error) return;
#if defined(__cpp_exceptions)
  try {
#endif
    error.with_context(std::string("session store: ") + doing);
    cfg.on_error(error);
#if defined(__cpp_exceptions)
  } catch (...) {
  }
#endif
}

// The store's calls run between an error-queue mark and its pop: whatever a store queues
// must not reach the handshake (SSL_get_error reads the queue first), and the caller's
// own records stay.
template <class F>
auto store_call(F&& f) noexcept -> decltype(f()) {
  ERR_set_mark();
#if defined(__cpp_exceptions)
  try {
#endif
    auto r = f();
    ERR_pop_to_mark();
    return r;
#if defined(__cpp_exceptions)
  } catch (const std::exception& e) {
    ERR_pop_to_mark();
    return ErrorStack::message(std::string("the store threw: ") + e.what());
  } catch (...) {
    ERR_pop_to_mark();
    return ErrorStack::message("the store threw an exception that is not a std::exception");
  }
#endif
}

// SSL_CTX_sess_get_cb: looks the id a client offers up in the store. A TLS 1.3 ticket
// is taken (used once); a TLS 1.2 session ID is read and stays. Returns a new session
// whose reference OpenSSL takes (*copy = 0), or null: a full handshake.
SSL_SESSION* on_get_session(SSL* ssl, const unsigned char* id, int len, int* copy) {
  *copy = 0;
  const std::shared_ptr<const SessionStoreConfig> cfg = store_of(SSL_get_SSL_CTX(ssl));
  if (!cfg || len <= 0) return nullptr;
  const std::span<const std::byte> key(reinterpret_cast<const std::byte*>(id),
                                       static_cast<std::size_t>(len));
  const bool single_use = SSL_version(ssl) == TLS1_3_VERSION;
  auto got = store_call([&] { return single_use ? cfg->store->take(key) : cfg->store->get(key); });
  if (!got) {
    report(*cfg, std::move(got).error(), "looking a session up");
    return nullptr;
  }
  std::optional<SessionStore::Bytes> found = std::move(*got);
  if (!found) {
    cfg->counters->missed.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  const std::vector<std::byte>& der = *found;
  // The serialised session holds its secrets: wiped when this call returns.
  struct Wipe {
    std::vector<std::byte>& bytes;
    ~Wipe() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
  } const wipe{*found};
  ERR_set_mark();
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  SSL_SESSION* session = d2i_SSL_SESSION(nullptr, &p, static_cast<long>(der.size()));
  ERR_pop_to_mark();
  const bool whole =
      session != nullptr && p == reinterpret_cast<const unsigned char*>(der.data()) + der.size();
  // A store answering with another id's session would resume the wrong session.
  const bool same_id = whole && id_of(session).size() == key.size() &&
                       std::memcmp(id_of(session).data(), key.data(), key.size()) == 0;
  if (!same_id) {
    SSL_SESSION_free(session);  // null-safe
    report(*cfg,
           ErrorStack::message("the stored entry (" + std::to_string(der.size()) +
                               " bytes) is not a session serialised under that id; it is "
                               "removed and the client gets a full handshake"),
           "looking a session up");
    if (!single_use) (void)store_call([&] { return cfg->store->remove(key); });
    return nullptr;
  }
  cfg->counters->found.fetch_add(1, std::memory_order_relaxed);
  return session;
}

// SSL_CTX_sess_remove_cb: removes a session OpenSSL gives up on from the store.
void on_remove_session(SSL_CTX* ctx, SSL_SESSION* session) {
  const std::shared_ptr<const SessionStoreConfig> cfg = store_of(ctx);
  const std::span<const std::byte> id = id_of(session);
  if (!cfg || id.empty()) return;
  if (auto r = store_call([&] { return cfg->store->remove(id); }); !r) {
    report(*cfg, std::move(r).error(), "removing a session");
    return;
  }
  cfg->counters->removed.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

void store_new_session(SSL* ssl, SSL_SESSION* session) noexcept {
  const std::shared_ptr<const SessionStoreConfig> cfg = store_of(SSL_get_SSL_CTX(ssl));
  if (!cfg) return;
  const std::span<const std::byte> id = id_of(session);
  // A TLS 1.3 ticket that carries the session itself (tickets turned back on) has a
  // dummy id nobody looks up.
  const bool stateless_ticket =
      SSL_version(ssl) == TLS1_3_VERSION && (SSL_get_options(ssl) & SSL_OP_NO_TICKET) == 0;
  if (id.empty() || stateless_ticket || SSL_SESSION_is_resumable(session) != 1) return;
#if OPENSSL_VERSION_NUMBER >= 0x30300000L
  // time_t: SSL_SESSION_get_time (a long) is deprecated since 3.4 for the 2038 problem.
  const auto started = static_cast<std::int64_t>(SSL_SESSION_get_time_ex(session));
#else
  const auto started = static_cast<std::int64_t>(SSL_SESSION_get_time(session));
#endif
  const std::int64_t left = static_cast<std::int64_t>(SSL_SESSION_get_timeout(session)) -
                            (static_cast<std::int64_t>(std::time(nullptr)) - started);
  if (left < 1) return;
  std::vector<std::byte> der;
  const int size = i2d_SSL_SESSION(session, nullptr);
#if defined(__cpp_exceptions)
  try {
#endif
    if (size > 0) der.resize(static_cast<std::size_t>(size));
#if defined(__cpp_exceptions)
  } catch (...) {
    der.clear();
  }
#endif
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  if (der.empty() || i2d_SSL_SESSION(session, &out) != size) {
    ERR_clear_error();
    report(*cfg, ErrorStack::message("the session could not be serialised"), "storing a session");
    return;
  }
  auto r = store_call([&] { return cfg->store->put(id, der, std::chrono::seconds(left)); });
  OPENSSL_cleanse(der.data(), der.size());  // the session's secrets
  if (!r) {
    report(*cfg, std::move(r).error(), "storing a session");
    return;
  }
  cfg->counters->stored.fetch_add(1, std::memory_order_relaxed);
}

bool has_session_store(const SSL_CTX* ctx) noexcept {
  return store_of(ctx) != nullptr;
}

}  // namespace detail

Result<void> SslCtx::set_session_store(std::shared_ptr<SessionStore> store,
                                       SessionStoreErrorCallback on_error) {
  static constexpr const char* what = "SslCtx::set_session_store";
  if (!*this) return empty_error("set_session_store");
  detail::CtxState* state = detail::ctx_state(native_handle());
  if (state == nullptr) return detail::failure(what);
  const std::lock_guard lock(state->update_mutex);
  const std::shared_ptr<const detail::SessionStoreConfig> old = state->session_store.load();
  if (!store) {
    // Detached: the callbacks stay (OpenSSL reads the fields unlocked) and find nothing;
    // OpenSSL's own cache and tickets come back.
    state->session_store.store(nullptr);
    if (old) {
      detail::ctx_set_session_cache_mode(native_handle(),
                                         (detail::ctx_get_session_cache_mode(native_handle()) &
                                          ~static_cast<long>(SSL_SESS_CACHE_NO_INTERNAL)));
      SSL_CTX_clear_options(native_handle(), SSL_OP_NO_TICKET);
      // OpenSSL's anti-replay back in charge of early data (src/early_data.cpp).
      if (!state->early_data_replay_allowed.load()) {
        SSL_CTX_clear_options(native_handle(), SSL_OP_NO_ANTI_REPLAY);
      }
    }
    return {};
  }
  if (state->ticket_keys.load()) {
    return ErrorStack::message(std::string(what) +
                               ": the context resumes through ticket keys (set_ticket_keys); a "
                               "context resumes through ticket keys or a session store, not both");
  }
  auto cfg = std::make_shared<detail::SessionStoreConfig>();
  cfg->store = std::move(store);
  cfg->on_error = std::move(on_error);
  cfg->counters = old ? old->counters : std::make_shared<detail::StoreCounters>();
  state->session_store.store(std::move(cfg));
  // The store is the only cache (nothing kept in the context), and sessions are
  // resumed by id: TLS 1.2 session IDs, TLS 1.3 stateful tickets.
  detail::ctx_set_session_cache_mode(
      native_handle(), detail::ctx_get_session_cache_mode(native_handle()) | SSL_SESS_CACHE_SERVER |
                           SSL_SESS_CACHE_NO_INTERNAL);
  // Early data's anti-replay is the store's take() (a TLS 1.3 ticket resumes once):
  // OpenSSL's own would remove each session from the internal cache, which a store
  // leaves empty, and so refuse every ticket while early data is on
  // (src/early_data.cpp).
  SSL_CTX_set_options(native_handle(), SSL_OP_NO_TICKET | SSL_OP_NO_ANTI_REPLAY);
  if (state->install_once(detail::kGetSessionSlot)) {
    SSL_CTX_sess_set_get_cb(native_handle(), detail::on_get_session);
    SSL_CTX_sess_set_remove_cb(native_handle(), detail::on_remove_session);
  }
  detail::install_new_session_callback(native_handle(), *state);
  return {};
}

std::shared_ptr<SessionStore> SslCtx::session_store() const {
  if (!*this) return nullptr;
  const auto cfg = detail::store_of(native_handle());
  return cfg ? cfg->store : nullptr;
}

SessionStoreStats SslCtx::session_store_stats() const {
  SessionStoreStats out;
  if (!*this) return out;
  const auto cfg = detail::store_of(native_handle());
  if (!cfg) return out;
  const auto& c = *cfg->counters;
  out.stored = c.stored.load(std::memory_order_relaxed);
  out.found = c.found.load(std::memory_order_relaxed);
  out.missed = c.missed.load(std::memory_order_relaxed);
  out.removed = c.removed.load(std::memory_order_relaxed);
  out.failed = c.failed.load(std::memory_order_relaxed);
  return out;
}

}  // namespace ossl
