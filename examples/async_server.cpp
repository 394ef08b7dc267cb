// async_server: tls_server's HTTPS server on one thread, with C++20 coroutines over
// ossl::AsioStream (<ossl/asio.hpp>): thousands of connections, HTTP/1.1 keep-alive.
//
//   async_server [--cert FILE --key FILE] [--chain FILE] [--port N] [--host ADDR]
//                [--alpn LIST] [--client-ca FILE] [--tls1.2|--tls1.3]
//                [--sni NAME=CERT,KEY]... [--ocsp FILE]... [--ticket-keys FILE]...
//                [--session-store redis://HOST:PORT] [--timeout SECONDS]
//                [--max-connections N]
//
// The options are tls_server's, and so is the answer: 200 with a one-line body stating the
// negotiated version, cipher, ALPN, client certificate and SNI name. Unlike tls_server it
// keeps connections alive: HTTP/1.1 requests (and HTTP/1.0 ones asking for keep-alive)
// are answered on the same connection until the client closes or sends
// "Connection: close"; a request body (Content-Length) is read and discarded; a chunked
// one ends the connection after the answer. --timeout (default 10 s) bounds the
// handshake with the first request head, and each later request head, each as a whole.
// --max-connections (default 10000): beyond it, new clients wait in the listen backlog.
// Each connection ends as s_server ends its: close_notify, then a lingering close. Without
// --cert it generates a CA and a localhost certificate and prints "CA certificate: PATH".
// Prints "listening on HOST:PORT" once ready (port 0 picks one); stops on SIGINT/SIGTERM.
// SIGHUP reloads the files as tls_server does (on the loop's thread, between events):
// new connections get the new context, open ones keep theirs.
#include "server_common.hpp"

#include <ossl/asio.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>

const char* const server_common::g_program = "async_server";

namespace {

using namespace std::chrono_literals;
using namespace server_common;
using tcp = asio::ip::tcp;
using Stream = ossl::AsioStream<tcp::socket>;
template <class T>
using awaitable = asio::awaitable<T>;
constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxHead = 16384;

struct Server {
  ossl::ReloadableCtx& ctx;
  std::chrono::seconds timeout;
  long max_connections;
  long active = 0;
  asio::steady_timer slot_freed;  // cancelled when a connection ends: wakes the acceptor
};

// What the server needs from a request head.
struct Head {
  bool keep_alive = false;
  std::size_t content_length = 0;
  bool chunked = false;
};

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// Reads the request line's version and the Connection, Content-Length and
// Transfer-Encoding fields; a head it cannot trust (no version, a bad length) is not
// kept alive.
Head parse_head(std::string_view head) {
  Head h;
  const auto line_end = head.find('\n');
  const std::string_view request_line = trim(head.substr(0, line_end));
  const bool http11 = request_line.ends_with("HTTP/1.1");
  bool keep = http11;
  if (!http11 && !request_line.ends_with("HTTP/1.0")) return h;
  std::string_view rest = line_end == std::string_view::npos ? "" : head.substr(line_end + 1);
  while (!rest.empty()) {
    const auto end = rest.find('\n');
    const std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? "" : rest.substr(end + 1);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view name = trim(line.substr(0, colon));
    const std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "connection")) {
      if (iequals(value, "close")) keep = false;
      if (iequals(value, "keep-alive")) keep = true;
    } else if (iequals(name, "content-length")) {
      std::size_t n = 0;
      if (value.empty() || value.size() > 12) return {};
      for (char c : value) {
        if (c < '0' || c > '9') return {};
        n = n * 10 + static_cast<std::size_t>(c - '0');
      }
      h.content_length = n;
    } else if (iequals(name, "transfer-encoding")) {
      h.chunked = true;
    }
  }
  h.keep_alive = keep && !h.chunked;  // chunked bodies are not parsed: answer, then close
  return h;
}

awaitable<void> connection(Server& srv, tcp::socket socket) {
  ++srv.active;
  Stream tls(std::move(socket));
  // One deadline per request: when it fires it cancels whatever the connection waits
  // for, and the connection ends. The handler only touches the socket when it fired
  // (not when re-armed or destroyed: operation_aborted).
  asio::steady_timer deadline(tls.get_executor());
  auto arm = [&](std::chrono::steady_clock::duration d) {
    deadline.expires_after(d);
    deadline.async_wait([&tls](std::error_code ec) {
      std::error_code ignored;
      if (!ec) tls.next_layer().cancel(ignored);
    });
  };
  auto made = srv.ctx.new_ssl();
  if (made && tls.set_server(std::move(*made))) {
    arm(srv.timeout);
    auto [ec] = co_await tls.async_handshake(use_tuple);
    if (ec) {
      std::fprintf(stderr, "async_server: handshake failed: %s\n", ec.message().c_str());
    } else {
      std::string in;
      std::array<char, 4096> buf{};
      for (bool keep = true; keep;) {
        std::size_t end = std::string::npos;
        std::error_code rec;
        while ((end = head_end(in)) == std::string::npos && in.size() < kMaxHead) {
          std::size_t n = 0;
          std::tie(rec, n) = co_await tls.async_read_some(asio::buffer(buf), use_tuple);
          if (rec) break;  // the client closed (eof, answered already), truncation, timeout
          in.append(buf.data(), n);
        }
        if (end == std::string::npos) break;
        const Head head = parse_head(std::string_view(in).substr(0, end));
        in.erase(0, end);
        for (std::size_t left = head.content_length; left != 0;) {  // discard the body
          if (in.empty()) {
            std::size_t n = 0;
            std::tie(rec, n) = co_await tls.async_read_some(asio::buffer(buf), use_tuple);
            if (rec) break;
            in.append(buf.data(), n);
          }
          const std::size_t take = std::min(left, in.size());
          in.erase(0, take);
          left -= take;
        }
        if (rec) break;
        keep = head.keep_alive;
        const std::string body = describe(tls.ssl());
        const std::string fields =
            "Content-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
            "\r\nConnection: " + (keep ? "keep-alive" : "close") + "\r\n\r\n";
        // Three pieces, one record: the stream gathers them.
        const std::array<asio::const_buffer, 3> response = {
            asio::buffer(std::string_view("HTTP/1.1 200 OK\r\n")), asio::buffer(fields),
            asio::buffer(body)};
        auto [wec, w] = co_await asio::async_write(tls, response, use_tuple);
        if (wec) break;
        std::fprintf(stderr, "async_server: %s", body.c_str());
        arm(srv.timeout);  // the next request head gets a deadline of its own
      }
      // close_notify, bounded: a client that stopped reading cannot hold the connection.
      arm(std::min<std::chrono::steady_clock::duration>(srv.timeout, 1s));
      co_await tls.async_shutdown(use_tuple);
    }
  }
  deadline.cancel();
  co_await ossl::async_lingering_close(tls.next_layer(), 2s, std::size_t{1} << 20, use_tuple);
  --srv.active;
  srv.slot_freed.cancel();
}

awaitable<void> accept_loop(Server& srv, tcp::acceptor& acceptor) {
  for (;;) {
    while (srv.active >= srv.max_connections) {  // at the cap: leave clients in the backlog
      srv.slot_freed.expires_at(asio::steady_timer::time_point::max());
      co_await srv.slot_freed.async_wait(use_tuple);
    }
    auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {  // e.g. out of file descriptors: wait a little, do not spin
      asio::steady_timer pause(acceptor.get_executor(), 50ms);
      co_await pause.async_wait(use_tuple);
      continue;
    }
    asio::co_spawn(acceptor.get_executor(), connection(srv, std::move(socket)), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  if (o.max_connections == 0) o.max_connections = 10000;
  if (o.early_data > 0) usage("--early-data: tls_server takes early data; async_server does not");
  Served served;
  ossl::ReloadableCtx ctx(startup_context(o, served));
  std::signal(SIGPIPE, SIG_IGN);

  asio::io_context io(1);
  Server srv{ctx, std::chrono::seconds(o.timeout_s), o.max_connections, 0, asio::steady_timer(io)};
  std::error_code ec;
  const auto address = asio::ip::make_address(o.host, ec);
  if (ec) usage("bad --host " + o.host + ": " + ec.message());
  tcp::acceptor acceptor(io);
  const tcp::endpoint endpoint(address, static_cast<std::uint16_t>(o.port));
  if (acceptor.open(endpoint.protocol(), ec); ec) fail("socket: " + ec.message());
  acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (acceptor.bind(endpoint, ec); ec) fail("bind " + o.host + ": " + ec.message());
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) {
    fail("listen: " + ec.message());
  }
  std::printf("listening on %s:%u\n", o.host.c_str(), acceptor.local_endpoint().port());
  std::fflush(stdout);

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code, int) {
    std::error_code ignored;
    acceptor.close(ignored);
    io.stop();
  });
  asio::signal_set hangups(io, SIGHUP);
  std::function<void(std::error_code, int)> on_hangup = [&](std::error_code error, int) {
    if (error) return;  // the set was cancelled: shutting down
    reload(o, served, ctx);
    hangups.async_wait(on_hangup);
  };
  hangups.async_wait(on_hangup);
  asio::co_spawn(io, accept_loop(srv, acceptor), asio::detached);
  io.run();
  std::fprintf(stderr, "async_server: shut down cleanly\n");
  return 0;
}
