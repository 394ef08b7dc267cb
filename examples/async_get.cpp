// async_get: https_get as a C++20 coroutine over ossl::AsioStream (<ossl/asio.hpp>).
//
//   async_get URL [--cafile FILE] [--alpn h2,http/1.1] [--tls1.2|--tls1.3] [--resume]
//             [--pin SHA256-BASE64]... [--crl FILE]... [--ocsp off|if-stapled|required]
//             [--session-file FILE]
//
// The options, output and exit status are https_get's: it verifies the server (chain
// and hostname), sends SNI, offers ALPN, sends an HTTP/1.1 GET, prints the body to stdout
// and a summary to stderr; --resume connects again with the session the first connection
// received (AsioStream::take_session(): only a resumable one, in TLS 1.3 once a ticket
// arrived) and reports whether it was resumed. Each connection has 15 s in all.
// Exit status: 0 success, 1 usage, 2 TLS or verification failure, 3 connection
// failure, 4 HTTP failure.
#include "client_common.hpp"

#include <ossl/asio.hpp>

#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <exception>
#include <optional>
#include <string>

const char* const client_common::g_program = "async_get";

namespace {

using namespace std::chrono_literals;
using namespace client_common;
using tcp = asio::ip::tcp;
template <class T>
using awaitable = asio::awaitable<T>;
constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

// One connection: resolve, connect, handshake, GET, read to the end. Sets `session` to
// the session to resume with, when the server gave a resumable one.
awaitable<void> fetch(const Options& o, const ossl::SslCtx& ctx,
                      std::optional<ossl::SslSession> resume, bool print_body,
                      std::optional<ossl::SslSession>& session) {
  auto ex = co_await asio::this_coro::executor;
  ossl::AsioStream<tcp::socket> tls(ex);
  // The deadline cancels whatever is pending; the operation then fails with
  // operation_aborted, reported below as a timeout.
  bool timed_out = false;
  asio::steady_timer deadline(ex, 15s);
  deadline.async_wait([&](std::error_code ec) {
    std::error_code ignored;
    if (ec) return;  // cancelled: the connection ended in time
    timed_out = true;
    tls.next_layer().cancel(ignored);
  });
  auto why = [&](std::error_code ec) {
    return timed_out ? std::string("timed out after 15 s") : ec.message();
  };

  tcp::resolver resolver(ex);
  auto [rec, endpoints] =
      co_await resolver.async_resolve(o.host, std::to_string(o.port), use_tuple);
  if (rec) fail(3, "cannot resolve " + o.host + ": " + rec.message());
  auto [cec, endpoint] = co_await asio::async_connect(tls.next_layer(), endpoints, use_tuple);
  if (cec) fail(3, "cannot connect to " + o.host + ": " + why(cec));

  // SNI (DNS names only) + hostname check; with --session-file, the cached session for
  // this host and port.
  auto made = ctx.new_ssl_for_host(o.host, o.port);
  if (!made) fail(2, made.error().to_string());
  if (resume) {
    if (auto r = made->set_session(*resume); !r) fail(2, r.error().to_string());
  }
  if (auto r = tls.set_client(std::move(*made)); !r) fail(2, r.error().to_string());
  auto [hec] = co_await tls.async_handshake(use_tuple);
  if (hec) {
    const bool tls_failure = hec.category() == ossl::asio_tls_category();
    const std::string detail =
        tls_failure ? describe_failure(tls.ssl(), tls.last_error()) : why(hec);
    fail(tls_failure ? 2 : 3, "TLS handshake with " + o.host + " failed: " + detail);
  }
  require_http11(tls.ssl());

  auto [wec, written] = co_await asio::async_write(tls, asio::buffer(request(o)), use_tuple);
  if (wec) fail(3, "cannot send the request: " + why(wec));

  std::string raw;
  std::array<char, 16384> buf{};
  std::error_code end;
  for (;;) {
    auto [ec, n] = co_await tls.async_read_some(asio::buffer(buf), use_tuple);
    raw.append(buf.data(), n);
    if (ec) {
      end = ec;
      break;
    }
  }
  bool complete = false;
  auto response = parse_http(raw, complete);
  // eof: the server's close_notify. Many servers close without it after a complete
  // response; accept that only when the HTTP framing says the body is whole.
  const bool truncated = end == asio::ssl::error::stream_truncated;
  if (end != asio::error::eof && !(truncated && response && complete)) {
    if (truncated) fail(4, "the response was truncated (no close_notify)");
    // A TLS failure after the handshake (in TLS 1.3 a server refuses a client
    // certificate only then, with an alert) is a TLS failure, not a connection one.
    if (end.category() == ossl::asio_tls_category()) {
      fail(2, "TLS failure with " + o.host + ": " + describe_failure(tls.ssl(), tls.last_error()));
    }
    fail(3, "reading the response: " + why(end));
  }
  if (!response) fail(4, "not an HTTP response");
  if (print_body) std::fwrite(response->body.data(), 1, response->body.size(), stdout);
  print_summary(o, *response, tls.ssl());
  session = tls.take_session();
  co_await tls.async_shutdown(use_tuple);  // our close_notify (the server's arrived)
  deadline.cancel();
}

awaitable<void> run(const Options& o, const ossl::SslCtx& ctx) {
  std::optional<ossl::SslSession> session, again;
  co_await fetch(o, ctx, std::nullopt, true, session);
  if (o.resume) {
    if (!session) fail(2, "no resumable session to offer");
    co_await fetch(o, ctx, session, false, again);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  const ossl::SslCtx ctx = make_context(o);
  load_sessions(o, ctx);
  asio::io_context io(1);
  asio::co_spawn(io, run(o, ctx), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      fail(3, x.what());
    }
  });
  io.run();
  save_sessions(o, ctx);
  return 0;
}
