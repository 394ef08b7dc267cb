#include <ossl/io.hpp>  // first: proves the header is self-contained

#include "support/handshake.hpp"
#include "support/process.hpp"

#include <doctest/doctest.h>
#include <openssl/err.h>

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <future>
#include <string>
#include <thread>
#include <vector>

using namespace ossl;
using namespace ossl_test;
using namespace std::literals;

namespace {

constexpr io::Timeout kTimeout = 10s;

SslCtx server_ctx(TlsVersion v) {
  return server_builder(v).build().value();
}
SslCtx client_ctx() {
  return client_builder().build().value();
}

// A client socket connected to a loopback listener, and the accepted socket, both in
// `mode` (blocking unless asked).
struct TcpPair {
  io::Socket client;
  io::Socket server;
};
TcpPair tcp_pair(io::SocketMode mode = io::SocketMode::Blocking) {
  auto l = io::listen("127.0.0.1", 0);
  REQUIRE_MESSAGE(l.has_value(), l.error().to_string());
  auto client = io::connect("127.0.0.1", l->port, 5s, mode);
  REQUIRE_MESSAGE(client.has_value(), client.error().to_string());
  auto server = io::accept(*l, 5s, mode);
  REQUIRE_MESSAGE(server.has_value(), server.error().to_string());
  return {std::move(*client), std::move(*server)};
}

bool nonblocking(int fd) {
  return (::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0;
}
bool close_on_exec(int fd) {
  return (::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
}
bool nodelay(int fd) {
  int on = 0;
  socklen_t len = sizeof on;
  return ::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len) == 0 && on != 0;
}
bool open_fd(int fd) {
  return ::fcntl(fd, F_GETFD) != -1;
}

// What the resolver gives for `host`, numeric and in its order, as io::connect names
// them ("127.0.0.1:443", "[::1]:443").
std::vector<std::string> endpoints_of(const char* host, std::uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  addrinfo* list = nullptr;
  REQUIRE(::getaddrinfo(host, std::to_string(port).c_str(), &hints, &list) == 0);
  std::vector<std::string> out;
  for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    char text[NI_MAXHOST];
    REQUIRE(::getnameinfo(ai->ai_addr, ai->ai_addrlen, text, sizeof text, nullptr, 0,
                          NI_NUMERICHOST) == 0);
    const std::string p = ":" + std::to_string(port);
    out.push_back(ai->ai_family == AF_INET6 ? "[" + std::string(text) + "]" + p : text + p);
  }
  ::freeaddrinfo(list);
  return out;
}

// A loopback port nothing listens on (it was bound a moment ago): connecting is refused.
std::uint16_t closed_port() {
  auto l = io::listen("127.0.0.1", 0);
  REQUIRE(l.has_value());
  return l->port;
}

std::string error_of(const Result<io::Socket>& r) {
  return r ? std::string("(no error: connected)") : r.error().to_string();
}

}  // namespace

TEST_CASE(
    "a TLS conversation over io::connect and io::accept (non-blocking): handshake, write_all, "
    "read_to_end") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    TcpPair tcp = tcp_pair(io::SocketMode::NonBlocking);
    const std::string payload(1 << 20, 'z');  // large enough to hit WantWrite

    SslCtx sctx = server_ctx(v);
    auto server = std::async(std::launch::async, [&]() -> std::string {
      auto ssl = sctx.new_ssl().value();
      ssl.set_accept_state();
      if (auto r = ssl.set_fd(tcp.server.get()); !r) return r.error().to_string();
      if (auto r = io::handshake(ssl, kTimeout); !r) return r.error().to_string();
      char req[64];
      auto n = io::retry(ssl, kTimeout, [&] { return ssl.read(req); });
      if (!n || std::string_view(req, *n) != "GET") return "bad request";
      if (auto r = io::write_all(ssl, payload, kTimeout); !r) return r.error().to_string();
      if (auto r = io::shutdown(ssl, kTimeout, true); !r) return r.error().to_string();
      return "ok";
    });

    auto ssl = client_ctx().new_ssl_for_host("localhost").value();
    REQUIRE(ssl.set_fd(tcp.client.get()).has_value());
    auto hs = io::handshake(ssl, kTimeout);
    REQUIRE_MESSAGE(hs.has_value(), hs.error().to_string());
    CHECK(ssl.version() == v);
    REQUIRE(io::write_all(ssl, "GET"sv, kTimeout).has_value());
    std::string body;
    auto n = io::read_to_end(ssl, body, kTimeout);
    REQUIRE_MESSAGE(n.has_value(), n.error().to_string());
    CHECK(*n == payload.size());
    CHECK(body == payload);
    CHECK(io::shutdown(ssl, kTimeout).value() == ShutdownResult::Complete);  // peer's already in
    CHECK(server.get() == "ok");
  }
}

TEST_CASE("read_to_end reports a peer that closes without close_notify as truncation") {
  TcpPair tcp = tcp_pair();
  SslCtx sctx = server_ctx(TlsVersion::Tls13);
  auto server = std::async(std::launch::async, [&]() -> bool {
    auto ssl = sctx.new_ssl().value();
    ssl.set_accept_state();
    if (!ssl.set_fd(tcp.server.get()) || !io::handshake(ssl, kTimeout)) return false;
    if (!io::write_all(ssl, "partial"sv, kTimeout)) return false;
    tcp.server.reset();  // vanish: the TCP connection ends without close_notify
    return true;
  });
  auto ssl = client_ctx().new_ssl_for_host("localhost").value();
  REQUIRE(ssl.set_fd(tcp.client.get()).has_value());
  REQUIRE(io::handshake(ssl, kTimeout).has_value());
  REQUIRE(server.get());
  std::string body;
  auto n = io::read_to_end(ssl, body, kTimeout);
  REQUIRE_FALSE(n.has_value());
  CHECK(n.error().truncated());
  CHECK(body == "partial");                 // what did arrive is kept
  CHECK_FALSE(ssl.shutdown().has_value());  // no close_notify after a fatal error
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("helpers time out with ETIMEDOUT against a silent peer") {
  TcpPair tcp = tcp_pair();  // the server side accepts and never speaks
  REQUIRE(io::set_nonblocking(tcp.client.get()).has_value());
  auto ssl = client_ctx().new_ssl_for_host("localhost").value();
  REQUIRE(ssl.set_fd(tcp.client.get()).has_value());
  const auto start = io::Clock::now();
  auto r = io::handshake(ssl, 200ms);
  const auto took = io::Clock::now() - start;
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == SslIoError::Kind::Syscall);
  CHECK(r.error().sys_errno() == ETIMEDOUT);
  CHECK(r.error().to_string().find("timed out after") != std::string::npos);
  CHECK(took >= 190ms);
  CHECK(took < 5s);
}

TEST_CASE("blocking sockets work with the same helpers") {
  TcpPair tcp = tcp_pair();  // blocking
  SslCtx sctx = server_ctx(TlsVersion::Tls12);
  std::thread server([&] {
    auto ssl = sctx.new_ssl().value();
    ssl.set_accept_state();
    REQUIRE(ssl.set_fd(tcp.server.get()).has_value());
    REQUIRE(ssl.accept().has_value());  // blocks until done
    REQUIRE(io::write_all(ssl, "hello"sv, kTimeout).has_value());
    REQUIRE(io::shutdown(ssl, kTimeout).has_value());
  });
  auto ssl = client_ctx().new_ssl_for_host("localhost").value();
  REQUIRE(ssl.set_fd(tcp.client.get()).has_value());
  REQUIRE(ssl.connect().has_value());
  std::string body;
  CHECK(io::read_to_end(ssl, body, kTimeout).value() == 5);
  CHECK(body == "hello");
  server.join();
}

TEST_CASE("io::wait explains that a BIO-pair connection has no socket, and set_fd checks its fd") {
  Connection c = connect(Config{});
  auto w = io::wait(c.pair.client, SslIoError(SslIoError::Kind::WantRead), 10ms);
  REQUIRE_FALSE(w.has_value());
  CHECK(w.error().to_string().find("no socket to wait on") != std::string::npos);
  auto passthrough = io::wait(c.pair.client, SslIoError(SslIoError::Kind::ZeroReturn), 10ms);
  REQUIRE_FALSE(passthrough.has_value());
  CHECK(passthrough.error() == SslIoError::Kind::ZeroReturn);
  auto bad = c.pair.client.set_fd(-1);
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().to_string().find("invalid file descriptor -1") != std::string::npos);
  auto nb = io::set_nonblocking(-5);
  REQUIRE_FALSE(nb.has_value());
  CHECK(nb.error().to_string().find("io::set_nonblocking(-5)") != std::string::npos);
}

TEST_CASE("io::shutdown waiting for the peer reads its data in flight, then completes") {
  // The peer writes after the handshake and closes only once it has read our
  // close_notify: its data is in flight when we shut down. Looping on SSL_shutdown
  // instead of reading would fail with "application data after close notify".
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    TcpPair tcp = tcp_pair();
    const SslCtx sctx = server_ctx(v);
    auto server = std::async(std::launch::async, [&]() -> std::string {
      auto ssl = sctx.new_ssl().value();
      if (auto r = ssl.set_fd(tcp.server.get()); !r) return r.error().to_string();
      ssl.set_accept_state();
      if (auto r = io::handshake(ssl, kTimeout); !r) return r.error().to_string();
      if (auto r = io::write_all(ssl, "late data"sv, kTimeout); !r) return r.error().to_string();
      std::string rest;
      auto n = io::read_to_end(ssl, rest, kTimeout);  // until the client's close_notify
      if (!n) return n.error().to_string();
      if (auto r = io::shutdown(ssl, kTimeout); !r) return r.error().to_string();
      return "ok";
    });
    const SslCtx cctx = client_ctx();
    auto ssl = cctx.new_ssl_for_host("localhost").value();
    REQUIRE(ssl.set_fd(tcp.client.get()).has_value());
    REQUIRE(io::handshake(ssl, kTimeout).has_value());
    std::string peer_data;
    auto closed = io::shutdown(ssl, kTimeout, true, &peer_data);
    REQUIRE_MESSAGE(closed.has_value(), closed.error().to_string());
    CHECK(*closed == ShutdownResult::Complete);
    CHECK(peer_data == "late data");
    CHECK_FALSE(ssl.has_fatal_error());
    CHECK(ssl.shutdown_state() == ShutdownState{true, true});
    CHECK(server.get() == "ok");
  }
}

TEST_CASE("read_some answers the peer's close_notify with ours") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    TcpPair tcp = tcp_pair();
    SslCtx sctx = server_ctx(v);
    auto server = std::async(std::launch::async, [&]() -> std::string {
      auto ssl = sctx.new_ssl().value();
      ssl.set_accept_state();
      if (auto r = ssl.set_fd(tcp.server.get()); !r) return r.error().to_string();
      if (auto r = io::handshake(ssl, kTimeout); !r) return r.error().to_string();
      char buf[64];
      auto n = io::read_some(ssl, std::span<char>(buf), kTimeout);
      if (n || n.error() != SslIoError::Kind::ZeroReturn) return "expected ZeroReturn";
      return ssl.shutdown_state() == ShutdownState{true, true} ? "ok" : "not answered";
    });
    auto ssl = client_ctx().new_ssl_for_host("localhost").value();
    REQUIRE(ssl.set_fd(tcp.client.get()).has_value());
    REQUIRE(io::handshake(ssl, kTimeout).has_value());
    // Wait for the server's answer: Complete only if it sent its close_notify.
    auto closed = io::shutdown(ssl, kTimeout, true);
    REQUIRE_MESSAGE(closed.has_value(), closed.error().to_string());
    CHECK(*closed == ShutdownResult::Complete);
    CHECK(server.get() == "ok");
  }
}

TEST_CASE("lingering_close lets a peer that is still sending read the response") {
  // The server answers without reading the request body. A plain close() with the body
  // unread sends a TCP reset, which can destroy the response in the client's receive
  // queue; a lingering close sends FIN after the response and drains the rest.
  for (int round = 0; round < 5; ++round) {
    CAPTURE(round);
    TcpPair tcp = tcp_pair();
    const std::string body(256 * 1024, 'b');
    auto client = std::async(std::launch::async, [&]() -> std::string {
      std::size_t sent = 0;
      while (sent < body.size()) {  // blocking: the server drains what it does not read
        const ssize_t n =
            ::send(tcp.client.get(), body.data() + sent, body.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += static_cast<std::size_t>(n);
      }
      std::string reply;
      char buf[256];
      for (;;) {
        const ssize_t n = ::recv(tcp.client.get(), buf, sizeof buf, 0);
        if (n < 0) return "recv: " + std::string(std::strerror(errno));
        if (n == 0) return reply;
        reply.append(buf, static_cast<std::size_t>(n));
      }
    });
    char head[16];
    REQUIRE(::recv(tcp.server.get(), head, sizeof head, MSG_WAITALL) == sizeof head);
    REQUIRE(::send(tcp.server.get(), "response", 8, MSG_NOSIGNAL) == 8);
    io::lingering_close(tcp.server.release(), 5s);
    CHECK(client.get() == "response");
  }
}

// ------------------------------------------------------------ connect, listen, accept

TEST_CASE(
    "connect, listen and accept give TCP sockets: close-on-exec, TCP_NODELAY, the mode asked") {
  struct Row {
    io::SocketMode mode;
    bool nonblocking;
  };
  for (const Row row :
       {Row{io::SocketMode::NonBlocking, true}, Row{io::SocketMode::Blocking, false}}) {
    CAPTURE(row.nonblocking);
    auto l = io::listen("127.0.0.1", 0);
    REQUIRE_MESSAGE(l.has_value(), l.error().to_string());
    CHECK(l->address == "127.0.0.1");
    CHECK(l->port != 0);
    CHECK(nonblocking(l->socket.get()));
    CHECK(close_on_exec(l->socket.get()));
    auto client = io::connect("127.0.0.1", l->port, 5s, row.mode);
    REQUIRE_MESSAGE(client.has_value(), client.error().to_string());
    auto server = io::accept(*l, 5s, row.mode);
    REQUIRE_MESSAGE(server.has_value(), server.error().to_string());
    for (const io::Socket* s : {&*client, &*server}) {
      CHECK(nonblocking(s->get()) == row.nonblocking);
      CHECK(close_on_exec(s->get()));
      CHECK(nodelay(s->get()));
    }
    REQUIRE(::send(client->get(), "ping", 4, MSG_NOSIGNAL) == 4);
    char got[4];
    REQUIRE(io::set_nonblocking(server->get(), false).has_value());
    REQUIRE(::recv(server->get(), got, sizeof got, MSG_WAITALL) == 4);
    CHECK(std::string_view(got, 4) == "ping");
  }
}

// "dual.test" has two addresses, ::1 and 127.0.0.1, in a private /etc/hosts: the case
// runs itself again in a child with its own mount namespace (as root, or as root of a
// user namespace), where the checks run. The resolver orders the addresses (RFC 6724);
// endpoints_of() reads its order.
constexpr const char* kDualHostsCase =
    "io::connect tries every address in the resolver's order and names each that failed";
constexpr const char* kDualHostsEnv = "OSSL_TEST_PRIVATE_HOSTS";

TEST_CASE("io::connect tries every address in the resolver's order and names each that failed") {
  if (std::getenv(kDualHostsEnv) == nullptr) {
    TempDir dir;
    const std::string hosts =
        dir.write("hosts", "::1 dual.test\n127.0.0.1 dual.test\n127.0.0.1 localhost\n");
    RunResult child{1, ""};
    for (const char* flags : {"-m", "-rm"}) {
      child = run({"unshare", flags, "sh", "-c",
                   "mount --bind \"$1\" /etc/hosts && " + std::string(kDualHostsEnv) +
                       "=1 exec \"$2\" --test-case=\"$3\"",
                   "sh", hosts, self_path(), kDualHostsCase},
                  60s);
      if (child.output.find("[doctest]") != std::string::npos) break;  // the child ran
    }
    INFO("the child, with a private /etc/hosts:\n" << child.output);
    REQUIRE_MESSAGE(child.output.find("[doctest]") != std::string::npos,
                    "cannot make a private /etc/hosts: unshare -m and unshare -rm both failed");
    CHECK(child.status == 0);
    CHECK(child.output.find("1 passed | 0 failed") != std::string::npos);
    return;
  }
  const std::uint16_t port = closed_port();
  const std::vector<std::string> addresses = endpoints_of("dual.test", port);
  REQUIRE(addresses.size() == 2);

  // Both refuse: the error names each address, in the resolver's order, with its errno.
  auto refused = io::connect("dual.test", port, 5s);
  REQUIRE_FALSE(refused.has_value());
  const std::string text = refused.error().to_string();
  CAPTURE(text);
  const std::string errno_text =
      std::string(std::strerror(ECONNREFUSED)) + " (errno " + std::to_string(ECONNREFUSED) + ")";
  CHECK(text.find("io::connect(dual.test port " + std::to_string(port) + "): " + addresses[0] +
                  ": " + errno_text + "; " + addresses[1] + ": " + errno_text) !=
        std::string::npos);

  // Only the second listens: the first refuses, the second connects.
  const auto host_of = [](const std::string& endpoint) {
    return endpoint.front() == '[' ? endpoint.substr(1, endpoint.find(']') - 1)
                                   : endpoint.substr(0, endpoint.rfind(':'));
  };
  auto second = io::listen(host_of(addresses[1]), 0);
  REQUIRE_MESSAGE(second.has_value(), second.error().to_string());
  auto through_second = io::connect("dual.test", second->port, 5s);
  CHECK_MESSAGE(through_second.has_value(), error_of(through_second));
  CHECK(io::accept(*second, 2s).has_value());

  // Both listen on one port: the first address is the one connected to.
  auto first = io::listen(host_of(addresses[0]), second->port);
  REQUIRE_MESSAGE(first.has_value(), first.error().to_string());
  auto preferred = io::connect("dual.test", second->port, 5s);
  REQUIRE_MESSAGE(preferred.has_value(), error_of(preferred));
  CHECK(io::accept(*first, 2s).has_value());
  CHECK_FALSE(io::accept(*second, 0ms).has_value());
}

TEST_CASE("io::connect gives up on an address that does not answer, saying it timed out") {
  // A listener whose accept queue is full drops new SYNs (Linux), so connecting hangs
  // until our timeout: the first connections fill the queue, a later one times out.
  auto l = io::listen("127.0.0.1", 0, 0);
  REQUIRE_MESSAGE(l.has_value(), l.error().to_string());
  std::vector<io::Socket> queued;
  std::string timed_out;
  for (int i = 0; i < 8 && timed_out.empty(); ++i) {
    auto c = io::connect("127.0.0.1", l->port, 300ms);
    if (c) {
      queued.push_back(std::move(*c));
    } else {
      timed_out = c.error().to_string();
    }
  }
  CAPTURE(timed_out);
  CHECK(timed_out.find("io::connect(127.0.0.1 port " + std::to_string(l->port) + "): 127.0.0.1:" +
                       std::to_string(l->port) + ": timed out after ") != std::string::npos);
}

TEST_CASE("connect, listen and accept name the bad argument or failing call") {
  auto taken = io::listen("127.0.0.1", 0);  // held while the cases run
  REQUIRE(taken.has_value());
  const std::string taken_at = std::to_string(taken->port);

  struct Row {
    const char* name;
    std::function<std::string()> error;
    std::vector<std::string> says;
  };
  const auto connect_error = [](std::string_view host, std::uint16_t port) {
    return [host, port] { return error_of(io::connect(host, port, 2s)); };
  };
  const auto listen_error = [](std::string_view address, std::uint16_t port, int backlog = 16) {
    return [address, port, backlog] {
      auto l = io::listen(address, port, backlog);
      return l ? std::string("(no error: listening)") : l.error().to_string();
    };
  };
  const Row rows[] = {
      {"an empty host", connect_error("", 443), {"io::connect( port 443): no host given"}},
      {"a NUL in the host", connect_error("local\0host"sv, 443), {"the host contains a NUL byte"}},
      {"port 0",
       connect_error("127.0.0.1", 0),
       {"io::connect(127.0.0.1 port 0): port 0 is no port to connect to"}},
      {"a name that does not resolve",
       connect_error("no-such-host.invalid", 443),
       {"io::connect(no-such-host.invalid port 443): cannot resolve the host: "}},
      {"a port in use",
       listen_error("127.0.0.1", taken->port),
       {"io::listen(127.0.0.1 port " + taken_at + "): bind 127.0.0.1:" + taken_at + ": " +
        std::strerror(EADDRINUSE) + " (errno " + std::to_string(EADDRINUSE) + ")"}},
      {"an address that is no address",
       listen_error("not an address", 0),
       {"io::listen(not an address port 0): cannot resolve the address: "}},
      {"a negative backlog",
       listen_error("127.0.0.1", 0, -1),
       {"a backlog of -1 (must be 0 or more)"}},
      {"a NUL in the address",
       listen_error("127.0.0.1\0"sv, 0),
       {"the address contains a NUL byte"}},
  };
  for (const Row& row : rows) {
    CAPTURE(row.name);
    const std::string text = row.error();
    CAPTURE(text);
    for (const std::string& part : row.says)
      CHECK(text.find(part) != std::string::npos);
  }
}

TEST_CASE("io::accept waits at most its timeout and names the listener") {
  auto l = io::listen("127.0.0.1", 0);
  REQUIRE(l.has_value());
  auto none = io::accept(*l, 50ms);
  REQUIRE_FALSE(none.has_value());
  CHECK(none.error().to_string().find("io::accept(127.0.0.1 port " + std::to_string(l->port) +
                                      "): no connection within 50 ms") != std::string::npos);
  io::Listener empty;
  auto nothing = io::accept(empty, 50ms);
  REQUIRE_FALSE(nothing.has_value());
  CHECK(nothing.error().to_string().find("the listener holds no socket") != std::string::npos);

  // Zero waits for nothing but takes a connection already queued.
  auto client = io::connect("127.0.0.1", l->port, 5s);
  REQUIRE(client.has_value());
  auto queued = io::accept(*l, 2s);
  CHECK_MESSAGE(queued.has_value(), error_of(queued));
}

TEST_CASE("io::Socket closes its descriptor once: on destruction, reset and assignment") {
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
  {
    io::Socket a(fds[0]);
    io::Socket b(std::move(a));
    CHECK_FALSE(a);  // NOLINT(bugprone-use-after-move): the moved-from state is specified
    CHECK(b.get() == fds[0]);
    b = io::Socket(fds[1]);  // closes fds[0]
    CHECK_FALSE(open_fd(fds[0]));
    CHECK(open_fd(fds[1]));
    const int kept = b.release();
    CHECK(kept == fds[1]);
    CHECK_FALSE(b);
    b.reset(kept);
  }
  CHECK_FALSE(open_fd(fds[1]));  // closed by b's destructor
}
