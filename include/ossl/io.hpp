// ossl: socket I/O helpers, and the TCP sockets to use them on (connect, listen, accept).
// The helpers drive an Ssl attached to a socket (blocking or not),
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
#include <cstdint>
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

/// Owns a socket's file descriptor and closes it once: when destroyed, reset or
/// assigned over. What connect(), listen() and accept() return. release() gives the
/// descriptor to something that closes it itself (Bio::new_socket with
/// CloseOnFree::Yes, lingering_close()) and leaves this Socket empty. Move-only.
class OSSL_API Socket {
 public:
  /// An empty Socket (no descriptor; `bool` false).
  Socket() noexcept = default;
  /// Takes ownership of `fd` (-1: empty).
  explicit Socket(int fd) noexcept : fd_(fd) {}
  ///@{
  /// Moves the descriptor; the source is left empty.
  Socket(Socket&& other) noexcept;
  Socket& operator=(Socket&& other) noexcept;
  ///@}
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  /// Closes the descriptor, if any. (close)
  ~Socket();

  /// The descriptor (-1 when empty); this Socket still owns it.
  [[nodiscard]] int get() const noexcept { return fd_; }
  /// Gives up the descriptor without closing it: the caller owns it now. -1 when empty.
  [[nodiscard]] int release() noexcept;
  /// Closes the descriptor, if any, and takes `fd` (-1: stays empty). (close)
  void reset(int fd = -1) noexcept;
  /// True when a descriptor is held.
  explicit operator bool() const noexcept { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

/// Whether a socket from connect() or accept() is left blocking or non-blocking.
enum class SocketMode {
  /// Non-blocking (O_NONBLOCK), as the helpers above need for their timeouts to hold.
  NonBlocking,
  /// Blocking: each read or write waits as long as the kernel lets it.
  Blocking,
};

/// Connects over TCP to `host` (a name or a numeric IPv4/IPv6 address) on `port`.
/// Tries every address the resolver returns, in its order (getaddrinfo sorts them per
/// RFC 6724), until one accepts; each attempt gets what is left of `timeout` divided by
/// the addresses not yet tried, so an unreachable first address cannot use up the time
/// of the next. The socket returned is connected, close-on-exec, with TCP_NODELAY (a
/// TLS record goes out whole, without Nagle's delay), in `mode` (default non-blocking).
/// Errors name the host and port, then each address tried and what happened:
/// "io::connect(localhost port 4433): [::1]:4433: Connection refused (errno 111);
/// 127.0.0.1:4433: timed out after 2500 ms", or that the name did not resolve, or what
/// was wrong with the arguments (an empty host, port 0, a NUL byte).
/// (getaddrinfo, socket, connect, poll, getsockopt SO_ERROR)
[[nodiscard]] OSSL_API Result<Socket> connect(std::string_view host, std::uint16_t port,
                                              Timeout timeout,
                                              SocketMode mode = SocketMode::NonBlocking);

/// A listening TCP socket (non-blocking, close-on-exec), and the numeric address and
/// port it is bound to: the port the kernel chose when listen() was given port 0.
struct OSSL_API Listener {
  /// The listening socket; closing it stops listening.
  Socket socket;
  /// The bound address, numeric ("127.0.0.1", "::").
  std::string address;
  /// The bound port.
  std::uint16_t port = 0;
};

/// Listens for TCP connections on `address` (numeric or a name; empty: every interface,
/// over IPv6 and IPv4 where the host has IPv6) and `port` (0: any free port, reported
/// in Listener::port). Binds the first address the resolver returns that works, with
/// SO_REUSEADDR (a restarted server gets its port back at once) and, for an IPv6
/// address, IPV6_V6ONLY off (so "::" takes IPv4 clients too). Errors name the address
/// and port and what failed with its errno: "io::listen(127.0.0.1 port 443): bind
/// 127.0.0.1:443: Permission denied (errno 13)". (getaddrinfo, socket, setsockopt,
/// bind, listen, getsockname)
[[nodiscard]] OSSL_API Result<Listener> listen(std::string_view address, std::uint16_t port,
                                               int backlog = 128);

/// Accepts the next connection on `listener`, waiting at most `timeout` (zero: only
/// one already waiting). The socket returned is close-on-exec, with TCP_NODELAY, in
/// `mode`. A client that gave up while queued (ECONNABORTED) is skipped. Errors name
/// the listener's address and port, then "no connection within 1000 ms" when the time
/// is up, or the failure and its errno ("Too many open files (errno 24)").
/// (poll, accept4, setsockopt TCP_NODELAY)
[[nodiscard]] OSSL_API Result<Socket> accept(const Listener& listener, Timeout timeout,
                                             SocketMode mode = SocketMode::NonBlocking);

}  // namespace ossl::io
