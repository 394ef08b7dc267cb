#include <ossl/io.hpp>

#include "internal.hpp"

#include <openssl/ssl.h>

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

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

// "Connection refused (errno 111)": what strerror says, and the number to look up.
std::string errno_text(int e) {
  return std::string(std::strerror(e)) + " (errno " + std::to_string(e) + ")";
}

// "127.0.0.1:443" or "[::1]:443"; numeric, never a lookup. (getnameinfo)
std::string endpoint_text(const sockaddr* addr, socklen_t len) {
  char host[NI_MAXHOST];
  char serv[NI_MAXSERV];
  if (::getnameinfo(addr, len, host, sizeof host, serv, sizeof serv,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return "(an address of family " + std::to_string(addr->sa_family) + ")";
  }
  return addr->sa_family == AF_INET6 ? "[" + std::string(host) + "]:" + serv
                                     : std::string(host) + ":" + serv;
}

// Appends "[<call> ]<endpoint>: <outcome>" to `tried`, "; "-separated: what an error
// lists of the addresses it tried.
void note_attempt(std::string& tried, std::string_view endpoint, std::string_view outcome,
                  std::string_view call = {}) {
  if (!tried.empty()) tried += "; ";
  if (!call.empty()) tried.append(call).append(" ");
  tried.append(endpoint).append(": ").append(outcome);
}

struct FreeAddrInfo {
  void operator()(addrinfo* list) const noexcept { ::freeaddrinfo(list); }
};
using AddrList = std::unique_ptr<addrinfo, FreeAddrInfo>;

// The TCP addresses of `host` (empty: the wildcard addresses, with AI_PASSIVE), in the
// resolver's order; an error says what did not resolve. (getaddrinfo)
Result<AddrList> resolve(const std::string& what, std::string_view host, std::uint16_t port,
                         bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  const std::string node(host);
  const std::string service = std::to_string(port);
  addrinfo* list = nullptr;
  const int rc =
      ::getaddrinfo(node.empty() ? nullptr : node.c_str(), service.c_str(), &hints, &list);
  if (rc != 0) {
    return ErrorStack::message(what + ": cannot resolve the " + (passive ? "address" : "host") +
                               ": " + ::gai_strerror(rc) +
                               (rc == EAI_SYSTEM ? " (errno " + std::to_string(errno) + ")" : ""));
  }
  return AddrList(list);
}

// Waits up to `timeout` for `events` on `fd`, through EINTR. 1: ready, 0: the time
// is up, -1: poll failed (errno). (poll)
int wait_for(int fd, short events, Timeout timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    pollfd p{fd, events, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left_until(deadline).count()));
    if (ready >= 0 || errno != EINTR) return ready;
  }
}

// TLS sends whole records; Nagle's algorithm would hold back a small one until the
// previous is acknowledged. Not TCP (a Listener over another family): nothing to do.
void set_nodelay(int fd) noexcept {
  const int one = 1;
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

}  // namespace

Socket::Socket(Socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) reset(std::exchange(other.fd_, -1));
  return *this;
}

Socket::~Socket() {
  reset();
}

int Socket::release() noexcept {
  return std::exchange(fd_, -1);
}

void Socket::reset(int fd) noexcept {
  if (fd_ >= 0 && fd_ != fd) ::close(fd_);
  fd_ = fd;
}

Result<Socket> connect(std::string_view host, std::uint16_t port, Timeout timeout,
                       SocketMode mode) {
  const std::string what =
      "io::connect(" + std::string(host) + " port " + std::to_string(port) + ")";
  if (host.empty()) return ErrorStack::message(what + ": no host given");
  if (host.find('\0') != std::string_view::npos) {
    return ErrorStack::message(what + ": the host contains a NUL byte");
  }
  if (port == 0) return ErrorStack::message(what + ": port 0 is no port to connect to");
  auto resolved = resolve(what, host, port, false);
  if (!resolved) return std::move(resolved).error();

  std::size_t untried = 0;
  for (const addrinfo* ai = resolved->get(); ai != nullptr; ai = ai->ai_next)
    ++untried;
  const auto deadline = Clock::now() + std::max(timeout, Timeout::zero());
  std::string tried;  // "; "-separated: each address and what became of it
  for (const addrinfo* ai = resolved->get(); ai != nullptr; ai = ai->ai_next, --untried) {
    const std::string endpoint = endpoint_text(ai->ai_addr, ai->ai_addrlen);
    const auto note = [&](const std::string& outcome) { note_attempt(tried, endpoint, outcome); };
    Socket sock(
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol));
    if (!sock) {
      note("socket: " + errno_text(errno));
      continue;
    }
    // Non-blocking connect: EINPROGRESS (or EINTR: it goes on regardless) means
    // writable once settled, with the outcome in SO_ERROR.
    if (::connect(sock.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
      if (errno != EINPROGRESS && errno != EINTR) {
        note(errno_text(errno));
        continue;
      }
      const Timeout share = left_until(deadline) / untried;
      const int ready = wait_for(sock.get(), POLLOUT, share);
      if (ready <= 0) {
        note(ready == 0 ? "timed out after " + std::to_string(share.count()) + " ms"
                        : "poll: " + errno_text(errno));
        continue;
      }
      int err = 0;
      socklen_t len = sizeof err;
      if (::getsockopt(sock.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      if (err != 0) {
        note(errno_text(err));
        continue;
      }
    }
    set_nodelay(sock.get());
    if (mode == SocketMode::Blocking) {
      if (auto r = set_nonblocking(sock.get(), false); !r) return std::move(r).error();
    }
    return sock;
  }
  return ErrorStack::message(what + ": " + tried);
}

Result<Listener> listen(std::string_view address, std::uint16_t port, int backlog) {
  const std::string what =
      "io::listen(" + (address.empty() ? std::string("every interface") : std::string(address)) +
      " port " + std::to_string(port) + ")";
  if (address.find('\0') != std::string_view::npos) {
    return ErrorStack::message(what + ": the address contains a NUL byte");
  }
  if (backlog < 0) {
    return ErrorStack::message(what + ": a backlog of " + std::to_string(backlog) +
                               " (must be 0 or more)");
  }
  auto resolved = resolve(what, address, port, true);
  if (!resolved) return std::move(resolved).error();
  // Every interface: "::" first where the host has IPv6, since it takes IPv4 too.
  std::vector<const addrinfo*> order;
  for (const addrinfo* ai = resolved->get(); ai != nullptr; ai = ai->ai_next) {
    if (!address.empty() || ai->ai_family == AF_INET6) order.push_back(ai);
  }
  if (address.empty()) {
    for (const addrinfo* ai = resolved->get(); ai != nullptr; ai = ai->ai_next) {
      if (ai->ai_family != AF_INET6) order.push_back(ai);
    }
  }
  std::string tried;
  for (const addrinfo* ai : order) {
    const std::string endpoint = endpoint_text(ai->ai_addr, ai->ai_addrlen);
    const auto note = [&](const char* call, int err) {
      note_attempt(tried, endpoint, errno_text(err), call);
    };
    Socket sock(
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol));
    if (!sock) {
      note("socket", errno);
      continue;
    }
    const int one = 1;
    const int zero = 0;
    if (::setsockopt(sock.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
      note("setsockopt SO_REUSEADDR", errno);
      continue;
    }
    if (ai->ai_family == AF_INET6 &&
        ::setsockopt(sock.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) != 0) {
      note("setsockopt IPV6_V6ONLY", errno);
      continue;
    }
    if (::bind(sock.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
      note("bind", errno);
      continue;
    }
    if (::listen(sock.get(), backlog) != 0) {
      note("listen on", errno);
      continue;
    }
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    if (::getsockname(sock.get(), reinterpret_cast<sockaddr*>(&bound), &len) != 0) {
      note("getsockname", errno);
      continue;
    }
    char host[NI_MAXHOST];
    char serv[NI_MAXSERV];
    if (::getnameinfo(reinterpret_cast<sockaddr*>(&bound), len, host, sizeof host, serv,
                      sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
      note_attempt(tried, endpoint, "its bound address has no numeric form");
      continue;
    }
    Listener out;
    out.socket = std::move(sock);
    out.address = host;
    out.port = static_cast<std::uint16_t>(std::stoul(serv));
    return out;
  }
  return ErrorStack::message(what + ": " + tried);
}

Result<Socket> accept(const Listener& listener, Timeout timeout, SocketMode mode) {
  const std::string what =
      "io::accept(" + listener.address + " port " + std::to_string(listener.port) + ")";
  if (!listener.socket) return ErrorStack::message(what + ": the listener holds no socket");
  const auto deadline = Clock::now() + std::max(timeout, Timeout::zero());
  const int flags = SOCK_CLOEXEC | (mode == SocketMode::NonBlocking ? SOCK_NONBLOCK : 0);
  for (;;) {
    // Polled first, so that a blocking listener (a Listener made by hand) never blocks.
    const int ready = wait_for(listener.socket.get(), POLLIN, left_until(deadline));
    if (ready < 0) return ErrorStack::message(what + ": poll: " + errno_text(errno));
    if (ready == 0) {
      return ErrorStack::message(what + ": no connection within " +
                                 std::to_string(std::max(timeout, Timeout::zero()).count()) +
                                 " ms");
    }
    Socket sock(::accept4(listener.socket.get(), nullptr, nullptr, flags));
    if (sock) {
      set_nodelay(sock.get());
      return sock;
    }
    // Gone before we took it (ECONNABORTED), taken by another thread (EAGAIN), or a
    // signal: wait for the next one. Anything else is the listener's problem.
    if (errno != ECONNABORTED && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      return ErrorStack::message(what + ": " + errno_text(errno));
    }
  }
}

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
