// ossl: socket I/O helpers. They drive an Ssl attached to a socket (blocking or not),
// waiting with poll() for exactly what OpenSSL asked for (WantRead: readable,
// WantWrite: writable), bounded by a timeout. They add no state: each helper is the
// loop you would write by hand, and its outcomes stay the typed SslIoError.
//
//   for (;;) {                                  // what io::handshake() does
//     auto r = ssl.do_handshake();
//     if (r || !r.error().would_block()) return r;
//     if (auto w = io::wait(ssl, r.error(), remaining); !w) return w;
//   }
#pragma once

#include <ossl/result.hpp>
#include <ossl/ssl.hpp>
#include <ossl/tls.hpp>

#include <chrono>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace ossl::io {

/// The time limit of one whole helper call (all its retries and waits together).
using Timeout = std::chrono::milliseconds;
/// The clock deadlines are measured on (monotonic).
using Clock = std::chrono::steady_clock;

/// Puts `fd` in non-blocking mode (or back). Returns an error naming the fd and errno.
/// (fcntl O_NONBLOCK)
[[nodiscard]] OSSL_API Result<void> set_nonblocking(int fd, bool on = true);

/// Waits until the connection's socket is ready for what `pending` asks: readable for
/// WantRead, writable for WantWrite. Other outcomes are returned unchanged (there is
/// nothing to wait for). A timeout is a Syscall error with sys_errno() == ETIMEDOUT; a
/// connection without a socket (e.g. a BIO pair) is an Other error saying so.
/// (poll on SSL_get_rfd / SSL_get_wfd)
[[nodiscard]] OSSL_API Result<void, SslIoError> wait(const Ssl& ssl, const SslIoError& pending,
                                                     Timeout timeout);

/// Calls `step` (returning Result<T, SslIoError>) until it no longer asks to retry,
/// waiting on the socket in between; the whole call is bounded by `timeout`.
template <class Step>
auto retry(const Ssl& ssl, Timeout timeout, Step&& step) -> decltype(step()) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    auto r = step();
    if (r || !r.error().would_block()) return r;
    const auto left = std::chrono::duration_cast<Timeout>(deadline - Clock::now());
    if (auto w = wait(ssl, r.error(), left < Timeout::zero() ? Timeout::zero() : left); !w) {
      return std::move(w).error();
    }
  }
}

/// Completes the handshake in the role set before (set_connect_state /
/// set_accept_state). (SSL_do_handshake in a retry loop)
[[nodiscard]] OSSL_API Result<void, SslIoError> handshake(Ssl& ssl, Timeout timeout);

/// Writes all of `data`, however the transport splits it. (SSL_write_ex in a retry loop)
[[nodiscard]] OSSL_API Result<void, SslIoError> write_all(Ssl& ssl, std::span<const std::byte> data,
                                                          Timeout timeout);
/// Overload of write_all() for text.
[[nodiscard]] OSSL_API Result<void, SslIoError> write_all(Ssl& ssl, std::string_view text,
                                                          Timeout timeout);

/// Reads at least one byte into `buf`, waiting for the socket as needed, and returns how
/// many. When the peer's close_notify arrives instead, answers it with ours (within what
/// is left of `timeout`; a peer that is gone already is not an error) and returns
/// ZeroReturn: the peer's shutdown completes, and OpenSSL keeps the session resumable,
/// which it does not for a connection freed without sending close_notify. Errors as
/// Ssl::read(). (SSL_read_ex in a retry loop; SSL_shutdown after SSL_ERROR_ZERO_RETURN)
[[nodiscard]] OSSL_API Result<std::size_t, SslIoError> read_some(Ssl& ssl, std::span<std::byte> buf,
                                                                 Timeout timeout);
/// Overload of read_some() for char buffers.
[[nodiscard]] OSSL_API Result<std::size_t, SslIoError> read_some(Ssl& ssl, std::span<char> buf,
                                                                 Timeout timeout);

/// Appends everything the peer sends to `out` until its close_notify, and returns the
/// number of bytes read. A peer that closes without close_notify is an error whose
/// truncated() is true (the data may be cut short), never a silent success; more than
/// `max_bytes` is an error too. The peer's close_notify is answered as read_some() does.
/// (SSL_read_ex in a retry loop)
[[nodiscard]] OSSL_API Result<std::size_t, SslIoError> read_to_end(Ssl& ssl, std::string& out,
                                                                   Timeout timeout,
                                                                   std::size_t max_bytes = 64
                                                                                           << 20);

/// Sends close_notify (waiting for a writable socket if need be) and, with
/// `wait_for_peer`, reads until the peer's close_notify or `timeout`. Application data
/// the peer sent before its close_notify is appended to `*peer_data`, or dropped when
/// `peer_data` is null; it never fails the close. Returns what was achieved: Complete
/// (both close_notify alerts exchanged) or Sent (ours only: not waiting, or the peer
/// did not answer in time). Errors as Ssl::shutdown() and Ssl::read().
/// (SSL_shutdown, then SSL_read_ex until SSL_ERROR_ZERO_RETURN, then SSL_shutdown)
[[nodiscard]] OSSL_API Result<ShutdownResult, SslIoError> shutdown(
    Ssl& ssl, Timeout timeout, bool wait_for_peer = false, std::string* peer_data = nullptr);

/// Closes a TCP socket the way a server should after its last response, and as
/// `openssl s_server` does: stops sending (shutdown(SHUT_WR): the peer sees our FIN after
/// all our data), reads and discards what the peer still sends until it closes, `linger`
/// passes or `max_discard` bytes came, then closes `fd`. A plain close() with unread
/// data makes the kernel send a TCP reset, and a peer still sending (an HTTP body the
/// server did not read) may then lose the response and the alerts before it. Call it
/// after io::shutdown(). Always closes `fd`; errors are ignored, since the connection
/// is over either way. (shutdown, poll, recv, close)
OSSL_API void lingering_close(int fd, Timeout linger = std::chrono::seconds(2),
                              std::size_t max_discard = std::size_t{1} << 20) noexcept;

}  // namespace ossl::io
