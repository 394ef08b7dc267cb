#include <ossl/io.hpp>

#include "internal.hpp"

#include <openssl/ssl.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ossl::io {

namespace {

SslIoError timeout_error(Timeout timeout, bool reading) {
  return SslIoError(SslIoError::Kind::Syscall,
                    ErrorStack::message("io: timed out after " + std::to_string(timeout.count()) +
                                        " ms waiting for the socket to be " +
                                        (reading ? "readable" : "writable")),
                    SSL_ERROR_SYSCALL, ETIMEDOUT);
}

Timeout left_until(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<Timeout>(deadline - Clock::now());
  return left < Timeout::zero() ? Timeout::zero() : left;
}

// The peer closed cleanly: answer with our close_notify unless it is out already. The
// peer may be gone (it need not wait for ours), so failures only end the attempt.
void answer_close_notify(Ssl& ssl, Clock::time_point deadline) {
  if (ssl.shutdown_state().sent) return;
  (void)retry(ssl, left_until(deadline), [&] { return ssl.shutdown(); });
}

}  // namespace

Result<void> set_nonblocking(int fd, bool on) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK)) != 0) {
    return ErrorStack::message("io::set_nonblocking(" + std::to_string(fd) +
                               "): " + std::strerror(errno));
  }
  return {};
}

Result<void, SslIoError> wait(const Ssl& ssl, const SslIoError& pending, Timeout timeout) {
  if (!pending.would_block()) return pending;
  const bool reading = pending.kind() == SslIoError::Kind::WantRead;
  const int fd = reading ? SSL_get_rfd(ssl.native_handle()) : SSL_get_wfd(ssl.native_handle());
  if (fd < 0) {
    return SslIoError(SslIoError::Kind::Other,
                      ErrorStack::message("io::wait: the connection has no socket to wait on "
                                          "(a memory or BIO-pair transport must be pumped)"));
  }
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    pollfd p{fd, static_cast<short>(reading ? POLLIN : POLLOUT), 0};
    const int n = ::poll(&p, 1, static_cast<int>(left_until(deadline).count()));
    if (n > 0) return {};  // ready, or an error/hang-up that the next call will report
    if (n == 0) return timeout_error(timeout, reading);
    if (errno != EINTR) {
      const int e = errno;
      return SslIoError(SslIoError::Kind::Syscall,
                        ErrorStack::message(std::string("io::wait: poll: ") + std::strerror(e)),
                        SSL_ERROR_SYSCALL, e);
    }
  }
}

Result<void, SslIoError> handshake(Ssl& ssl, Timeout timeout) {
  return retry(ssl, timeout, [&] { return ssl.do_handshake(); });
}

Result<void, SslIoError> write_all(Ssl& ssl, std::span<const std::byte> data, Timeout timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!data.empty()) {
    // SSL_write_ex writes everything unless SSL_MODE_ENABLE_PARTIAL_WRITE is set; the
    // loop also covers that mode, and retries after WantWrite with the same bytes.
    auto n = retry(ssl, left_until(deadline), [&] { return ssl.write(data); });
    if (!n) return std::move(n).error();
    data = data.subspan(*n);
  }
  return {};
}

Result<void, SslIoError> write_all(Ssl& ssl, std::string_view text, Timeout timeout) {
  return write_all(ssl, detail::as_bytes(text), timeout);
}

Result<std::size_t, SslIoError> read_to_end(Ssl& ssl, std::string& out, Timeout timeout,
                                            std::size_t max_bytes) {
  const auto deadline = Clock::now() + timeout;
  std::size_t total = 0;
  char buf[16384];
  for (;;) {
    auto n = retry(ssl, left_until(deadline), [&] { return ssl.read(buf); });
    if (!n) {
      if (n.error() == SslIoError::Kind::ZeroReturn) {  // clean close_notify
        answer_close_notify(ssl, deadline);
        return total;
      }
      return std::move(n).error();  // includes truncation (truncated() == true)
    }
    total += *n;
    if (total > max_bytes) {
      return SslIoError(SslIoError::Kind::Other,
                        ErrorStack::message("io::read_to_end: more than " +
                                            std::to_string(max_bytes) + " bytes"));
    }
    out.append(buf, *n);
  }
}

Result<std::size_t, SslIoError> read_some(Ssl& ssl, std::span<std::byte> buf, Timeout timeout) {
  const auto deadline = Clock::now() + timeout;
  auto n = retry(ssl, timeout, [&] { return ssl.read(buf); });
  if (!n && n.error() == SslIoError::Kind::ZeroReturn) answer_close_notify(ssl, deadline);
  return n;
}

Result<std::size_t, SslIoError> read_some(Ssl& ssl, std::span<char> buf, Timeout timeout) {
  return read_some(ssl, std::as_writable_bytes(buf), timeout);
}

Result<ShutdownResult, SslIoError> shutdown(Ssl& ssl, Timeout timeout, bool wait_for_peer,
                                            std::string* peer_data) {
  const auto deadline = Clock::now() + timeout;
  // WantWrite: close_notify waits for a writable socket, then goes out.
  auto sent = retry(ssl, timeout, [&] { return ssl.shutdown(); });
  if (!sent || *sent == ShutdownResult::Complete || !wait_for_peer) return sent;
  // Our close_notify is out. The peer may still have application data in flight before
  // its own: read it (calling SSL_shutdown again instead would fail the connection with
  // "application data after close notify"), hand it over or drop it, until the peer's
  // close_notify (ZeroReturn) or the deadline.
  char buf[16384];
  for (;;) {
    auto n = retry(ssl, left_until(deadline), [&] { return ssl.read(buf); });
    if (n) {
      if (peer_data != nullptr) peer_data->append(buf, *n);
      continue;
    }
    if (n.error() == SslIoError::Kind::ZeroReturn) return ssl.shutdown();  // Complete
    if (n.error().sys_errno() == ETIMEDOUT) return ShutdownResult::Sent;
    return std::move(n).error();
  }
}

void lingering_close(int fd, Timeout linger, std::size_t max_discard) noexcept {
  if (fd < 0) return;
  if (::shutdown(fd, SHUT_WR) == 0) {
    const auto deadline = Clock::now() + linger;
    std::size_t discarded = 0;
    char buf[16384];
    while (discarded < max_discard) {
      pollfd p{fd, POLLIN, 0};
      const int ready = ::poll(&p, 1, static_cast<int>(left_until(deadline).count()));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) break;  // the time is up (or poll failed)
      const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
      if (n <= 0) break;  // the peer closed (or reset)
      discarded += static_cast<std::size_t>(n);
    }
  }
  ::close(fd);
}

}  // namespace ossl::io
