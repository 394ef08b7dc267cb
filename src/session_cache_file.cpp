// Saving a ClientSessionCache for another process, and loading it back.
//
// A session resumes only where its authentication still holds. In one process ossl's
// binding (src/verify.cpp) ties a session to its context by a per-process key, so a
// session read back elsewhere would be refused. The export therefore carries the
// verification fingerprint of the context that made the sessions (a SHA-256 over its
// trust and verification settings, the same in any process configured alike); a
// context loads them only when its own fingerprint is the same, and binds each to
// itself as if its own handshake had verified it.
//
// The format (all numbers big-endian):
//   "ossl client sessions v1\n"      24 bytes
//   fingerprint                      32 bytes
//   entry count                      4 bytes
//   per entry, newest first within a peer, the most recently used peer first:
//     port 2 bytes, host length 2 bytes (1..255), host,
//     session length 4 bytes (1..1 MiB), the session (i2d_SSL_SESSION)
#include <ossl/session_cache.hpp>

#include <ossl/context.hpp>
#include <ossl/ssl.hpp>

#include "ctx_state.hpp"
#include "internal.hpp"
#include "session_cache_impl.hpp"
#include "verify_policy.hpp"

#include <ossl/detail/check.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <ranges>
#include <string>
#include <utility>
#include <vector>

namespace ossl {

namespace {

constexpr std::string_view kMagic = "ossl client sessions v1\n";
constexpr std::size_t kMaxHost = 255;
constexpr std::size_t kMaxSession = std::size_t{1} << 20;
constexpr std::size_t kMaxEntries = std::size_t{1} << 20;
constexpr std::size_t kMaxFile = std::size_t{256} << 20;

struct Entry {
  std::string host;
  std::uint16_t port = 0;
  SslSession session;
};

struct Parsed {
  detail::Sha256 fingerprint{};
  std::vector<Entry> entries;  // as written: newest first within a peer, MRU peer first
};

class Writer {
 public:
  void number(std::uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i)
      out_.push_back(static_cast<std::byte>(v >> (8 * i)));
  }
  void bytes(std::span<const std::byte> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  void text(std::string_view t) { bytes(std::as_bytes(std::span(t.data(), t.size()))); }
  std::vector<std::byte> take() { return std::move(out_); }

 private:
  std::vector<std::byte> out_;
};

class Reader {
 public:
  explicit Reader(std::span<const std::byte> in) : in_(in) {}
  [[nodiscard]] bool bytes(std::size_t n, std::span<const std::byte>& out) {
    if (in_.size() - at_ < n) return false;
    out = in_.subspan(at_, n);
    at_ += n;
    return true;
  }
  [[nodiscard]] bool number(int n, std::uint64_t& out) {
    std::span<const std::byte> b;
    if (!bytes(static_cast<std::size_t>(n), b)) return false;
    out = 0;
    for (std::byte x : b)
      out = (out << 8) | std::to_integer<std::uint64_t>(x);
    return true;
  }
  [[nodiscard]] std::size_t at() const noexcept { return at_; }
  [[nodiscard]] std::size_t left() const noexcept { return in_.size() - at_; }

 private:
  std::span<const std::byte> in_;
  std::size_t at_ = 0;
};

// Joins the parts of a message (strings, string views, C strings) into one string.
template <class... Parts>
std::string join(const Parts&... parts) {
  std::string out;
  (out += ... += parts);
  return out;
}

// Reads entry `index` (0-based) of `count`; `size` is the whole input's, for messages.
Result<Entry> parse_entry(Reader& r, const std::string& what, std::uint64_t index,
                          std::uint64_t count, std::size_t size) {
  const std::string nth =
      join("session ", std::to_string(index + 1), " of ", std::to_string(count));
  const std::string which = join(what, ": ", nth);
  const auto truncated = [&] {
    return ErrorStack::message(
        join(what, ": truncated in ", nth, " (the data ends at byte ", std::to_string(size), ")"));
  };
  std::uint64_t port = 0;
  std::uint64_t host_len = 0;
  std::span<const std::byte> host;
  if (!r.number(2, port) || !r.number(2, host_len)) return truncated();
  if (host_len == 0 || host_len > kMaxHost) {
    return ErrorStack::message(join(which, " names a host of ", std::to_string(host_len),
                                    " bytes (1 to ", std::to_string(kMaxHost), " expected)"));
  }
  if (!r.bytes(static_cast<std::size_t>(host_len), host)) return truncated();
  Entry e;
  e.host.assign(reinterpret_cast<const char*>(host.data()), host.size());
  e.port = static_cast<std::uint16_t>(port);
  if (e.host.find('\0') != std::string::npos) {
    return ErrorStack::message(join(which, " names a host with a NUL byte"));
  }
  const std::string peer = join(which, " (", e.host, ":", std::to_string(e.port), ")");
  std::uint64_t der_len = 0;
  std::span<const std::byte> der;
  if (!r.number(4, der_len)) return truncated();
  if (der_len == 0 || der_len > kMaxSession) {
    return ErrorStack::message(join(peer, " holds a session of ", std::to_string(der_len),
                                    " bytes (1 to ", std::to_string(kMaxSession), " expected)"));
  }
  if (!r.bytes(static_cast<std::size_t>(der_len), der)) return truncated();
  auto session = SslSession::from_der(der);
  if (!session) return std::move(session).error().with_context(peer);
  e.session = std::move(*session);
  return e;
}

// Parses and checks a whole export, decoding every session; nothing is filed yet.
Result<Parsed> parse(std::span<const std::byte> bytes, const std::string& what) {
  Reader r(bytes);
  std::span<const std::byte> magic;
  if (!r.bytes(kMagic.size(), magic) ||
      std::memcmp(magic.data(), kMagic.data(), kMagic.size()) != 0) {
    return ErrorStack::message(join(what,
                                    ": not a session file written by ClientSessionCache (it "
                                    "does not start with \"ossl client sessions v1\")"));
  }
  Parsed out;
  std::span<const std::byte> print;
  std::uint64_t count = 0;
  if (!r.bytes(out.fingerprint.size(), print) || !r.number(4, count)) {
    return ErrorStack::message(
        join(what, ": truncated in the header (", std::to_string(bytes.size()), " bytes)"));
  }
  std::memcpy(out.fingerprint.data(), print.data(), print.size());
  if (count > kMaxEntries) {
    return ErrorStack::message(join(what, ": the header counts ", std::to_string(count),
                                    " sessions, more than the ", std::to_string(kMaxEntries),
                                    " a file may hold"));
  }
  for (std::uint64_t i = 0; i < count; ++i) {
    auto entry = parse_entry(r, what, i, count, bytes.size());
    if (!entry) return std::move(entry).error();
    out.entries.push_back(std::move(*entry));
  }
  if (r.left() != 0) {
    return ErrorStack::message(join(what, ": ", std::to_string(r.left()),
                                    " bytes follow the last session (at byte ",
                                    std::to_string(r.at()), ")"));
  }
  return out;
}

// A client connection of `ctx` naming `host` as new_ssl_for_host() would, without a
// cached session: what the binding of a session for `host` is computed from.
Result<Ssl> probe(const SslCtx& ctx, const std::string& host) {
  auto ssl = ctx.new_ssl();
  if (!ssl) return ssl;
  ssl->set_connect_state();
  if (auto ok = ssl->set_peer_host(host); !ok) return std::move(ok).error();
  return ssl;
}

std::string system_error(const std::string& what, const std::string& step, int error) {
  return what + ": " + step + ": " + std::strerror(error);
}

}  // namespace

namespace detail {

// Saving and loading, with the cache's inside: export_all() for export_sessions() and
// save(), apply() for import_sessions() and load().
struct SessionFileAccess {
  static ErrorStack not_fed(const std::string& what) {
    return ErrorStack::message(what +
                               ": the context does not feed this cache (attach it with "
                               "set_client_session_cache() or the builder's "
                               "client_session_cache() first)");
  }

  // Writes the sessions `ctx` filed in `cache` (the export_sessions() format) and counts
  // them in `count`; TLS 1.3 tickets leave the cache.
  static Result<std::vector<std::byte>> export_all(ClientSessionCache& cache, const SslCtx& ctx,
                                                   std::string_view hook_label,
                                                   const std::string& what, std::uint64_t& count) {
    if (!ctx) return ErrorStack::message(what + ": empty SslCtx");
    if (ctx.client_session_cache().get() != &cache) return not_fed(what);
    auto print = verification_fingerprint(ctx.native_handle(), hook_label, what.c_str());
    if (!print) return std::move(print).error();
    const CtxState* state = find_ctx_state(ctx.native_handle());
    if (state == nullptr) return failure(what);

    // The context's peers, most recently used first.
    struct PeerCopy {
      std::string host;
      std::uint16_t port;
      std::vector<SslSession> sessions;  // newest first
    };
    std::vector<PeerCopy> copies;
    {
      ClientSessionCache::Impl& c = *cache.impl_;
      const std::lock_guard lock(c.mutex);
      for (auto it = c.peers.begin(); it != c.peers.end();) {
        ClientSessionCache::Impl::Peer& p = *it;
        const auto next = std::next(it);
        if (p.context == state->id) {
          PeerCopy& copy = copies.emplace_back(PeerCopy{p.host, p.port, {}});
          std::deque<SslSession> kept;
          for (SslSession& s : p.sessions) {
            if (s.protocol_version() == TlsVersion::Tls13) {
              copy.sessions.push_back(std::move(s));
              --c.size;
            } else {
              copy.sessions.push_back(s);
              kept.push_back(std::move(s));
            }
          }
          p.sessions.swap(kept);
          if (p.sessions.empty()) c.erase(it);
        }
        it = next;
      }
    }

    Writer body;
    count = 0;
    const auto now = SslSession::Clock::now();
    for (const PeerCopy& copy : copies) {
      if (copy.host.size() > kMaxHost) continue;  // no DNS name or IP is as long
      auto ssl = probe(ctx, copy.host);
      if (!ssl) return std::move(ssl).error().with_context(what);
      for (const SslSession& s : copy.sessions) {
        if (ClientSessionCache::Impl::expired(s, now)) continue;
        ERR_set_mark();  // a binding that no longer holds queues nothing of the caller's
        const bool binds =
            check_session_binding(ssl->native_handle(), s.native_handle(), what.c_str())
                .has_value();
        ERR_pop_to_mark();
        if (!binds) continue;  // authenticated under an earlier policy
        auto der = s.to_der();
        if (!der) return std::move(der).error().with_context(what);
        if (der->size() > kMaxSession) continue;
        body.number(copy.port, 2);
        body.number(copy.host.size(), 2);
        body.text(copy.host);
        body.number(der->size(), 4);
        body.bytes(*der);
        ++count;
      }
    }
    Writer w;
    w.text(kMagic);
    w.bytes(std::as_bytes(std::span(print->data(), print->size())));
    w.number(count, 4);
    w.bytes(body.take());
    return w.take();
  }

  // Files the parsed sessions under `ctx` when the fingerprint matches (put() takes the
  // lock per session).
  static Result<ClientSessionCache::LoadReport> apply(ClientSessionCache& cache, const SslCtx& ctx,
                                                      Parsed parsed, std::string_view hook_label,
                                                      const std::string& what) {
    ClientSessionCache::LoadReport report;
    report.found = true;
    auto print = verification_fingerprint(ctx.native_handle(), hook_label, what.c_str());
    if (!print) return std::move(print).error();
    if (*print != parsed.fingerprint) {
      report.verification_changed = true;
      return report;
    }
    const CtxState* state = find_ctx_state(ctx.native_handle());
    if (state == nullptr) return failure(what);
    const auto now = SslSession::Clock::now();
    Ssl ssl;  // a probe for the entry's host, kept while the host repeats
    std::string ssl_host;
    // Oldest first, so each put() leaves the order the export had.
    for (Entry& e : std::views::reverse(parsed.entries)) {
      if (ClientSessionCache::Impl::expired(e.session, now)) {
        ++report.expired;
        continue;
      }
      if (!ssl || ssl_host != e.host) {
        auto made = probe(ctx, e.host);
        if (!made) return std::move(made).error().with_context(what);
        ssl = std::move(*made);
        ssl_host = e.host;
      }
      // The session was decoded here: this reference is its only one.
      if (auto ok = bind_session(ssl.native_handle(), e.session.native_handle(), what.c_str());
          !ok) {
        return ok.error();
      }
      cache.impl_->put(state->id, e.host, e.port, std::move(e.session), cache.max_peers_,
                       cache.max_per_peer_);
      ++report.loaded;
    }
    return report;
  }
};

}  // namespace detail

Result<std::vector<std::byte>> ClientSessionCache::export_sessions(const SslCtx& ctx,
                                                                   std::string_view hook_label) {
  std::uint64_t count = 0;
  return detail::SessionFileAccess::export_all(*this, ctx, hook_label,
                                               "ClientSessionCache::export_sessions", count);
}

Result<ClientSessionCache::LoadReport> ClientSessionCache::import_sessions(
    const SslCtx& ctx, std::span<const std::byte> bytes, std::string_view hook_label) {
  const std::string what = "ClientSessionCache::import_sessions";
  if (!ctx) return ErrorStack::message(what + ": empty SslCtx");
  if (ctx.client_session_cache().get() != this) return detail::SessionFileAccess::not_fed(what);
  auto parsed = parse(bytes, what);
  if (!parsed) return std::move(parsed).error();
  return detail::SessionFileAccess::apply(*this, ctx, std::move(*parsed), hook_label, what);
}

Result<std::size_t> ClientSessionCache::save(const SslCtx& ctx, std::string_view path,
                                             std::string_view hook_label) {
  const std::string what = "ClientSessionCache::save(\"" + std::string(path) + "\")";
  if (path.empty() || path.find('\0') != std::string_view::npos) {
    return ErrorStack::message(what + ": not a file name");
  }
  std::uint64_t count = 0;
  auto bytes = detail::SessionFileAccess::export_all(*this, ctx, hook_label, what, count);
  if (!bytes) return std::move(bytes).error();

  // mkstemp makes the file with mode 0600 beside the target, so the rename is atomic.
  std::string temp = std::string(path) + ".XXXXXX";
  const int fd = ::mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) return ErrorStack::message(system_error(what, "creating " + temp, errno));
  const std::byte* p = bytes->data();
  std::size_t left = bytes->size();
  int error = 0;
  while (left > 0 && error == 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = errno;
    } else {
      p += n;
      left -= static_cast<std::size_t>(n);
    }
  }
  if (error == 0 && ::fsync(fd) != 0) error = errno;
  if (::close(fd) != 0 && error == 0) error = errno;
  if (error == 0 && ::rename(temp.c_str(), std::string(path).c_str()) != 0) error = errno;
  if (error != 0) {
    (void)::unlink(temp.c_str());
    return ErrorStack::message(system_error(what, "writing " + temp, error));
  }
  return static_cast<std::size_t>(count);
}

Result<ClientSessionCache::LoadReport> ClientSessionCache::load(const SslCtx& ctx,
                                                                std::string_view path,
                                                                std::string_view hook_label) {
  const std::string what = "ClientSessionCache::load(\"" + std::string(path) + "\")";
  if (path.empty() || path.find('\0') != std::string_view::npos) {
    return ErrorStack::message(what + ": not a file name");
  }
  if (!ctx) return ErrorStack::message(what + ": empty SslCtx");
  if (ctx.client_session_cache().get() != this) return detail::SessionFileAccess::not_fed(what);
  const std::string name(path);
  const int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    if (errno == ENOENT) return LoadReport{};
    return ErrorStack::message(system_error(what, "opening it", errno));
  }
  struct Close {
    int fd;
    ~Close() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return ErrorStack::message(system_error(what, "fstat", errno));
  const unsigned bits = static_cast<unsigned>(st.st_mode) & 07777u;
  const std::string mode = {
      static_cast<char>('0' + ((bits >> 9) & 7)), static_cast<char>('0' + ((bits >> 6) & 7)),
      static_cast<char>('0' + ((bits >> 3) & 7)), static_cast<char>('0' + (bits & 7))};
  if (!S_ISREG(st.st_mode)) return ErrorStack::message(what + ": not a regular file");
  if (st.st_uid != ::geteuid()) {
    return ErrorStack::message(what + ": owned by user " + std::to_string(st.st_uid) +
                               ", not by this process's user (" + std::to_string(::geteuid()) +
                               "); session files hold secrets and are loaded only from their "
                               "owner");
  }
  if ((st.st_mode & 077) != 0) {
    return ErrorStack::message(what + ": others may read or write it (mode " + mode +
                               "); session files hold secrets: chmod 600 it (save() writes "
                               "0600)");
  }
  if (static_cast<std::uint64_t>(st.st_size) > kMaxFile) {
    return ErrorStack::message(what + ": " + std::to_string(st.st_size) +
                               " bytes, more than a session file may hold (" +
                               std::to_string(kMaxFile) + ")");
  }
  std::vector<std::byte> bytes(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrorStack::message(system_error(what, "reading it", errno));
    if (n == 0) break;  // shrank meanwhile: parse() says it is truncated
    got += static_cast<std::size_t>(n);
  }
  bytes.resize(got);
  auto parsed = parse(bytes, what);
  OPENSSL_cleanse(bytes.data(), bytes.size());
  if (!parsed) return std::move(parsed).error();
  // Removed before the sessions are filed: a TLS 1.3 ticket must reach one process only.
  if (::unlink(name.c_str()) != 0) {
    return ErrorStack::message(system_error(
        what, "removing it after reading (its TLS 1.3 tickets must be used once)", errno));
  }
  return detail::SessionFileAccess::apply(*this, ctx, std::move(*parsed), hook_label, what);
}

}  // namespace ossl
