// ossl: ossl::RedisSessionStore, a SessionStore in Redis, so that a fleet of server
// processes resumes each other's TLS 1.2 session IDs and TLS 1.3 stateful tickets.
// Header-only and optional: it needs hiredis (Debian's libhiredis-dev, 0.14 or newer;
// link with -lhiredis or pkg-config hiredis), which neither the core library,
// <ossl/ossl.hpp> nor ossl.pc depend on. Redis 6.2 or newer (GETDEL).
//
//   auto store = std::make_shared<ossl::RedisSessionStore>(
//       ossl::RedisSessionStoreOptions::from_url("redis://10.0.0.5:6379").value());
//   auto server = ossl::SslCtxBuilder<ossl::Server>::create()
//                     .certificate_chain_file("cert.pem").private_key_file("key.pem")
//                     .session_store(store, [](const ossl::ErrorStack& e) { log(e); })
//                     .build();
//
// How it behaves:
// - each session is one key, "<prefix><session id in hex>", set with the session's
//   remaining lifetime as its expiry (SET ... PX), read with GET (TLS 1.2) or taken with
//   GETDEL (a TLS 1.3 ticket: used once, even when two servers ask at once);
// - every call is bounded: connecting by connect_timeout, each command by
//   command_timeout; an entry larger than max_entry_bytes is neither written nor read;
// - connections are pooled (at most max_connections, made on demand); a call that finds
//   them all busy waits up to command_timeout for one;
// - when Redis cannot be reached, or a call times out, the store is "down" for
//   retry_after: calls fail at once with the reason ("Redis at 127.0.0.1:6379 is down:
//   Connection refused; next attempt in 800 ms") instead of each handshake paying the
//   timeout; the context then makes full handshakes and reports the reason to its error
//   callback. The first call after retry_after tries again;
// - a write to a connection Redis closed does not raise SIGPIPE in the process (it is
//   blocked on the calling thread for the duration of the call and a pending one is
//   consumed), whether or not the application ignores it.
#pragma once

#include <ossl/error.hpp>
#include <ossl/result.hpp>
#include <ossl/session_store.hpp>

#include <hiredis/hiredis.h>

#include <pthread.h>
#include <signal.h>
#include <sys/time.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ossl {

/// Where RedisSessionStore finds Redis, and its bounds.
struct RedisSessionStoreOptions {
  std::string host = "127.0.0.1";                  ///< a name or address (resolved at each connect)
  std::uint16_t port = 6379;                       ///< TCP port
  std::string password;                            ///< sent with AUTH when not empty
  std::string key_prefix = "ossl:session:";        ///< keeps fleets sharing a Redis apart
  std::chrono::milliseconds connect_timeout{200};  ///< per connection attempt
  std::chrono::milliseconds command_timeout{100};  ///< per command
  std::chrono::milliseconds retry_after{1000};     ///< how long "down" lasts
  std::size_t max_connections = 8;                 ///< pooled connections, at least 1
  std::size_t max_entry_bytes = 16384;             ///< larger sessions are not stored

  /// Parses "redis://[:PASSWORD@]HOST[:PORT]" (port 6379 when left out; an IPv6
  /// address in brackets) into options with the default bounds. Anything else is an
  /// error that quotes the URL and says what is wrong with it.
  [[nodiscard]] static Result<RedisSessionStoreOptions> from_url(std::string_view url) {
    const auto bad = [url](std::string_view why) {
      return ErrorStack::message("redis URL '" + std::string(url) + "': " + std::string(why) +
                                 " (expected redis://[:PASSWORD@]HOST[:PORT])");
    };
    constexpr std::string_view scheme = "redis://";
    if (url.substr(0, scheme.size()) != scheme) return bad("does not start with redis://");
    std::string_view rest = url.substr(scheme.size());
    RedisSessionStoreOptions out;
    if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
      std::string_view auth = rest.substr(0, at);
      rest = rest.substr(at + 1);
      if (auth.empty() || auth.front() != ':')
        return bad("only a password (:PASSWORD@) is supported");
      out.password = std::string(auth.substr(1));
    }
    if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
      if (rest.substr(slash) != "/") return bad("a database number or path is not supported");
      rest = rest.substr(0, slash);
    }
    std::string_view port;
    if (!rest.empty() && rest.front() == '[') {
      const auto close = rest.find(']');
      if (close == std::string_view::npos) return bad("an IPv6 address without its ']'");
      out.host = std::string(rest.substr(1, close - 1));
      rest = rest.substr(close + 1);
      if (!rest.empty()) {
        if (rest.front() != ':') return bad("text after the IPv6 address");
        port = rest.substr(1);
        if (port.empty()) return bad("an empty port");
      }
    } else if (const auto colon = rest.rfind(':'); colon != std::string_view::npos) {
      out.host = std::string(rest.substr(0, colon));
      port = rest.substr(colon + 1);
      if (port.empty()) return bad("an empty port");
    } else {
      out.host = std::string(rest);
    }
    if (out.host.empty()) return bad("no host");
    if (!port.empty()) {
      unsigned value = 0;
      const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
      if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
        return bad("the port '" + std::string(port) + "' is not a number from 1 to 65535");
      }
      out.port = static_cast<std::uint16_t>(value);
    }
    return out;
  }
};

/// A SessionStore in Redis over hiredis (see the top of <ossl/redis_session_store.hpp>
/// for the keys, bounds and the behaviour when Redis is down). Thread-safe: calls on
/// several threads use separate pooled connections. Connects on first use.
class RedisSessionStore final : public SessionStore {
 public:
  /// Makes a store for the Redis `options` name; nothing is connected yet (ping() checks
  /// that Redis answers).
  explicit RedisSessionStore(RedisSessionStoreOptions options) : options_(std::move(options)) {
    if (options_.max_connections == 0) options_.max_connections = 1;
  }
  /// Closes the pooled connections (calls still running must have returned).
  ~RedisSessionStore() override {
    for (redisContext* c : idle_)
      redisFree(c);
  }

  /// Returns "HOST:PORT", as errors name it.
  [[nodiscard]] std::string address() const {
    return (options_.host.find(':') != std::string::npos ? "[" + options_.host + "]"
                                                         : options_.host) +
           ":" + std::to_string(options_.port);
  }
  /// Returns the options the store was made with.
  [[nodiscard]] const RedisSessionStoreOptions& options() const noexcept { return options_; }

  /// Checks that Redis answers (PING), connecting if need be; an error says why not.
  [[nodiscard]] Result<void> ping() {
    auto r = call(
        "PING", [](redisContext* c) { return static_cast<redisReply*>(redisCommand(c, "PING")); });
    if (!r) return std::move(r).error();
    return {};
  }

  /// SET key session PX lifetime. An error when the session is larger than
  /// max_entry_bytes or Redis could not store it.
  [[nodiscard]] Result<void> put(std::span<const std::byte> id, std::span<const std::byte> session,
                                 std::chrono::seconds lifetime) override {
    if (auto r = check_id(id); !r) return r;
    if (session.empty() || session.size() > options_.max_entry_bytes) {
      return ErrorStack::message("RedisSessionStore: a session of " +
                                 std::to_string(session.size()) + " bytes (the limit is 1 to " +
                                 std::to_string(options_.max_entry_bytes) +
                                 ", max_entry_bytes); not stored");
    }
    if (lifetime.count() < 1) {
      return ErrorStack::message("RedisSessionStore: a lifetime of " +
                                 std::to_string(lifetime.count()) + " s (at least 1 s)");
    }
    const std::string key = key_of(id);
    const long long ms = static_cast<long long>(lifetime.count()) * 1000;
    auto r = call("SET", [&](redisContext* c) {
      return static_cast<redisReply*>(redisCommand(c, "SET %b %b PX %lld", key.data(), key.size(),
                                                   session.data(), session.size(), ms));
    });
    if (!r) return std::move(r).error();
    return {};
  }

  /// GET key. Empty when Redis has no such key (or it expired).
  [[nodiscard]] Result<std::optional<Bytes>> get(std::span<const std::byte> id) override {
    return fetch(id, "GET");
  }
  /// GETDEL key: the session and its removal in one step.
  [[nodiscard]] Result<std::optional<Bytes>> take(std::span<const std::byte> id) override {
    return fetch(id, "GETDEL");
  }
  /// DEL key.
  [[nodiscard]] Result<void> remove(std::span<const std::byte> id) override {
    if (auto r = check_id(id); !r) return r;
    const std::string key = key_of(id);
    auto r = call("DEL", [&](redisContext* c) {
      return static_cast<redisReply*>(redisCommand(c, "DEL %b", key.data(), key.size()));
    });
    if (!r) return std::move(r).error();
    return {};
  }

 private:
  struct ReplyFree {
    void operator()(redisReply* r) const noexcept { freeReplyObject(r); }
  };
  using Reply = std::unique_ptr<redisReply, ReplyFree>;
  using Clock = std::chrono::steady_clock;

  // Blocks SIGPIPE on this thread for the guard's life; a SIGPIPE raised meanwhile (a
  // write to a connection Redis closed) is consumed, not delivered.
  class SigpipeGuard {
   public:
    SigpipeGuard() noexcept {
      sigset_t pending;
      sigemptyset(&pending);
      sigpending(&pending);
      was_pending_ = sigismember(&pending, SIGPIPE) == 1;
      sigset_t block;
      sigemptyset(&block);
      sigaddset(&block, SIGPIPE);
      blocked_ = pthread_sigmask(SIG_BLOCK, &block, &old_) == 0;
    }
    ~SigpipeGuard() {
      if (!blocked_) return;
      if (!was_pending_) {
        sigset_t pending;
        sigemptyset(&pending);
        sigpending(&pending);
        if (sigismember(&pending, SIGPIPE) == 1) {
          sigset_t pipe;
          sigemptyset(&pipe);
          sigaddset(&pipe, SIGPIPE);
          const timespec zero{0, 0};
          while (sigtimedwait(&pipe, nullptr, &zero) == -1 && errno == EINTR) {
          }
        }
      }
      pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    }
    SigpipeGuard(const SigpipeGuard&) = delete;
    SigpipeGuard& operator=(const SigpipeGuard&) = delete;

   private:
    sigset_t old_{};
    bool blocked_ = false;
    bool was_pending_ = false;
  };

  static timeval to_timeval(std::chrono::milliseconds ms) noexcept {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
    return tv;
  }

  static Result<void> check_id(std::span<const std::byte> id) {
    if (id.empty() || id.size() > 32) {
      return ErrorStack::message("RedisSessionStore: a session id is 1 to 32 bytes, got " +
                                 std::to_string(id.size()));
    }
    return {};
  }

  std::string key_of(std::span<const std::byte> id) const {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string key = options_.key_prefix;
    for (const std::byte b : id) {
      key += kHex[static_cast<unsigned>(b) >> 4];
      key += kHex[static_cast<unsigned>(b) & 15];
    }
    return key;
  }

  Result<std::optional<Bytes>> fetch(std::span<const std::byte> id, const char* command) {
    if (auto r = check_id(id); !r) return std::move(r).error();
    const std::string key = key_of(id);
    auto reply = call(command, [&](redisContext* c) {
      return static_cast<redisReply*>(redisCommand(c, "%s %b", command, key.data(), key.size()));
    });
    if (!reply) return std::move(reply).error();
    const redisReply& r = **reply;
    if (r.type == REDIS_REPLY_NIL) return std::optional<Bytes>();
    if (r.type != REDIS_REPLY_STRING) {
      return ErrorStack::message("RedisSessionStore: Redis at " + address() + " answered " +
                                 command + " with a reply of type " + std::to_string(r.type) +
                                 ", not a string");
    }
    const auto size = static_cast<std::size_t>(r.len);
    if (size > options_.max_entry_bytes) {
      return ErrorStack::message("RedisSessionStore: the entry under " + key + " has " +
                                 std::to_string(size) + " bytes, more than max_entry_bytes (" +
                                 std::to_string(options_.max_entry_bytes) + "); not read");
    }
    const auto* data = reinterpret_cast<const std::byte*>(r.str);
    return std::optional<Bytes>(Bytes(data, data + size));
  }

  // Runs one command on a pooled connection. A Redis error reply is an error naming
  // it (the connection stays); a connection or I/O failure (refused, timed out, closed)
  // discards the connection and marks the store down for retry_after.
  // A pooled connection found closed is retried once on a new one: Redis may have closed
  // it while idle (a restart, its idle timeout) and be answering again.
  template <class Command>
  Result<Reply> call(const char* name, Command&& command) {
    SigpipeGuard no_sigpipe;
    Reply reply;
    redisContext* c = nullptr;
    for (int attempt = 0;; ++attempt) {
      bool pooled = false;
      auto conn = acquire(&pooled);
      if (!conn) return std::move(conn).error();
      c = *conn;
      reply.reset(command(c));
      if (reply) break;
      // Closed under us (not a timeout: a retry would only double the wait).
      const bool closed = c->err == REDIS_ERR_EOF ||
                          (c->err == REDIS_ERR_IO && (errno == ECONNRESET || errno == EPIPE));
      const std::string why = c->errstr[0] != '\0' ? c->errstr : "no reply";
      redisFree(c);
      release(nullptr);
      if (!pooled || !closed || attempt > 0) {
        return mark_down(std::string(name) + " failed: " + why);
      }
    }
    if (reply->type == REDIS_REPLY_ERROR) {
      std::string text(reply->str, static_cast<std::size_t>(reply->len));
      release(c);
      if (text.rfind("ERR unknown command", 0) == 0) {
        text += " (RedisSessionStore needs Redis 6.2 or newer)";
      }
      return ErrorStack::message("RedisSessionStore: Redis at " + address() + " refused " + name +
                                 ": " + text);
    }
    release(c);
    return reply;
  }

  ErrorStack mark_down(std::string why) {
    const std::lock_guard lock(mutex_);
    down_until_ = Clock::now() + options_.retry_after;
    down_reason_ = std::move(why);
    return ErrorStack::message("RedisSessionStore: Redis at " + address() +
                               " is down: " + down_reason_);
  }

  // A connection of the pool's (an idle one, else a new one while under
  // max_connections, else the first released within command_timeout), or why none.
  // *pooled tells whether it was an idle one.
  Result<redisContext*> acquire(bool* pooled) {
    {
      std::unique_lock lock(mutex_);
      const auto now = Clock::now();
      if (now < down_until_) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(down_until_ - now).count();
        return ErrorStack::message("RedisSessionStore: Redis at " + address() +
                                   " is down: " + down_reason_ + "; next attempt in " +
                                   std::to_string(left) + " ms");
      }
      if (idle_.empty() && open_ >= options_.max_connections) {
        if (!released_.wait_for(lock, options_.command_timeout, [this] {
              return !idle_.empty() || open_ < options_.max_connections;
            })) {
          return ErrorStack::message("RedisSessionStore: all " +
                                     std::to_string(options_.max_connections) +
                                     " connections to Redis at " + address() + " stayed busy for " +
                                     std::to_string(options_.command_timeout.count()) + " ms");
        }
      }
      if (!idle_.empty()) {
        redisContext* c = idle_.back();
        idle_.pop_back();
        *pooled = true;
        return c;
      }
      ++open_;  // a new connection, made outside the lock
    }
    redisContext* c = redisConnectWithTimeout(options_.host.c_str(), options_.port,
                                              to_timeval(options_.connect_timeout));
    std::string why;
    if (c == nullptr) {
      why = "connecting: out of memory";
    } else if (c->err != 0) {
      why = std::string("connecting: ") + c->errstr;
    } else if (redisSetTimeout(c, to_timeval(options_.command_timeout)) != REDIS_OK) {
      why = "setting the command timeout failed";
    } else if (!options_.password.empty()) {
      Reply auth(static_cast<redisReply*>(redisCommand(c, "AUTH %s", options_.password.c_str())));
      if (!auth) {
        why = std::string("AUTH failed: ") + (c->errstr[0] != '\0' ? c->errstr : "no reply");
      } else if (auth->type == REDIS_REPLY_ERROR) {
        why = "AUTH refused: " + std::string(auth->str, static_cast<std::size_t>(auth->len));
      }
    }
    if (!why.empty()) {
      if (c != nullptr) redisFree(c);
      release(nullptr);
      return mark_down(why);
    }
    return c;
  }

  // Returns a connection to the pool, or (null) gives up one slot of a connection that
  // was closed or never made.
  void release(redisContext* c) {
    {
      const std::lock_guard lock(mutex_);
      if (c != nullptr) {
        idle_.push_back(c);
        down_until_ = {};
      } else {
        --open_;
      }
    }
    released_.notify_one();
  }

  RedisSessionStoreOptions options_;
  std::mutex mutex_;
  std::condition_variable released_;
  std::vector<redisContext*> idle_;  // connected, not in use
  std::size_t open_ = 0;             // connections made and not freed (idle or in use)
  Clock::time_point down_until_{};
  std::string down_reason_;
};

}  // namespace ossl
