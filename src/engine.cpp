// TlsEngine: an Ssl over a BIO of ours whose two ends are the engine's buffers.
//
// Why a BIO of our own rather than a BIO pair or two memory BIOs (docs/async.md has the
// measurements):
// - a BIO pair keeps its own ring buffer per direction, allocated at creation (17 KiB
//   each by default), whose pending bytes wrap: the caller sees them in two pieces, and
//   the ring cannot grow for an alert when it is full;
// - a memory BIO moves its data when it is read (BUF_MEM memmove) or reallocates when
//   written, so a span handed to an async write would dangle;
// - ours copies ciphertext exactly once each way (input buffer -> OpenSSL's record
//   buffer, OpenSSL's record buffer -> an output chunk), appends output to chunks that
//   never move, and always accepts protocol output (alerts, KeyUpdate answers), so the
//   last gasp after a fatal error is never lost.
#include <ossl/engine.hpp>

#include <ossl/detail/check.hpp>

#include "internal.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <string>
#include <utility>

namespace ossl {

namespace {

// The plaintext of one full record: what send_gather() packs before writing.
constexpr std::size_t kRecordPlaintext = 16384;
// Bytes per output chunk: one full record with its overhead (at most 16384 + 256 + 5
// in TLS 1.3, 16384 + 2048 + 5 in TLS 1.2 as the RFC allows; AEAD suites add 29).
constexpr std::size_t kChunkBytes = std::size_t{17} * 1024;

constexpr std::size_t kMinInput = 512;
constexpr std::size_t kMaxInput = std::size_t{16} << 20;
constexpr std::size_t kMaxOutputLimit = std::size_t{1} << 30;

SslIoError engine_error(const char* what, const std::string& why) {
  return SslIoError(SslIoError::Kind::Other,
                    ErrorStack::message(std::string("TlsEngine::") + what + ": " + why));
}

}  // namespace

// One block of pending output; the bytes follow the header in the same allocation.
struct TlsEngine::Chunk {
  Chunk* next = nullptr;
  std::size_t cap = 0;
  std::size_t begin = 0;  // first byte not yet sent
  std::size_t end = 0;    // one past the last byte written

  std::byte* data() noexcept { return reinterpret_cast<std::byte*>(this + 1); }
  const std::byte* data() const noexcept { return reinterpret_cast<const std::byte*>(this + 1); }

  static Chunk* make(std::size_t cap) noexcept {
    void* p = ::operator new(sizeof(Chunk) + cap, std::nothrow);
    if (p == nullptr) return nullptr;
    auto* c = new (p) Chunk;
    c->cap = cap;
    return c;
  }
  static void destroy(Chunk* c) noexcept {
    if (c == nullptr) return;
    c->~Chunk();
    ::operator delete(static_cast<void*>(c));
  }
};

// The BIO method: OpenSSL reads ciphertext from the input buffer and writes it to the
// output chunks. The BIO's data pointer is the engine (re-pointed when it moves; null
// once the engine let go of the SSL).
struct TlsEngine::Glue {
  static TlsEngine* engine(BIO* b) noexcept { return static_cast<TlsEngine*>(BIO_get_data(b)); }

  static int create(BIO* b) {
    BIO_set_init(b, 1);
    return 1;
  }

  // Copies buffered ciphertext out. No data: a retry (WantRead) unless the transport
  // ended, in which case OpenSSL asks BIO_eof() and reports the unexpected EOF.
  static int read_ex(BIO* b, char* out, std::size_t len, std::size_t* done) {
    BIO_clear_retry_flags(b);
    *done = 0;
    TlsEngine* e = engine(b);
    if (e == nullptr) return 0;
    const std::size_t avail = e->in_end_ - e->in_begin_;
    if (avail == 0) {
      if (!e->eof_) BIO_set_retry_read(b);
      return 0;
    }
    const std::size_t n = std::min(len, avail);
    std::memcpy(out, e->in_ + e->in_begin_, n);
    e->in_begin_ += n;
    if (e->in_begin_ == e->in_end_) {
      e->in_begin_ = e->in_end_ = 0;
      if (e->options_.release_idle_buffers) e->release_input();
    }
    *done = n;
    return 1;
  }

  // Appends to the output; fails only when a chunk cannot be allocated.
  static int write_ex(BIO* b, const char* data, std::size_t len, std::size_t* done) {
    BIO_clear_retry_flags(b);
    *done = 0;
    TlsEngine* e = engine(b);
    if (e == nullptr) return 0;
    const std::size_t n = e->append_output(reinterpret_cast<const std::byte*>(data), len);
    if (n != len) {  // the bytes taken stay; OpenSSL sees a failed write
      detail::raise_error(ERR_LIB_BIO, ERR_R_MALLOC_FAILURE, "TlsEngine input buffer");
      return 0;
    }
    *done = n;
    return 1;
  }

  static long ctrl(BIO* b, int cmd, long, void*) {
    TlsEngine* e = engine(b);
    switch (cmd) {
      case BIO_CTRL_FLUSH:
        return 1;
      case BIO_CTRL_EOF:  // what OpenSSL asks to tell an EOF from a failed read
        return e != nullptr && e->eof_ && e->in_end_ == e->in_begin_ ? 1 : 0;
      case BIO_CTRL_PENDING:
        return e != nullptr ? static_cast<long>(e->in_end_ - e->in_begin_) : 0;
      case BIO_CTRL_WPENDING:
        return e != nullptr ? static_cast<long>(e->out_size_) : 0;
      default:
        return 0;
    }
  }

  // Made once per process; BIO_meth_free is never called (it lives as long as OpenSSL).
  static BIO_METHOD* method() noexcept {
    static BIO_METHOD* m = [] {
      BIO_METHOD* meth = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ossl TlsEngine");
      if (meth == nullptr) return meth;
      BIO_meth_set_create(meth, create);
      BIO_meth_set_read_ex(meth, read_ex);
      BIO_meth_set_write_ex(meth, write_ex);
      BIO_meth_set_ctrl(meth, ctrl);
      return meth;
    }();
    return m;
  }
};

Result<TlsEngine> TlsEngine::client(Ssl ssl, const EngineOptions& options) {
  TlsEngine e;
  e.options_ = options;
  if (auto r = e.attach(std::move(ssl), false); !r) return std::move(r).error();
  return e;
}

Result<TlsEngine> TlsEngine::server(Ssl ssl, const EngineOptions& options) {
  TlsEngine e;
  e.options_ = options;
  if (auto r = e.attach(std::move(ssl), true); !r) return std::move(r).error();
  return e;
}

Result<void> TlsEngine::attach(Ssl ssl, bool server) {
  const char* what = server ? "TlsEngine::server" : "TlsEngine::client";
  auto refuse = [&](const std::string& why) { return ErrorStack::message(what + (": " + why)); };
  if (!ssl) return refuse("empty Ssl (moved from or released)");
  if (options_.input_capacity < kMinInput || options_.input_capacity > kMaxInput) {
    return refuse("EngineOptions::input_capacity " + std::to_string(options_.input_capacity) +
                  " is outside 512 to 16777216 bytes");
  }
  if (options_.output_limit == 0 || options_.output_limit > kMaxOutputLimit) {
    return refuse("EngineOptions::output_limit " + std::to_string(options_.output_limit) +
                  " is outside 1 to 1073741824 bytes");
  }
  BIO_METHOD* meth = Glue::method();
  if (meth == nullptr) return detail::failure(std::string(what) + ": BIO_meth_new");
  detail::clear_error_queue();
  auto bio = detail::check_ptr(BIO_new(meth), std::string(what) + ": BIO_new");
  if (!bio) return std::move(bio).error();
  BIO_set_data(*bio, this);
  SSL* s = ssl.native_handle();
  SSL_set_bio(s, *bio, *bio);  // one reference for both directions, now the SSL's
  if (server) {
    SSL_set_accept_state(s);
  } else {
    SSL_set_connect_state(s);
  }
  if (options_.release_idle_buffers) SSL_set_mode(s, SSL_MODE_RELEASE_BUFFERS);
  if (in_cap_ != options_.input_capacity) release_input();
  in_cap_ = options_.input_capacity;
  ssl_ = std::move(ssl);
  return {};
}

TlsEngine::TlsEngine(TlsEngine&& other) noexcept {
  *this = std::move(other);
}

TlsEngine& TlsEngine::operator=(TlsEngine&& other) noexcept {
  if (this == &other) return *this;
  free_all();
  ssl_ = std::move(other.ssl_);
  options_ = other.options_;
  in_ = std::exchange(other.in_, nullptr);
  in_cap_ = std::exchange(other.in_cap_, 0);
  in_begin_ = std::exchange(other.in_begin_, 0);
  in_end_ = std::exchange(other.in_end_, 0);
  out_head_ = std::exchange(other.out_head_, nullptr);
  out_tail_ = std::exchange(other.out_tail_, nullptr);
  spare_ = std::exchange(other.spare_, nullptr);
  out_size_ = std::exchange(other.out_size_, 0);
  last_taken_ = std::move(other.last_taken_);
  offered_ = std::exchange(other.offered_, 0);
  eof_ = std::exchange(other.eof_, false);
  wants_read_ = std::exchange(other.wants_read_, false);
  established_ = std::exchange(other.established_, false);
  if (ssl_) BIO_set_data(SSL_get_rbio(ssl_.native_handle()), this);
  return *this;
}

TlsEngine::~TlsEngine() {
  free_all();
}

void TlsEngine::free_all() noexcept {
  // Detach first: nothing OpenSSL does while freeing may reach buffers freed below.
  if (ssl_) BIO_set_data(SSL_get_rbio(ssl_.native_handle()), nullptr);
  ssl_ = Ssl();
  drop_output();
  Chunk::destroy(std::exchange(spare_, nullptr));
  release_input();
  in_cap_ = offered_ = 0;
  last_taken_ = SslSession();
  eof_ = wants_read_ = established_ = false;
}

Result<void> TlsEngine::reset(Ssl ssl, bool server) {
  if (ssl_) BIO_set_data(SSL_get_rbio(ssl_.native_handle()), nullptr);
  ssl_ = Ssl();
  drop_output();
  in_begin_ = in_end_ = offered_ = 0;
  last_taken_ = SslSession();
  eof_ = wants_read_ = established_ = false;
  return attach(std::move(ssl), server);
}

Result<void> TlsEngine::reset_client(Ssl ssl) {
  return reset(std::move(ssl), false);
}

Result<void> TlsEngine::reset_server(Ssl ssl) {
  return reset(std::move(ssl), true);
}

// ---- ciphertext in ----

void TlsEngine::release_input() noexcept {
  ::operator delete(static_cast<void*>(std::exchange(in_, nullptr)));
  in_begin_ = in_end_ = 0;
}

std::span<std::byte> TlsEngine::input_space(std::size_t max) {
  offered_ = 0;
  if (!ssl_) return {};
  if (in_ == nullptr) {
    in_ = static_cast<std::byte*>(::operator new(in_cap_, std::nothrow));
    if (in_ == nullptr) return {};
    in_begin_ = in_end_ = 0;
  }
  if (in_begin_ != 0) {  // move what OpenSSL has not taken yet to the front
    std::memmove(in_, in_ + in_begin_, in_end_ - in_begin_);
    in_end_ -= in_begin_;
    in_begin_ = 0;
  }
  offered_ = std::min(max, in_cap_ - in_end_);
  return {in_ + in_end_, offered_};
}

void TlsEngine::commit_input(std::size_t n) noexcept {
  n = std::min(n, offered_);
  offered_ = 0;
  in_end_ += n;
  if (n != 0) wants_read_ = false;
}

std::size_t TlsEngine::feed(std::span<const std::byte> ciphertext) noexcept {
  if (ciphertext.empty()) return 0;
  const std::span<std::byte> space = input_space(ciphertext.size());
  if (space.empty()) return 0;  // full, or an empty engine (no buffer: memcpy needs one)
  std::memcpy(space.data(), ciphertext.data(), space.size());
  commit_input(space.size());
  return space.size();
}

// ---- ciphertext out ----

std::size_t TlsEngine::append_output(const std::byte* data, std::size_t n) noexcept {
  std::size_t done = 0;
  while (done < n) {
    if (out_tail_ == nullptr || out_tail_->end == out_tail_->cap) {
      Chunk* c = std::exchange(spare_, nullptr);
      if (c == nullptr) c = Chunk::make(kChunkBytes);
      if (c == nullptr) return done;
      c->begin = c->end = 0;
      c->next = nullptr;
      if (out_tail_ != nullptr) {
        out_tail_->next = c;
      } else {
        out_head_ = c;
      }
      out_tail_ = c;
    }
    const std::size_t take = std::min(n - done, out_tail_->cap - out_tail_->end);
    std::memcpy(out_tail_->data() + out_tail_->end, data + done, take);
    out_tail_->end += take;
    out_size_ += take;
    done += take;
  }
  return done;
}

std::span<const std::byte> TlsEngine::pending_output() const noexcept {
  if (out_head_ == nullptr) return {};
  return {out_head_->data() + out_head_->begin, out_head_->end - out_head_->begin};
}

std::size_t TlsEngine::pending_output_buffers(
    std::span<std::span<const std::byte>> out) const noexcept {
  std::size_t i = 0;
  for (const Chunk* c = out_head_; c != nullptr && i < out.size(); c = c->next) {
    if (c->end == c->begin) continue;
    out[i++] = {c->data() + c->begin, c->end - c->begin};
  }
  return i;
}

void TlsEngine::consume_output(std::size_t n) noexcept {
  n = std::min(n, out_size_);
  out_size_ -= n;
  while (out_head_ != nullptr) {
    Chunk* c = out_head_;
    const std::size_t take = std::min(n, c->end - c->begin);
    c->begin += take;
    n -= take;
    if (c->begin != c->end) break;
    // Sent in full: unlink it, keep one for reuse unless told to release.
    out_head_ = c->next;
    if (out_head_ == nullptr) out_tail_ = nullptr;
    if (spare_ == nullptr && !options_.release_idle_buffers) {
      spare_ = c;
    } else {
      Chunk::destroy(c);
    }
    if (n == 0 && out_head_ == nullptr) break;
  }
}

void TlsEngine::drop_output() noexcept {
  while (out_head_ != nullptr) {
    Chunk* c = out_head_;
    out_head_ = c->next;
    if (spare_ == nullptr && !options_.release_idle_buffers) {
      spare_ = c;
    } else {
      Chunk::destroy(c);
    }
  }
  out_tail_ = nullptr;
  out_size_ = 0;
}

std::size_t TlsEngine::output_budget() const noexcept {
  return out_size_ < options_.output_limit ? options_.output_limit - out_size_ : 0;
}

// ---- running OpenSSL ----

// After a read or a handshake step: OpenSSL answers a KeyUpdate the peer requested only
// when something is written, so write nothing to get the answer queued.
void TlsEngine::after_io() {
  SSL* s = ssl_.native_handle();
  if (!established_ && SSL_is_init_finished(s) == 1) established_ = true;
  if (SSL_get_key_update_type(s) == SSL_KEY_UPDATE_NONE || ssl_.has_fatal_error() ||
      SSL_is_init_finished(s) != 1 || (SSL_get_shutdown(s) & SSL_SENT_SHUTDOWN) != 0) {
    return;
  }
  std::size_t n = 0;
  const int rc = SSL_write_ex(s, "", 0, &n);
  if (rc != 1) (void)ssl_.io_error(rc, "TlsEngine::read (answering a KeyUpdate)");
}

Result<void, SslIoError> TlsEngine::handshake() {
  if (!ssl_) return engine_error("handshake", "empty TlsEngine");
  auto r = ssl_.do_handshake();
  if (!r && r.error() == SslIoError::Kind::WantRead) wants_read_ = true;
  after_io();
  return r;
}

Result<std::size_t, SslIoError> TlsEngine::read(std::span<std::byte> buf) {
  if (!ssl_) return engine_error("read", "empty TlsEngine");
  auto r = ssl_.read(buf);
  if (r) {
    wants_read_ = false;
  } else if (r.error() == SslIoError::Kind::WantRead) {
    wants_read_ = true;
  } else if (r.error() == SslIoError::Kind::ZeroReturn && options_.answer_close_notify &&
             (SSL_get_shutdown(ssl_.native_handle()) & SSL_SENT_SHUTDOWN) == 0) {
    (void)ssl_.shutdown();  // queues ours; the peer's arrived, so this completes
  }
  after_io();
  return r;
}

Result<std::size_t, SslIoError> TlsEngine::send(std::span<const std::byte> data) {
  if (!ssl_) return engine_error("send", "empty TlsEngine");
  if (data.empty()) return std::size_t{0};
  const std::size_t budget = output_budget();
  if (budget == 0) return SslIoError(SslIoError::Kind::WantWrite, {}, SSL_ERROR_WANT_WRITE);
  auto r = ssl_.write(data.first(std::min(budget, data.size())));
  if (!r && r.error() == SslIoError::Kind::WantRead) wants_read_ = true;
  if (r) established_ = true;  // a write succeeds only once the handshake is done
  return r;
}

Result<std::size_t, SslIoError> TlsEngine::send_gather(
    std::span<const std::span<const std::byte>> buffers) {
  if (!ssl_) return engine_error("send_gather", "empty TlsEngine");
  std::size_t total = 0;
  for (const auto& b : buffers)
    total += b.size();
  if (total == 0) return std::size_t{0};
  const std::size_t budget = std::min(output_budget(), total);
  if (budget == 0) return SslIoError(SslIoError::Kind::WantWrite, {}, SSL_ERROR_WANT_WRITE);

  std::byte staging[kRecordPlaintext];
  std::size_t staged = 0;
  std::size_t taken = 0;  // bytes accepted by OpenSSL
  auto write = [&](std::span<const std::byte> bytes) -> Result<void, SslIoError> {
    auto r = ssl_.write(bytes);
    if (!r) return std::move(r).error();
    established_ = true;  // a write succeeds only once the handshake is done
    taken += *r;
    return {};
  };
  auto fail = [&](SslIoError e) -> Result<std::size_t, SslIoError> {
    if (e == SslIoError::Kind::WantRead) wants_read_ = true;
    if (taken != 0) return taken;  // report what went out; the error comes back next call
    return e;
  };
  for (const auto& b : buffers) {
    std::size_t off = 0;
    while (off < b.size()) {
      const std::size_t room = budget - taken - staged;
      if (room == 0) break;
      const std::size_t left = std::min(b.size() - off, room);
      if (staged == 0 && left >= kRecordPlaintext) {  // full records straight from the buffer
        const std::size_t n = left - left % kRecordPlaintext;
        if (auto r = write(b.subspan(off, n)); !r) return fail(std::move(r).error());
        off += n;
        continue;
      }
      const std::size_t n = std::min(left, kRecordPlaintext - staged);
      std::memcpy(staging + staged, b.data() + off, n);
      staged += n;
      off += n;
      if (staged == kRecordPlaintext) {
        if (auto r = write({staging, staged}); !r) return fail(std::move(r).error());
        staged = 0;
      }
    }
  }
  if (staged != 0) {
    if (auto r = write({staging, staged}); !r) return fail(std::move(r).error());
  }
  return taken;
}

Result<ShutdownResult, SslIoError> TlsEngine::shutdown() {
  if (!ssl_) return engine_error("shutdown", "empty TlsEngine");
  return ssl_.shutdown();
}

// ---- state ----

bool TlsEngine::handshake_done() const noexcept {
  // Sticky: Ssl::key_update() puts OpenSSL back "in init" until the KeyUpdate is sent,
  // and SSL_is_init_finished() is false meanwhile, though the connection is established.
  return ssl_ && (established_ || SSL_is_init_finished(ssl_.native_handle()) == 1);
}

bool TlsEngine::peer_closed() const noexcept {
  return ssl_ && (SSL_get_shutdown(ssl_.native_handle()) & SSL_RECEIVED_SHUTDOWN) != 0;
}

namespace {
// The client's current session when it can resume: after the handshake (a TLS 1.2
// session id arrives before the server's Finished is verified) and with a ticket or id.
SSL_SESSION* resumable_session(const Ssl& ssl) noexcept {
  SSL* s = ssl.native_handle();
  if (s == nullptr || SSL_is_server(s) == 1 || SSL_is_init_finished(s) != 1) return nullptr;
  SSL_SESSION* sess = SSL_get_session(s);
  return sess != nullptr && SSL_SESSION_is_resumable(sess) == 1 ? sess : nullptr;
}
}  // namespace

bool TlsEngine::has_new_session() const noexcept {
  SSL_SESSION* s = resumable_session(ssl_);
  return s != nullptr && s != last_taken_.native_handle();
}

std::optional<SslSession> TlsEngine::take_session() {
  SSL_SESSION* s = resumable_session(ssl_);
  if (s == nullptr || s == last_taken_.native_handle()) return std::nullopt;
  auto shared = SslSession::share(s);
  if (!shared) return std::nullopt;
  last_taken_ = *shared;
  return std::move(*shared);
}

}  // namespace ossl
