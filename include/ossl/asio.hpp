// ossl: ossl::AsioStream, TLS over any Asio stream (a tcp::socket, a strand-bound
// socket, a test pipe) built on ossl::TlsEngine. Header-only and optional: it needs
// standalone Asio (Debian's libasio-dev, 1.22 or newer), which neither the core library,
// <ossl/ossl.hpp> nor ossl.pc depend on. Every operation is an async_compose'd
// operation, so every completion token works: callbacks, asio::use_awaitable (co_await),
// asio::use_future, asio::as_tuple, asio::deferred.
//
//   ossl::AsioStream<asio::ip::tcp::socket> tls(io_context);
//   tls.set_client(ctx.new_ssl_for_host("example.com").value()).value();
//   co_await asio::async_connect(tls.next_layer(), endpoints, asio::use_awaitable);
//   co_await tls.async_handshake(asio::use_awaitable);
//   co_await asio::async_write(tls, asio::buffer(request), asio::use_awaitable);
//
// The rules (docs/async.md has them with the reasons and the measurements):
// - full duplex: one read-side operation (async_read_some) and one write-side operation
//   (async_write_some, async_shutdown) may be pending at once; a second of the same side
//   completes at once with AsioErrc::OperationInProgress instead of corrupting the stream.
//   async_handshake takes both sides;
// - a read whose processing produced output (a KeyUpdate answer, the close_notify answer,
//   an alert) sends it before it completes;
// - async_write_some gathers the whole buffer sequence into full records (one record for
//   an HTTP head of a dozen pieces) and completes once that ciphertext is sent;
// - outcomes are std::error_code: asio::error::eof for the peer's close_notify,
//   asio::ssl::error::stream_truncated for an end without it (as asio::ssl::stream
//   reports them), ossl::asio_tls_category() for OpenSSL's reasons (last_error() keeps
//   the whole ErrorStack), AsioErrc for misuse;
// - cancellation (per-operation slots, or closing the socket) completes with
//   asio::error::operation_aborted, never with truncation; a cancelled read keeps the
//   ciphertext already received, a cancelled write reports how much it encrypted (it
//   goes out with the next write or shutdown);
// - async_shutdown sends close_notify and completes without waiting for the peer's,
//   unless asked to (AsioShutdown::WaitForPeer); a pending read then ends with eof (the
//   peer answered) or stream_truncated (it closed the socket). Nothing is sent before the
//   handshake or after a fatal error;
// - set_client()/set_server() start a new connection on the same stream, keeping its
//   buffers (no allocation of the stream's own).
#pragma once

#include <ossl/engine.hpp>
#include <ossl/error.hpp>
#include <ossl/session.hpp>
#include <ossl/ssl.hpp>

#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/basic_waitable_timer.hpp>
#include <asio/buffer.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/compose.hpp>
#include <asio/error.hpp>
#include <asio/post.hpp>
#include <asio/ssl/error.hpp>
#include <asio/steady_timer.hpp>

#include <openssl/err.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

namespace ossl {

/// Errors the stream reports on its own (OpenSSL's reasons come in asio_tls_category() with
/// their packed code as the value). Values stay below 256; OpenSSL's codes never do.
enum class AsioErrc {
  NoConnection = 1,     ///< No set_client()/set_server() before the operation.
  HandshakeNotDone,     ///< Read, write or shutdown before async_handshake completed.
  OperationInProgress,  ///< A second read-side or write-side operation was started.
  ConnectionFailed,     ///< The connection failed earlier (the alert was sent): close it.
  TlsFailure,           ///< A TLS failure without an OpenSSL reason; see last_error().
};

}  // namespace ossl

/// @cond
// AsioErrc values convert to std::error_code (make_error_code() below).
template <>
struct std::is_error_code_enum<ossl::AsioErrc> : std::true_type {};
/// @endcond

namespace ossl {

namespace detail {

/// The std::error_category behind asio_tls_category(): AsioErrc values and OpenSSL's
/// packed error codes.
class AsioTlsCategory final : public std::error_category {
 public:
  /// Returns "ossl.tls".
  const char* name() const noexcept override { return "ossl.tls"; }
  /// Returns the text of an AsioErrc, or "library: reason" of an OpenSSL error code
  /// (ERR_lib_error_string, ERR_reason_error_string).
  std::string message(int value) const override {
    switch (static_cast<AsioErrc>(value)) {
      case AsioErrc::NoConnection:
        return "the stream has no TLS connection (call set_client() or set_server() first)";
      case AsioErrc::HandshakeNotDone:
        return "the TLS handshake has not completed (call async_handshake() first)";
      case AsioErrc::OperationInProgress:
        return "another operation of the same direction is pending on this TLS stream";
      case AsioErrc::ConnectionFailed:
        return "the TLS connection failed earlier; only closing it is left";
      case AsioErrc::TlsFailure:
        return "TLS failure (the stream's last_error() has the details)";
    }
    // An OpenSSL error code, packed as ERR_get_error() returns it (32 bits kept).
    const unsigned long code = static_cast<unsigned int>(value);
    const char* lib = ERR_lib_error_string(code);
    const char* reason = ERR_reason_error_string(code);
    std::string text;
    if (lib != nullptr) text.append(lib).append(": ");
    if (reason != nullptr) return text.append(reason);
    char hex[32];
    std::snprintf(hex, sizeof hex, "OpenSSL error 0x%08lx", code);
    return text.append(hex);
  }
};

}  // namespace detail

/// The category of the stream's TLS errors: AsioErrc values and OpenSSL's packed error
/// codes, whose message() is "library: reason" (as ErrorRecord::to_string() starts).
inline const std::error_category& asio_tls_category() noexcept {
  static const detail::AsioTlsCategory category;
  return category;
}

/// Makes an error_code of asio_asio_tls_category() from an AsioErrc.
inline std::error_code make_error_code(AsioErrc e) noexcept {
  return {static_cast<int>(e), asio_tls_category()};
}

/// Returns the error_code an engine outcome becomes: asio::error::eof for ZeroReturn,
/// asio::ssl::error::stream_truncated for truncated(), the newest OpenSSL reason in the
/// stack (asio_tls_category()) for other failures, AsioErrc::TlsFailure when it has none, and
/// errno (system_category()) for a Syscall error that kept one.
inline std::error_code to_asio_error(const SslIoError& e) {
  using Kind = SslIoError::Kind;
  if (e.kind() == Kind::ZeroReturn) return ::asio::error::eof;
  if (e.truncated()) return ::asio::ssl::error::stream_truncated;
  if (e.kind() == Kind::Syscall && e.sys_errno() != 0) {
    return {e.sys_errno(), std::system_category()};
  }
  const auto& records = e.stack().records();
  for (auto it = records.rbegin(); it != records.rend(); ++it) {
    if (it->code != 0) return {static_cast<int>(it->code & 0xffffffffUL), asio_tls_category()};
  }
  return make_error_code(AsioErrc::TlsFailure);
}

/// @cond
namespace detail {

// async_lingering_close()'s operation: half-close, then drain until the peer closes, the
// deadline cancels the drain, or enough was discarded; then close.
template <class Socket>
struct LingeringCloseOp {
  using Timer = ::asio::basic_waitable_timer<std::chrono::steady_clock,
                                             ::asio::wait_traits<std::chrono::steady_clock>,
                                             typename Socket::executor_type>;
  struct State {
    explicit State(typename Socket::executor_type ex) : timer(std::move(ex)) {}
    Timer timer;
    std::array<std::byte, 4096> discard{};
    std::size_t discarded = 0;
  };

  Socket& socket;
  std::chrono::steady_clock::duration linger;
  std::size_t max_discard;
  std::shared_ptr<State> state{};

  template <class Self>
  void operator()(Self& self, std::error_code ec = {}, std::size_t n = 0) {
    std::error_code ignored;
    if (!state) {  // first call: half-close, arm the deadline, start draining
      state = std::make_shared<State>(socket.get_executor());
      socket.shutdown(Socket::shutdown_send, ignored);
      state->timer.expires_after(linger);
      // The deadline only cancels the drain; the state keeps the timer alive until its
      // handler ran, and an aborted wait (the drain ended first) touches nothing.
      state->timer.async_wait([s = &socket, keep = state](std::error_code wait_ec) {
        std::error_code e;
        if (!wait_ec) s->cancel(e);
      });
    } else {
      state->discarded += n;
      if (ec || state->discarded >= max_discard) {
        state->timer.cancel();
        socket.close(ignored);
        return self.complete(std::error_code{});
      }
    }
    socket.async_read_some(::asio::buffer(state->discard), std::move(self));
  }
};

}  // namespace detail
/// @endcond

/// Closes a TCP socket the way a server should after its last response, as
/// io::lingering_close() does for a file descriptor and `openssl s_server` does: stops
/// sending (the peer sees our FIN after all our data), reads and discards what the peer
/// still sends until it closes, `linger` passes or `max_discard` bytes came, then closes
/// `socket`. A plain close() with unread data makes the kernel send a TCP reset, and a
/// peer still sending (an HTTP body the server did not read) may lose the response and
/// the close_notify before it. Call it after AsioStream::async_shutdown(), on
/// stream.next_layer(). The handler gets (error_code), always success: the connection is
/// over either way. `Socket` is an asio::basic_stream_socket (shutdown, cancel, close).
/// Allocates one timer per call.
template <class Socket, class CompletionToken>
auto async_lingering_close(Socket& socket, std::chrono::steady_clock::duration linger,
                           std::size_t max_discard, CompletionToken&& token) {
  return ::asio::async_compose<CompletionToken, void(std::error_code)>(
      detail::LingeringCloseOp<Socket>{socket, linger, max_discard}, token, socket);
}

/// How async_shutdown ends.
enum class AsioShutdown {
  /// Completes once our close_notify is sent (the default): the peer's answer, if any,
  /// ends a pending or later read with eof.
  SendOnly,
  /// Completes once the peer's close_notify has arrived too. Application data that
  /// arrives meanwhile and no pending read takes is discarded.
  WaitForPeer,
};

/// TLS over `NextLayer` (an Asio AsyncReadStream + AsyncWriteStream such as
/// asio::ip::tcp::socket, or a reference to one) driven by a TlsEngine. Satisfies
/// AsyncReadStream and AsyncWriteStream, so asio::async_read/async_write/async_read_until
/// work on it. Like asio::ssl::stream it is not thread-safe: start operations from the
/// stream's executor (a strand when several threads run the io_context), and never
/// destroy or move it while an operation is pending.
template <class NextLayer>
class AsioStream {
 public:
  /// The type of the layer below (the socket).
  using next_layer_type = std::remove_reference_t<NextLayer>;
  /// The executor the operations run on: the next layer's.
  using executor_type = typename next_layer_type::executor_type;

  /// Constructs the next layer from `arg` (an io_context, an executor, a socket to move
  /// in) with no connection yet: call set_client() or set_server() before the handshake.
  /// `options` size the engine (EngineOptions; checked by set_client()/set_server()).
  template <class Arg>
  explicit AsioStream(Arg&& arg, const EngineOptions& options = {})
      : next_(std::forward<Arg>(arg)),
        options_(options),
        write_idle_(next_.get_executor(), timer::time_point::max()),
        read_idle_(next_.get_executor(), timer::time_point::max()) {}

  /// Moves the next layer, the connection and the buffers. No operation may be pending.
  AsioStream(AsioStream&&) = default;
  /// Move-assigns, as the move constructor. No operation may be pending on either.
  AsioStream& operator=(AsioStream&&) = default;

  /// Returns the next layer's executor.
  executor_type get_executor() noexcept { return next_.get_executor(); }
  /// Returns the layer below, e.g. the socket to connect, accept on or close.
  next_layer_type& next_layer() noexcept { return next_; }
  /// Const overload of next_layer().
  const next_layer_type& next_layer() const noexcept { return next_; }

  /// Starts a client connection over `ssl` (e.g. SslCtx::new_ssl_for_host()), dropping
  /// the previous one and anything still buffered for it; the buffers are kept. Errors:
  /// an empty Ssl, EngineOptions out of range, an operation still pending.
  [[nodiscard]] Result<void> set_client(Ssl ssl) { return start(std::move(ssl), false); }
  /// As set_client(), for a server connection (e.g. SslCtx::new_ssl()).
  [[nodiscard]] Result<void> set_server(Ssl ssl) { return start(std::move(ssl), true); }

  /// Returns the engine, for its state (handshake_done(), peer_closed(), ...). Do not
  /// feed it, read from it or send through it while the stream is in use.
  TlsEngine& engine() noexcept { return engine_; }
  /// Returns the connection (version, ALPN, peer certificate, verify result, ...).
  Ssl& ssl() noexcept { return engine_.ssl(); }
  /// Returns the client's new resumable session, if one arrived; see
  /// TlsEngine::take_session().
  [[nodiscard]] std::optional<SslSession> take_session() { return engine_.take_session(); }
  /// Returns the records of the last TLS failure an operation reported (empty when
  /// none): the full text behind a asio_tls_category() error_code.
  [[nodiscard]] const ErrorStack& last_error() const noexcept { return last_error_; }

  /// Runs the handshake; the handler gets (error_code). Takes both sides: no read or
  /// write may be pending. Completes at once (posted) when it is already done.
  template <class CompletionToken>
  auto async_handshake(CompletionToken&& token) {
    return ::asio::async_compose<CompletionToken, void(std::error_code)>(handshake_op{this}, token,
                                                                         next_);
  }

  /// Reads decrypted bytes into the first non-empty buffer of `buffers`; the handler
  /// gets (error_code, bytes). eof: the peer's close_notify (answered already);
  /// stream_truncated: the transport ended without it.
  template <class MutableBufferSequence, class CompletionToken>
  auto async_read_some(const MutableBufferSequence& buffers, CompletionToken&& token) {
    return ::asio::async_compose<CompletionToken, void(std::error_code, std::size_t)>(
        read_op<MutableBufferSequence>{this, buffers}, token, next_);
  }

  /// Encrypts as much of `buffers` (gathered, up to 16 pieces) as the output budget
  /// (EngineOptions::output_limit) allows and sends it; the handler gets (error_code,
  /// bytes taken). asio::async_write loops over it for the whole sequence.
  template <class ConstBufferSequence, class CompletionToken>
  auto async_write_some(const ConstBufferSequence& buffers, CompletionToken&& token) {
    return ::asio::async_compose<CompletionToken, void(std::error_code, std::size_t)>(
        write_op<ConstBufferSequence>{{}, this, buffers}, token, next_);
  }

  /// Sends close_notify (and anything still pending before it); the handler gets
  /// (error_code). With AsioShutdown::WaitForPeer it also waits for the peer's. Before the
  /// handshake: AsioErrc::HandshakeNotDone; after a fatal error: AsioErrc::ConnectionFailed;
  /// nothing is sent either way. It does not close the socket.
  template <class CompletionToken>
  auto async_shutdown(AsioShutdown wait, CompletionToken&& token) {
    return ::asio::async_compose<CompletionToken, void(std::error_code)>(
        shutdown_op{{}, this, wait}, token, next_);
  }
  /// async_shutdown(AsioShutdown::SendOnly, token).
  template <class CompletionToken>
  auto async_shutdown(CompletionToken&& token) {
    return async_shutdown(AsioShutdown::SendOnly, std::forward<CompletionToken>(token));
  }

 private:
  using timer =
      ::asio::basic_waitable_timer<std::chrono::steady_clock,
                                   ::asio::wait_traits<std::chrono::steady_clock>, executor_type>;
  static constexpr std::size_t kMaxGather = 16;
  static constexpr std::size_t kMaxFlush = 8;

  Result<void> start(Ssl ssl, bool server) {
    if (read_busy_ || write_busy_) {
      return ErrorStack::message("ossl::AsioStream: an operation is still pending")
          .with_context(server ? "AsioStream::set_server" : "AsioStream::set_client");
    }
    last_error_ = ErrorStack();
    flush_error_ = {};
    if (engine_)
      return server ? engine_.reset_server(std::move(ssl)) : engine_.reset_client(std::move(ssl));
    auto made = server ? TlsEngine::server(std::move(ssl), options_)
                       : TlsEngine::client(std::move(ssl), options_);
    if (!made) return std::move(made).error();
    engine_ = std::move(made).value();
    return {};
  }

  // The error an operation completes with for an engine failure; keeps its records.
  std::error_code fail(const SslIoError& e) {
    if (!e.stack().empty()) last_error_ = e.stack();
    return to_asio_error(e);
  }

  // Why a read, write or shutdown cannot start, or {} when it can.
  std::error_code precondition() const {
    if (!engine_) return AsioErrc::NoConnection;
    if (engine_.has_fatal_error()) return AsioErrc::ConnectionFailed;
    if (!engine_.handshake_done()) return AsioErrc::HandshakeNotDone;
    return {};
  }

  // Sends pending output: one gathering write of the next layer, resuming `self` with
  // (ec, n). The caller checked that no flush is running (flushing_).
  template <class Self>
  void flush(Self& self) {
    flushing_ = true;
    std::array<std::span<const std::byte>, kMaxFlush> spans;
    const std::size_t count = engine_.pending_output_buffers(spans);
    for (std::size_t i = 0; i < count; ++i) {
      flush_bufs_[i] = ::asio::const_buffer(spans[i].data(), spans[i].size());
    }
    next_.async_write_some(std::span<const ::asio::const_buffer>(flush_bufs_.data(), count),
                           std::move(self));
  }
  // Accounts for a finished write of the next layer. Returns true when the caller must
  // flush again (more is pending and the write succeeded); otherwise the flush is over
  // and a write-side operation waiting for it is woken.
  bool flushed(const std::error_code& ec, std::size_t n) {
    engine_.consume_output(n);
    if (!ec && engine_.wants_write()) return true;
    flushing_ = false;
    flush_error_ = ec;
    write_idle_.cancel();
    return false;
  }

  // Receives ciphertext into the engine: one read of the next layer, resuming `self`.
  template <class Self>
  void receive(Self& self) {
    auto space = engine_.input_space();
    next_.async_read_some(::asio::buffer(space.data(), space.size()), std::move(self));
  }
  // Accounts for a finished read of the next layer. Returns the error to complete with,
  // or {} to go on (data or the transport's end were given to the engine). Bytes that
  // arrived are kept even when the read was cancelled.
  std::error_code received(const std::error_code& ec, std::size_t n) {
    engine_.commit_input(n);
    if (ec == ::asio::error::eof) {
      engine_.feed_eof();
      return {};
    }
    return ec;
  }

  // ---- async_handshake -------------------------------------------------------------
  struct handshake_op {
    AsioStream* s;
    enum class State { start, run, flushing, reading, done } state = State::start;
    std::error_code result{};

    template <class Self>
    void operator()(Self& self, std::error_code ec = {}, std::size_t n = 0) {
      switch (state) {
        case State::start:
          if (!s->engine_) {
            result = AsioErrc::NoConnection;
          } else if (s->read_busy_ || s->write_busy_) {
            result = AsioErrc::OperationInProgress;
          } else {
            s->read_busy_ = s->write_busy_ = true;
            state = State::run;
            return step(self);
          }
          state = State::done;
          return ::asio::post(std::move(self));
        case State::flushing:
          if (s->flushed(ec, n)) return s->flush(self);
          if (ec || result) return finish(self, ec);
          return step(self);
        case State::reading:
          if (auto err = s->received(ec, n)) return finish(self, err);
          return step(self);
        case State::done:
          return self.complete(result);
        case State::run:
          return step(self);
      }
    }

    template <class Self>
    void step(Self& self) {
      auto r = s->engine_.handshake();
      if (!r && r.error() != SslIoError::Kind::WantRead) result = s->fail(r.error());
      // Everything the handshake produced goes out first: our flight, the tickets, the
      // alert of a failure.
      if (s->engine_.wants_write()) {
        state = State::flushing;
        return s->flush(self);
      }
      if (r || result) return finish(self, result);
      state = State::reading;
      s->receive(self);
    }

    template <class Self>
    void finish(Self& self, std::error_code ec) {
      s->read_busy_ = s->write_busy_ = false;
      s->read_idle_.cancel();
      self.complete(result ? result : ec);
    }
  };

  // ---- async_read_some -------------------------------------------------------------
  template <class Buffers>
  struct read_op {
    AsioStream* s;
    Buffers buffers;
    enum class State { start, flushing, reading, done } state = State::start;
    bool decided = false;  // the outcome is known; only its output is left to send
    std::error_code result{};
    std::size_t bytes = 0;

    template <class Self>
    void operator()(Self& self, std::error_code ec = {}, std::size_t n = 0) {
      switch (state) {
        case State::start: {
          if (s->read_busy_) {
            result = AsioErrc::OperationInProgress;
          } else if ((result = s->precondition())) {
          } else if (target().size() == 0) {
            result = {};
          } else {
            s->read_busy_ = true;
            return step(self);
          }
          state = State::done;
          return ::asio::post(std::move(self));
        }
        case State::flushing:
          if (s->flushed(ec, n)) return s->flush(self);
          // A failed send of the answer does not hide what the read found.
          if (ec && !decided) return finish(self, ec, 0);
          return step(self);
        case State::reading:
          if (auto err = s->received(ec, n)) return finish(self, err, 0);
          return step(self);
        case State::done:
          return self.complete(result, 0);
      }
    }

    ::asio::mutable_buffer target() const {
      for (auto it = ::asio::buffer_sequence_begin(buffers);
           it != ::asio::buffer_sequence_end(buffers); ++it) {
        ::asio::mutable_buffer b(*it);
        if (b.size() != 0) return b;
      }
      return {};
    }

    template <class Self>
    void step(Self& self) {
      if (!decided) {
        auto buf = target();
        auto r = s->engine_.read(std::span(static_cast<std::byte*>(buf.data()), buf.size()));
        if (r) {
          decided = true;
          bytes = *r;
        } else if (r.error() != SslIoError::Kind::WantRead) {
          decided = true;
          result = s->fail(r.error());
        }
      }
      // Output the read produced (a KeyUpdate answer, our close_notify, an alert) goes
      // out before we wait for more or complete, unless a write-side operation is
      // sending already: it sends everything pending before it completes.
      if (s->engine_.wants_write() && !s->flushing_) {
        state = State::flushing;
        return s->flush(self);
      }
      if (decided) return finish(self, result, bytes);
      state = State::reading;
      s->receive(self);
    }

    template <class Self>
    void finish(Self& self, std::error_code ec, std::size_t n) {
      s->read_busy_ = false;
      s->read_idle_.cancel();
      self.complete(ec, n);
    }
  };

  // ---- the write side's common steps -------------------------------------------------
  // async_write_some and async_shutdown both end by sending everything pending, waiting
  // first when a read is sending its own output. Derived has `s`, `state` (with `waiting`
  // and `flushing`), send(self) and finish(self, ec).
  template <class Derived>
  struct write_side {
    // Starts sending what is pending and returns true (the operation resumes in
    // `waiting` or `flushing`), or returns false when nothing is pending.
    template <class Self>
    bool send_pending(Self& self) {
      auto& d = static_cast<Derived&>(*this);
      if (!d.s->engine_.wants_write()) return false;
      if (d.s->flushing_) {  // a read is sending its answer: wait for it to end
        d.state = Derived::State::waiting;
        d.s->write_idle_.async_wait(std::move(self));
      } else {
        d.state = Derived::State::flushing;
        d.s->flush(self);
      }
      return true;
    }
    // Resumes in `waiting` (woken by the end of a read's flush, or cancelled) or
    // `flushing` (a write of the next layer ended).
    template <class Self>
    void resume_send(Self& self, std::error_code ec, std::size_t n) {
      auto& d = static_cast<Derived&>(*this);
      if (d.state == Derived::State::waiting) {
        if (self.get_cancellation_state().cancelled() != ::asio::cancellation_type::none) {
          return d.finish(self, ::asio::error::operation_aborted);
        }
        if (d.s->flush_error_) return d.finish(self, d.s->flush_error_);
      } else {
        if (d.s->flushed(ec, n)) return d.s->flush(self);
        if (ec) return d.finish(self, ec);
      }
      d.send(self);
    }
  };

  // ---- async_write_some ------------------------------------------------------------
  template <class Buffers>
  struct write_op : write_side<write_op<Buffers>> {
    AsioStream* s;
    Buffers buffers;
    enum class State { start, waiting, flushing, done } state = State::start;
    std::error_code result{};
    std::size_t taken = 0;

    template <class Self>
    void operator()(Self& self, std::error_code ec = {}, std::size_t n = 0) {
      switch (state) {
        case State::start:
          if (s->write_busy_) {
            result = AsioErrc::OperationInProgress;
          } else if ((result = s->precondition())) {
          } else if (::asio::buffer_size(buffers) == 0) {
            result = {};
          } else {
            s->write_busy_ = true;
            return encrypt(self);
          }
          state = State::done;
          return ::asio::post(std::move(self));
        case State::waiting:
        case State::flushing:
          return this->resume_send(self, ec, n);
        case State::done:
          return self.complete(result, 0);
      }
    }

    template <class Self>
    void encrypt(Self& self) {
      std::array<std::span<const std::byte>, kMaxGather> pieces;
      std::size_t count = 0;
      for (auto it = ::asio::buffer_sequence_begin(buffers);
           it != ::asio::buffer_sequence_end(buffers) && count < kMaxGather; ++it) {
        ::asio::const_buffer b(*it);
        if (b.size() != 0) pieces[count++] = {static_cast<const std::byte*>(b.data()), b.size()};
      }
      auto r = s->engine_.send_gather(std::span(pieces.data(), count));
      if (r) {
        taken = *r;
      } else if (r.error() != SslIoError::Kind::WantWrite) {
        result = s->fail(r.error());  // its alert, if any, still goes out
      }
      send(self);
    }

    // Sends everything pending, then completes (or encrypts again when the output was
    // full and nothing was taken yet).
    template <class Self>
    void send(Self& self) {
      if (this->send_pending(self)) return;
      if (taken == 0 && !result) return encrypt(self);
      finish(self, {});
    }

    template <class Self>
    void finish(Self& self, std::error_code ec) {
      s->write_busy_ = false;
      self.complete(result ? result : ec, taken);
    }
  };

  // ---- async_shutdown --------------------------------------------------------------
  struct shutdown_op : write_side<shutdown_op> {
    AsioStream* s;
    AsioShutdown wait;
    enum class State { start, waiting, flushing, peer, reading, done } state = State::start;
    bool reading_side = false;  // this operation holds the read side
    std::error_code result{};

    template <class Self>
    void operator()(Self& self, std::error_code ec = {}, std::size_t n = 0) {
      switch (state) {
        case State::start:
          if (s->write_busy_) {
            result = AsioErrc::OperationInProgress;
          } else if (!(result = s->precondition())) {
            auto r = s->engine_.shutdown();
            if (!r) {
              result = s->fail(r.error());
            } else {
              s->write_busy_ = true;
              return send(self);
            }
          }
          state = State::done;
          return ::asio::post(std::move(self));
        case State::waiting:
        case State::flushing:
          return this->resume_send(self, ec, n);
        case State::peer:  // woken by the end of the pending read, or cancelled
          if (self.get_cancellation_state().cancelled() != ::asio::cancellation_type::none) {
            return finish(self, ::asio::error::operation_aborted);
          }
          return await_peer(self);
        case State::reading:
          if (auto err = s->received(ec, n)) return finish(self, err);
          return await_peer(self);
        case State::done:
          return self.complete(result);
      }
    }

    template <class Self>
    void send(Self& self) {
      if (this->send_pending(self)) return;
      if (wait == AsioShutdown::SendOnly) return finish(self, {});
      await_peer(self);
    }

    // Waits for the peer's close_notify: through the pending read if there is one,
    // else by reading (and discarding) until it arrives.
    template <class Self>
    void await_peer(Self& self) {
      if (s->engine_.peer_closed()) return finish(self, {});
      if (!reading_side && s->read_busy_) {
        state = State::peer;
        return s->read_idle_.async_wait(std::move(self));
      }
      reading_side = s->read_busy_ = true;
      std::array<std::byte, 512> discard;
      for (;;) {
        auto r = s->engine_.read(discard);
        if (r) continue;
        if (r.error() == SslIoError::Kind::ZeroReturn) return finish(self, {});
        if (r.error() != SslIoError::Kind::WantRead) return finish(self, s->fail(r.error()));
        break;
      }
      state = State::reading;
      s->receive(self);
    }

    template <class Self>
    void finish(Self& self, std::error_code ec) {
      s->write_busy_ = false;
      if (reading_side) {
        s->read_busy_ = false;
        s->read_idle_.cancel();
      }
      self.complete(result ? result : ec);
    }
  };

  NextLayer next_;
  EngineOptions options_;
  TlsEngine engine_;
  ErrorStack last_error_;
  // A write-side operation that finds a read's flush running waits on write_idle_; a
  // shutdown waiting for the peer while a read is pending waits on read_idle_. Both
  // never expire: cancel() is the wake-up, and a per-operation cancellation also ends
  // the wait (the operation checks which).
  timer write_idle_;
  timer read_idle_;
  // The buffers of the write in flight: the next layer reads them until it completes.
  std::array<::asio::const_buffer, kMaxFlush> flush_bufs_{};
  std::error_code flush_error_{};
  bool flushing_ = false;    // a write of the next layer is in flight
  bool read_busy_ = false;   // a read-side operation (or the handshake) is pending
  bool write_busy_ = false;  // a write-side operation (or the handshake) is pending
};

}  // namespace ossl
