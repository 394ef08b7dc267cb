#include <ossl/io.hpp>  // first: proves the header is self-contained

#include "../examples/net.hpp"
#include "support/handshake.hpp"

#include <doctest/doctest.h>
#include <openssl/err.h>

#include <cerrno>
#include <cstring>
#include <future>
#include <string>
#include <thread>

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

// A loopback listener and a client socket connected to it, plus the accepted socket.
struct TcpPair {
  net::Fd client;
  net::Fd server;
};
TcpPair tcp_pair() {
  std::string error;
  net::Listener l = net::listen_on("127.0.0.1", 0, error);
  REQUIRE_MESSAGE(l.fd, error);
  net::Fd client = net::connect_to("127.0.0.1", l.port, 5s, error);
  REQUIRE_MESSAGE(client, error);
  net::Fd server(::accept4(l.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
  REQUIRE(server);
  return {std::move(client), std::move(server)};
}

}  // namespace

TEST_CASE("a TLS conversation over non-blocking loopback TCP: handshake, write_all, read_to_end") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    TcpPair tcp = tcp_pair();
    REQUIRE(io::set_nonblocking(tcp.client.get()).has_value());
    REQUIRE(io::set_nonblocking(tcp.server.get()).has_value());
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
    tcp.server = net::Fd();  // vanish: the TCP connection ends without close_notify
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
