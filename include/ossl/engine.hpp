// ossl: TlsEngine, an I/O-free TLS connection for event loops. The caller moves the
// ciphertext between the engine and its transport (a socket in epoll, libuv or Asio, a
// QUIC-less datagram tunnel, a test); the engine never touches a file descriptor.
//
//   recv() -> input_space() + commit_input() (or feed())  -> TlsEngine -> read()
//   send() <- pending_output() + consume_output()         <- TlsEngine <- send(), send_gather()
//
// See docs/async.md for the contract and a twenty-line epoll loop.
#pragma once

#include <ossl/result.hpp>
#include <ossl/session.hpp>
#include <ossl/ssl.hpp>
#include <ossl/tls.hpp>

#include <cstddef>
#include <optional>
#include <span>

namespace ossl {

/// Sizes and behaviour of a TlsEngine. Every field has a default fit for a server with
/// many connections; TlsEngine::client()/server() refuse values out of range, naming them.
struct EngineOptions {
  /// Bytes of ciphertext the engine buffers before OpenSSL takes them (feed() and
  /// input_space() offer no more than this). At least 512, at most 16 MiB. One full
  /// TLS record (16 KiB plus overhead) fits in the default, so one recv() per record.
  std::size_t input_capacity = std::size_t{18} * 1024;
  /// Backpressure: send() takes plaintext only while less than this much ciphertext waits
  /// in the pending output (the last record may go past it by one record's size).
  /// Protocol output (handshake, alerts, tickets, KeyUpdate, close_notify) is always
  /// queued. At least 1, at most 1 GiB.
  std::size_t output_limit = std::size_t{64} * 1024;
  /// When true the engine frees its input buffer and its output chunks whenever they
  /// are empty, and asks OpenSSL to do the same with its record buffers
  /// (SSL_MODE_RELEASE_BUFFERS): an idle connection then holds only the SSL object,
  /// at the price of allocations on each burst of traffic. docs/performance.md has the
  /// figures.
  bool release_idle_buffers = false;
  /// When true (the default) the engine answers the peer's close_notify with its own as
  /// soon as read() sees it, so the TLS session stays resumable (OpenSSL drops a
  /// session whose connection was freed without sending close_notify) and the peer's
  /// shutdown completes.
  bool answer_close_notify = true;
};

/// One TLS connection whose transport is memory the caller moves: an owner of one Ssl
/// attached to an in-memory BIO of the engine's. Move-only; a moved engine keeps working
/// (the BIO follows it). Like Ssl, never use one engine from two threads at once.
///
/// The four directions:
/// - ciphertext in: feed() copies bytes the caller received and says how many it took;
///   input_space() + commit_input() let the caller recv() straight into the engine
///   (no copy of its own); feed_eof() says the transport ended.
/// - plaintext out: read(); a clean close (ZeroReturn) and an end without close_notify
///   (truncated()) stay distinct, as with Ssl::read().
/// - plaintext in: send() and send_gather() take at most what the output budget allows
///   (EngineOptions::output_limit) and report how much; WantWrite when none.
/// - ciphertext out: pending_output() / pending_output_buffers() show what waits to be
///   sent; the spans stay valid, even while more output is produced, until the next
///   consume_output(), which the caller calls with what it sent.
///
/// Every call that runs OpenSSL (handshake, read, send, shutdown) leaves whatever the
/// protocol must send in the pending output: the handshake flights, the TLS 1.3 tickets,
/// the answer to a KeyUpdate the peer requested (OpenSSL queues it only on a write; the
/// engine writes zero bytes after a read to get it out), the no_renegotiation warning,
/// and after a fatal error the alert that says why (send it before closing).
class OSSL_API TlsEngine {
 public:
  /// Makes a client engine over `ssl` (e.g. SslCtx::new_ssl_for_host()), which it
  /// owns from now on; any BIO `ssl` had is replaced. Errors: an empty Ssl, options out
  /// of range, or a BIO OpenSSL could not allocate. (SSL_set_connect_state, SSL_set_bio)
  [[nodiscard]] static Result<TlsEngine> client(Ssl ssl, const EngineOptions& options = {});
  /// Makes a server engine over `ssl` (e.g. SslCtx::new_ssl()); as client().
  /// (SSL_set_accept_state, SSL_set_bio)
  [[nodiscard]] static Result<TlsEngine> server(Ssl ssl, const EngineOptions& options = {});

  /// An empty engine (operator bool is false); every call returns an error or nothing.
  TlsEngine() noexcept = default;
  ///@{
  /// Takes over `other`'s connection and buffers; `other` is left empty. Spans from
  /// pending_output() stay valid across the move.
  TlsEngine(TlsEngine&& other) noexcept;
  TlsEngine& operator=(TlsEngine&& other) noexcept;
  ///@}
  TlsEngine(const TlsEngine&) = delete;
  TlsEngine& operator=(const TlsEngine&) = delete;
  /// Frees the connection and the buffers. Call shutdown() and send the pending output
  /// first for a clean close.
  ~TlsEngine();

  /// Returns true when the engine holds a connection.
  explicit operator bool() const noexcept { return static_cast<bool>(ssl_); }

  /// Starts a new connection on this engine, keeping its buffers (no allocation of the
  /// engine's own): the previous connection is freed as the destructor would, and
  /// anything still buffered for it is dropped. Same errors as client()/server().
  [[nodiscard]] Result<void> reset_client(Ssl ssl);
  /// As reset_client(), for a server connection.
  [[nodiscard]] Result<void> reset_server(Ssl ssl);

  /// Copies as much of `ciphertext` as fits into the input buffer and returns how many
  /// bytes it took (0 when the buffer is full: read() first). Never runs OpenSSL.
  std::size_t feed(std::span<const std::byte> ciphertext) noexcept;
  /// Returns writable space in the input buffer for the caller to recv() into, at most
  /// `max` bytes and at least 1 unless the buffer is full (empty span: read() first).
  /// Allocates the buffer on first use (or after release_idle_buffers freed it). Valid
  /// until the next call on the engine.
  [[nodiscard]] std::span<std::byte> input_space(std::size_t max = SIZE_MAX);
  /// Adds the first `n` bytes of the last input_space() to the input; more than it
  /// offered is clamped to it.
  void commit_input(std::size_t n) noexcept;
  /// Says the transport ended (recv() returned 0). Once the buffered input is used up,
  /// read() reports the end: ZeroReturn after the peer's close_notify, else an Ssl
  /// error whose truncated() is true.
  void feed_eof() noexcept { eof_ = true; }
  /// Returns the ciphertext buffered and not yet taken by OpenSSL.
  [[nodiscard]] std::size_t buffered_input() const noexcept { return in_end_ - in_begin_; }

  /// Runs the handshake as far as the input allows. WantRead: send the pending output
  /// and feed more; Ssl: it failed (the alert is in the pending output). Completes at
  /// once when done. (SSL_do_handshake)
  [[nodiscard]] Result<void, SslIoError> handshake();

  /// Decrypts into `buf` and returns how many bytes (at least 1; an empty `buf`
  /// returns 0). Runs the handshake first when it is not done. WantRead: feed more;
  /// ZeroReturn: the peer closed cleanly (answered with close_notify when
  /// EngineOptions::answer_close_notify); Ssl with truncated(): the transport ended
  /// without close_notify; Ssl otherwise: a protocol failure (the alert is queued).
  /// (SSL_read_ex; then SSL_write_ex of zero bytes when a KeyUpdate answer is due)
  [[nodiscard]] Result<std::size_t, SslIoError> read(std::span<std::byte> buf);

  /// Encrypts up to the output budget of `data` and returns how many bytes it took
  /// (at least 1; an empty `data` returns 0). WantWrite: the pending output has reached
  /// EngineOptions::output_limit, send it first. Before the handshake is done this runs
  /// the handshake and reports WantRead until it completes. (SSL_write_ex)
  [[nodiscard]] Result<std::size_t, SslIoError> send(std::span<const std::byte> data);
  /// As send(), taking the buffers in order as one stream: small buffers are packed into
  /// full records (16 KiB) instead of a record each, so an HTTP head of a dozen pieces
  /// costs one record. Returns how many bytes of the concatenation it took.
  /// (SSL_write_ex per record)
  [[nodiscard]] Result<std::size_t, SslIoError> send_gather(
      std::span<const std::span<const std::byte>> buffers);

  /// Queues close_notify: Sent, or Complete when the peer's had arrived. Nothing is sent
  /// before the handshake is done or after a fatal error (an Other error says which).
  /// Send the pending output, then keep reading to see the peer's close_notify if you
  /// wait for it. (SSL_shutdown)
  [[nodiscard]] Result<ShutdownResult, SslIoError> shutdown();

  /// Returns the first contiguous block of pending ciphertext (empty when none). The
  /// span stays valid until the next consume_output(), whatever else the engine does
  /// meanwhile (more output is appended elsewhere, never moved).
  [[nodiscard]] std::span<const std::byte> pending_output() const noexcept;
  /// Fills `out` with up to out.size() blocks of pending ciphertext, in order, for a
  /// gathering write (writev, Asio buffer sequences), and returns how many it filled.
  /// Valid as pending_output().
  std::size_t pending_output_buffers(std::span<std::span<const std::byte>> out) const noexcept;
  /// Returns the bytes of ciphertext waiting to be sent.
  [[nodiscard]] std::size_t pending_output_size() const noexcept { return out_size_; }
  /// Drops the first `n` bytes of the pending output (the caller sent them); more than
  /// is pending is clamped. Invalidates the spans handed out before.
  void consume_output(std::size_t n) noexcept;

  /// Returns true once the handshake has completed, and stays true after
  /// Ssl::key_update() (which OpenSSL reports as "in init" until the KeyUpdate is sent).
  /// (SSL_is_init_finished)
  [[nodiscard]] bool handshake_done() const noexcept;
  /// Returns true when the last handshake(), read() or send() stopped for want of
  /// ciphertext and none has been fed since: recv() before calling them again.
  [[nodiscard]] bool wants_read() const noexcept { return wants_read_; }
  /// Returns true when ciphertext waits to be sent.
  [[nodiscard]] bool wants_write() const noexcept { return out_size_ != 0; }
  /// Returns true once the peer's close_notify has been read.
  [[nodiscard]] bool peer_closed() const noexcept;
  /// Returns true after a fatal error (Ssl or Syscall): only the pending output (the
  /// alert) is still worth sending.
  [[nodiscard]] bool has_fatal_error() const noexcept { return ssl_.has_fatal_error(); }

  /// Returns true when take_session() has a session to give.
  [[nodiscard]] bool has_new_session() const noexcept;
  /// Returns the client's current session when it is resumable and was not taken
  /// before, with its own reference; nullopt otherwise (on a server, before the
  /// handshake, or in TLS 1.3 before a ticket arrived: a TLS 1.3 session taken at the
  /// end of the handshake has no ticket and cannot resume, so it is never given). Each
  /// ticket that arrives later makes a new one available. Offer it with
  /// Ssl::set_session() on a connection to the same host from the same context.
  /// (SSL_get_session, SSL_SESSION_is_resumable, SSL_SESSION_up_ref)
  [[nodiscard]] std::optional<SslSession> take_session();

  /// Returns the connection, for its accessors (version, peer certificate, ALPN, ...)
  /// and its settings. Do not replace its BIO nor read or write through it directly.
  [[nodiscard]] Ssl& ssl() noexcept { return ssl_; }
  /// Const overload of ssl().
  [[nodiscard]] const Ssl& ssl() const noexcept { return ssl_; }

 private:
  struct Chunk;
  struct Glue;
  friend struct Glue;

  Result<void> attach(Ssl ssl, bool server);
  Result<void> reset(Ssl ssl, bool server);
  void after_io();
  void drop_output() noexcept;
  void free_all() noexcept;
  void release_input() noexcept;
  std::size_t output_budget() const noexcept;
  std::size_t append_output(const std::byte* data, std::size_t n) noexcept;

  Ssl ssl_;
  EngineOptions options_;
  // Input: [in_begin_, in_end_) of in_ (in_cap_ bytes) waits for OpenSSL.
  std::byte* in_ = nullptr;
  std::size_t in_cap_ = 0;
  std::size_t in_begin_ = 0;
  std::size_t in_end_ = 0;
  // Output: a list of chunks; bytes are appended at the tail and never move.
  Chunk* out_head_ = nullptr;
  Chunk* out_tail_ = nullptr;
  Chunk* spare_ = nullptr;  // one emptied chunk kept for reuse
  std::size_t out_size_ = 0;
  SslSession last_taken_;    // holds a reference, so its address cannot be reused
  std::size_t offered_ = 0;  // the size of the last input_space()
  bool eof_ = false;
  bool wants_read_ = false;
  bool established_ = false;  // the handshake completed once (see handshake_done())
};

}  // namespace ossl
