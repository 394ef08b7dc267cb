// ossl::AsioStream (ossl/asio.hpp) over loopback TCP in one io_context: every case
// runs its coroutines with a cap on the loop (run_all), so a hang fails instead of
// blocking the suite.
#include <ossl/asio.hpp>

#include "support/handshake.hpp"

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/experimental/deferred.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/redirect_error.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/host_name_verification.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>
#include <asio/write.hpp>
#include <doctest/doctest.h>
#include <openssl/ssl.h>
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <string>
#include <thread>
#include <vector>

using namespace ossl_test;
using namespace std::literals;
using tcp = asio::ip::tcp;
using Stream = ossl::AsioStream<tcp::socket>;
template <class T>
using awaitable = asio::awaitable<T>;

namespace {

// Asio 1.22 keeps as_tuple and deferred in experimental.
constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr auto deferred = asio::experimental::deferred;
using namespace asio::experimental::awaitable_operators;

// Heavy cases (a GiB each way, thousands of connections) run in scripts/test and the
// compiler stages; the valgrind stage sets OSSL_LIGHT_TESTS and they are skipped there
// (reported as skipped, never as passed).
bool light() {
  return std::getenv("OSSL_LIGHT_TESTS") != nullptr;
}

// Two connected TCP sockets on 127.0.0.1.
std::pair<tcp::socket, tcp::socket> socket_pair(asio::io_context& io) {
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  tcp::socket client(io);
  client.connect(acceptor.local_endpoint());
  tcp::socket server = acceptor.accept();
  return {std::move(client), std::move(server)};
}

Contexts contexts(TlsVersion v) {
  auto client = client_builder(v).build();
  REQUIRE_MESSAGE(client.has_value(), (client ? "" : client.error().to_string()));
  auto server = server_builder(v).build();
  REQUIRE_MESSAGE(server.has_value(), (server ? "" : server.error().to_string()));
  return Contexts{std::move(*client), std::move(*server)};
}

struct StreamPair {
  Stream client;
  Stream server;
};

// make pair: a client and a server stream over connected sockets, before the handshake.
StreamPair make_stream_pair(asio::io_context& io, const Contexts& ctx,
                            const ossl::EngineOptions& options = {}) {
  auto [c, s] = socket_pair(io);
  StreamPair pair{Stream(std::move(c), options), Stream(std::move(s), options)};
  auto ssl = ctx.client.new_ssl_for_host("localhost");
  REQUIRE_MESSAGE(ssl.has_value(), (ssl ? "" : ssl.error().to_string()));
  REQUIRE(pair.client.set_client(std::move(*ssl)).has_value());
  REQUIRE(pair.server.set_server(ctx.server.new_ssl().value()).has_value());
  return pair;
}

// Runs the coroutines on `io` until all end, for at most `cap` of loop time; REQUIREs
// that each ended, without an exception.
void run_all(asio::io_context& io, std::vector<awaitable<void>> tasks,
             std::chrono::seconds cap = 60s) {
  std::vector<int> done(tasks.size(), 0);
  std::vector<std::string> errors;
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    asio::co_spawn(io, std::move(tasks[i]), [&, i](std::exception_ptr e) {
      done[i] = 1;
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        errors.push_back(x.what());
      }
    });
  }
  io.restart();
  io.run_for(cap);
  for (const auto& e : errors)
    FAIL_CHECK("coroutine threw: " << e);
  for (std::size_t i = 0; i < done.size(); ++i) {
    CAPTURE(i);
    REQUIRE_MESSAGE(done[i] == 1, "coroutine did not finish within the cap");
  }
}

awaitable<void> handshake(Stream& s, std::error_code& ec) {
  std::tie(ec) = co_await s.async_handshake(use_tuple);
}

// connect: make_stream_pair -> both handshakes (capped), REQUIRing success.
StreamPair connect_streams(asio::io_context& io, const Contexts& ctx,
                           const ossl::EngineOptions& options = {}) {
  StreamPair pair = make_stream_pair(io, ctx, options);
  std::error_code cec, sec;
  std::vector<awaitable<void>> tasks;
  tasks.push_back(handshake(pair.client, cec));
  tasks.push_back(handshake(pair.server, sec));
  run_all(io, std::move(tasks));
  REQUIRE_MESSAGE(!cec, "client: " << cec.message() << " " << pair.client.last_error().to_string());
  REQUIRE_MESSAGE(!sec, "server: " << sec.message() << " " << pair.server.last_error().to_string());
  return pair;
}

// Shrinks the kernel's socket buffers, so that a few MiB a peer does not read leave a
// write pending.
void small_socket_buffers(StreamPair& pair) {
  pair.client.next_layer().set_option(asio::socket_base::send_buffer_size(64 * 1024));
  pair.server.next_layer().set_option(asio::socket_base::receive_buffer_size(64 * 1024));
}

// Byte i of a deterministic stream (no period a reordered record could hide in).
inline unsigned char pattern_byte(std::uint64_t i, unsigned salt) {
  return static_cast<unsigned char>(i * 131 + (i >> 9) * 7 + (i >> 17) + salt);
}
void fill_pattern(std::span<unsigned char> out, std::uint64_t offset, unsigned salt) {
  for (std::size_t k = 0; k < out.size(); ++k)
    out[k] = pattern_byte(offset + k, salt);
}
bool check_pattern(std::span<const unsigned char> in, std::uint64_t offset, unsigned salt) {
  for (std::size_t k = 0; k < in.size(); ++k)
    if (in[k] != pattern_byte(offset + k, salt)) return false;
  return true;
}

// Writes `total` pattern bytes in pieces of up to `piece`; reports what it wrote.
awaitable<void> send_pattern(Stream& s, std::uint64_t total, unsigned salt, std::size_t piece,
                             std::error_code& ec, std::uint64_t& sent) {
  std::vector<unsigned char> buf(piece);
  while (sent < total) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(piece, total - sent));
    fill_pattern(std::span(buf.data(), n), sent, salt);
    std::size_t w = 0;
    std::tie(ec, w) = co_await asio::async_write(s, asio::buffer(buf.data(), n), use_tuple);
    sent += w;
    if (ec) co_return;
  }
}

// Reads until `total` bytes arrived (checking each against the pattern) or an error.
awaitable<void> receive_pattern(Stream& s, std::uint64_t total, unsigned salt, std::error_code& ec,
                                std::uint64_t& received, bool& intact) {
  std::vector<unsigned char> buf(64 * 1024);
  intact = true;
  while (received < total) {
    std::size_t n = 0;
    std::tie(ec, n) = co_await s.async_read_some(asio::buffer(buf), use_tuple);
    if (n != 0 && !check_pattern(std::span(buf.data(), n), received, salt)) intact = false;
    received += n;
    if (ec) co_return;
  }
}

// Reads until an error; returns what arrived.
awaitable<void> read_until_error(Stream& s, std::string& got, std::error_code& ec) {
  std::array<char, 4096> buf{};
  for (;;) {
    std::size_t n = 0;
    std::tie(ec, n) = co_await s.async_read_some(asio::buffer(buf), use_tuple);
    got.append(buf.data(), n);
    if (ec) co_return;
  }
}

awaitable<void> write_text(Stream& s, std::string text, std::error_code& ec) {
  std::size_t n = 0;
  std::tie(ec, n) = co_await asio::async_write(s, asio::buffer(text), use_tuple);
}

}  // namespace

TEST_CASE("streams handshake and exchange data over loopback TCP, with each completion token") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    asio::io_context io;
    const Contexts ctx = contexts(v);
    StreamPair pair = make_stream_pair(io, ctx);

    // Callbacks.
    std::error_code cec = asio::error::would_block, sec = asio::error::would_block;
    pair.client.async_handshake([&](std::error_code ec) { cec = ec; });
    pair.server.async_handshake([&](std::error_code ec) { sec = ec; });
    io.run_for(30s);
    REQUIRE_MESSAGE(!cec, cec.message());
    REQUIRE_MESSAGE(!sec, sec.message());
    CHECK(pair.client.ssl().version() == v);
    CHECK(pair.server.engine().handshake_done());

    // use_awaitable (exceptions) one way, as_tuple the other.
    std::string request = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    std::string got;
    auto client = [&]() -> awaitable<void> {
      co_await asio::async_write(pair.client, asio::buffer(request), asio::use_awaitable);
      std::array<char, 64> buf{};
      auto [ec, n] = co_await pair.client.async_read_some(asio::buffer(buf), use_tuple);
      REQUIRE_MESSAGE(!ec, ec.message());
      got.assign(buf.data(), n);
    };
    auto server = [&]() -> awaitable<void> {
      std::string in(request.size(), '\0');
      co_await asio::async_read(pair.server, asio::buffer(in), asio::use_awaitable);
      CHECK(in == request);
      co_await asio::async_write(pair.server, asio::buffer("pong"sv), asio::use_awaitable);
    };
    std::vector<awaitable<void>> tasks;
    tasks.push_back(client());
    tasks.push_back(server());
    run_all(io, std::move(tasks));
    CHECK(got == "pong");

    // use_future, with the loop on another thread; deferred, launched later.
    auto work = asio::make_work_guard(io);
    io.restart();
    std::thread runner([&] { io.run(); });
    auto written = asio::async_write(pair.server, asio::buffer("future"sv), asio::use_future);
    std::array<char, 6> six{};
    auto read = asio::async_read(pair.client, asio::buffer(six), asio::use_future);
    CHECK(written.get() == 6);
    CHECK(read.get() == 6);
    CHECK(std::string_view(six.data(), six.size()) == "future");
    work.reset();
    runner.join();

    auto op = pair.client.async_shutdown(deferred);
    std::error_code shut = asio::error::would_block;
    std::move(op)([&](std::error_code ec) { shut = ec; });
    io.restart();
    io.run_for(30s);
    CHECK_MESSAGE(!shut, shut.message());
  }
}

TEST_CASE("an ossl stream and asio::ssl::stream talk to each other in both roles") {
  for (TlsVersion v : kVersions) {
    for (bool ossl_is_client : {true, false}) {
      CAPTURE(to_string(v));
      CAPTURE(ossl_is_client);
      asio::io_context io;
      const Contexts ctx = contexts(v);
      auto [c, s] = socket_pair(io);
      // Asio's context over the same SSL_CTX (it takes a reference of its own).
      SSL_CTX* native = ossl_is_client ? ctx.server.native_handle() : ctx.client.native_handle();
      REQUIRE(SSL_CTX_up_ref(native) == 1);
      asio::ssl::context asio_ctx(native);
      asio::ssl::stream<tcp::socket> theirs(ossl_is_client ? std::move(s) : std::move(c), asio_ctx);
      Stream ours(ossl_is_client ? std::move(c) : std::move(s));
      if (ossl_is_client) {
        REQUIRE(ours.set_client(ctx.client.new_ssl_for_host("localhost").value()).has_value());
      } else {
        REQUIRE(ours.set_server(ctx.server.new_ssl().value()).has_value());
        REQUIRE(SSL_set_tlsext_host_name(theirs.native_handle(), "localhost") == 1);
        theirs.set_verify_mode(asio::ssl::verify_peer);
        theirs.set_verify_callback(asio::ssl::host_name_verification("localhost"));
      }
      const std::uint64_t total = light() ? std::uint64_t{256} << 10 : std::uint64_t{4} << 20;
      std::error_code ours_ec, theirs_ec;
      std::uint64_t ours_sent = 0, ours_received = 0;
      bool ours_intact = false;
      std::string theirs_end;
      auto ours_side = [&]() -> awaitable<void> {
        std::tie(ours_ec) = co_await ours.async_handshake(use_tuple);
        if (ours_ec) co_return;
        co_await send_pattern(ours, total, 1, 70000, ours_ec, ours_sent);
        if (ours_ec) co_return;
        co_await receive_pattern(ours, total, 2, ours_ec, ours_received, ours_intact);
        if (ours_ec) co_return;
        std::tie(ours_ec) =
            co_await ours.async_shutdown(ossl::AsioShutdown::WaitForPeer, use_tuple);
      };
      auto theirs_side = [&]() -> awaitable<void> {
        std::tie(theirs_ec) = co_await theirs.async_handshake(
            ossl_is_client ? asio::ssl::stream_base::server : asio::ssl::stream_base::client,
            use_tuple);
        if (theirs_ec) co_return;
        std::vector<unsigned char> buf(total);
        std::size_t n = 0;
        std::tie(theirs_ec, n) = co_await asio::async_read(theirs, asio::buffer(buf), use_tuple);
        if (theirs_ec) co_return;
        CHECK(check_pattern(buf, 0, 1));
        fill_pattern(buf, 0, 2);
        std::tie(theirs_ec, n) = co_await asio::async_write(theirs, asio::buffer(buf), use_tuple);
        if (theirs_ec) co_return;
        std::array<char, 16> one{};
        std::tie(theirs_ec, n) = co_await theirs.async_read_some(asio::buffer(one), use_tuple);
        // Our close_notify ends their read with eof; they answer it.
        if (theirs_ec == asio::error::eof)
          std::tie(theirs_ec) = co_await theirs.async_shutdown(use_tuple);
        else
          FAIL_CHECK("expected eof, got " << theirs_ec.message());
      };
      std::vector<awaitable<void>> tasks;
      tasks.push_back(ours_side());
      tasks.push_back(theirs_side());
      run_all(io, std::move(tasks));
      CHECK_MESSAGE(!ours_ec, ours_ec.message() << " " << ours.last_error().to_string());
      CHECK_MESSAGE(!theirs_ec, theirs_ec.message());
      CHECK(ours_sent == total);
      CHECK(ours_received == total);
      CHECK(ours_intact);
      CHECK(ours.engine().peer_closed());
      CHECK(ours.ssl().version() == v);
    }
  }
}

TEST_CASE("full duplex: a GiB each way at once, every byte checked" * doctest::skip(light())) {
  asio::io_context io;
  const Contexts ctx = contexts(TlsVersion::Tls13);
  StreamPair pair = connect_streams(io, ctx);
  const std::uint64_t total = std::uint64_t{1} << 30;
  struct Side {
    std::error_code send_ec, recv_ec;
    std::uint64_t sent = 0, received = 0;
    bool intact = false;
  } c, s;
  std::vector<awaitable<void>> tasks;
  tasks.push_back(send_pattern(pair.client, total, 3, 256 * 1024, c.send_ec, c.sent));
  tasks.push_back(receive_pattern(pair.client, total, 4, c.recv_ec, c.received, c.intact));
  tasks.push_back(send_pattern(pair.server, total, 4, 256 * 1024, s.send_ec, s.sent));
  tasks.push_back(receive_pattern(pair.server, total, 3, s.recv_ec, s.received, s.intact));
  run_all(io, std::move(tasks), 600s);
  for (Side* side : {&c, &s}) {
    CHECK_MESSAGE(!side->send_ec, side->send_ec.message());
    CHECK_MESSAGE(!side->recv_ec, side->recv_ec.message());
    CHECK(side->sent == total);
    CHECK(side->received == total);
    CHECK(side->intact);
  }
}

TEST_CASE("a cancelled write reports what it encrypted, and the stream carries on intact") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    asio::io_context io;
    const Contexts ctx = contexts(v);
    StreamPair pair = connect_streams(io, ctx);
    // The server does not read, so the client's write fills the socket buffers (made
    // small) and stays pending until cancelled.
    small_socket_buffers(pair);
    std::vector<unsigned char> big(std::size_t{4} << 20);
    fill_pattern(big, 0, 5);
    asio::cancellation_signal cancel;
    std::error_code wec;
    std::size_t taken = 0;
    bool write_done = false;
    asio::async_write(
        pair.client, asio::buffer(big),
        asio::bind_cancellation_slot(cancel.slot(), [&](std::error_code ec, std::size_t n) {
          wec = ec;
          taken = n;
          write_done = true;
        }));
    asio::steady_timer later(io, 300ms);
    later.async_wait([&](std::error_code) { cancel.emit(asio::cancellation_type::terminal); });
    io.restart();
    io.run_for(30s);
    REQUIRE(write_done);
    CHECK(wec == asio::error::operation_aborted);
    CHECK(taken > 0);
    CHECK(taken < big.size());
    // What was taken arrives, then the rest of the stream, with nothing lost or doubled.
    std::error_code rest_ec, recv_ec;
    std::uint64_t received = 0;
    bool intact = false;
    auto rest = [&]() -> awaitable<void> {
      std::size_t n = 0;
      std::tie(rest_ec, n) = co_await asio::async_write(
          pair.client, asio::buffer(big.data() + taken, big.size() - taken), use_tuple);
    };
    std::vector<awaitable<void>> tasks;
    tasks.push_back(rest());
    tasks.push_back(receive_pattern(pair.server, big.size(), 5, recv_ec, received, intact));
    run_all(io, std::move(tasks));
    CHECK_MESSAGE(!rest_ec, rest_ec.message());
    CHECK_MESSAGE(!recv_ec, recv_ec.message());
    CHECK(received == big.size());
    CHECK(intact);
  }
}

TEST_CASE("a cancelled read is operation_aborted, not truncation, and loses nothing") {
  asio::io_context io;
  const Contexts ctx = contexts(TlsVersion::Tls13);
  StreamPair pair = connect_streams(io, ctx);
  std::array<char, 64> buf{};
  asio::cancellation_signal cancel;
  std::error_code rec;
  bool read_done = false;
  pair.server.async_read_some(
      asio::buffer(buf),
      asio::bind_cancellation_slot(cancel.slot(), [&](std::error_code ec, std::size_t) {
        rec = ec;
        read_done = true;
      }));
  io.restart();
  io.poll();
  cancel.emit(asio::cancellation_type::terminal);
  io.run_for(10s);
  REQUIRE(read_done);
  CHECK(rec == asio::error::operation_aborted);
  CHECK(rec != asio::ssl::error::stream_truncated);

  // Half a record arrives and a read takes it, then that read is cancelled while it
  // waits for the rest: the half stays in the engine and the next read completes it.
  // The client's record is written to the socket by hand, in two halves.
  const std::string text = "after the cancel";
  auto sent = pair.client.engine().send(std::as_bytes(std::span(text)));
  REQUIRE(sent.has_value());
  const auto wire = pair.client.engine().pending_output();
  const std::vector<std::byte> record(wire.begin(), wire.end());
  pair.client.engine().consume_output(record.size());
  const std::size_t half = record.size() / 2;
  asio::write(pair.client.next_layer(), asio::buffer(record.data(), half));
  rec = {};
  read_done = false;
  std::size_t got_n = 0;
  asio::cancellation_signal cancel2;
  pair.server.async_read_some(
      asio::buffer(buf),
      asio::bind_cancellation_slot(cancel2.slot(), [&](std::error_code ec, std::size_t n) {
        rec = ec;
        got_n = n;
        read_done = true;
      }));
  io.restart();
  // The read takes the half off the socket (into the engine, then OpenSSL's record
  // buffer) and waits for the rest.
  for (int i = 0; i < 1000 && (!read_done && pair.server.next_layer().available() != 0); ++i) {
    io.run_for(1ms);
  }
  io.run_for(20ms);
  REQUIRE_FALSE(read_done);
  REQUIRE(pair.server.next_layer().available() == 0);
  cancel2.emit(asio::cancellation_type::terminal);
  io.run_for(10s);
  REQUIRE(read_done);
  CHECK(rec == asio::error::operation_aborted);
  CHECK(got_n == 0);
  asio::write(pair.client.next_layer(), asio::buffer(record.data() + half, record.size() - half));
  std::string got;
  std::error_code gec;
  auto reader = [&]() -> awaitable<void> {
    std::array<char, 64> b{};
    std::size_t n = 0;
    std::tie(gec, n) = co_await pair.server.async_read_some(asio::buffer(b), use_tuple);
    got.assign(b.data(), n);
  };
  std::vector<awaitable<void>> tasks;
  tasks.push_back(reader());
  run_all(io, std::move(tasks));
  CHECK_MESSAGE(!gec, gec.message());
  CHECK(got == text);
}

TEST_CASE(
    "closing the socket completes a pending read and a pending write with operation_aborted") {
  asio::io_context io;
  const Contexts ctx = contexts(TlsVersion::Tls13);
  StreamPair pair = connect_streams(io, ctx);
  small_socket_buffers(pair);
  std::vector<unsigned char> big(std::size_t{4} << 20, 0x5a);
  std::error_code rec, wec;
  int completed = 0;
  std::array<char, 64> buf{};
  pair.client.async_read_some(asio::buffer(buf), [&](std::error_code ec, std::size_t) {
    rec = ec;
    ++completed;
  });
  asio::async_write(pair.client, asio::buffer(big), [&](std::error_code ec, std::size_t) {
    wec = ec;
    ++completed;
  });
  asio::steady_timer later(io, 200ms);
  later.async_wait([&](std::error_code) { pair.client.next_layer().close(); });
  io.restart();
  io.run_for(30s);
  REQUIRE(completed == 2);
  CHECK(rec == asio::error::operation_aborted);
  CHECK(wec == asio::error::operation_aborted);
}

TEST_CASE(
    "shutdown sends close_notify without waiting; a pending read ends with eof or truncation") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    SUBCASE("the peer answers: the pending read ends with eof") {
      asio::io_context io;
      const Contexts ctx = contexts(v);
      StreamPair pair = connect_streams(io, ctx);
      std::string client_got, server_got;
      std::error_code client_read, server_read, shut;
      bool shut_before_read_end = false;
      auto closer = [&]() -> awaitable<void> {
        std::tie(shut) = co_await pair.client.async_shutdown(use_tuple);
        shut_before_read_end = !pair.client.engine().peer_closed();
      };
      std::vector<awaitable<void>> tasks;
      tasks.push_back(read_until_error(pair.client, client_got, client_read));
      tasks.push_back(closer());
      // The server's read sees our close_notify (eof) and its engine answers.
      tasks.push_back(read_until_error(pair.server, server_got, server_read));
      run_all(io, std::move(tasks));
      CHECK_MESSAGE(!shut, shut.message());
      CHECK(shut_before_read_end);
      CHECK(server_read == asio::error::eof);
      CHECK(client_read == asio::error::eof);
      CHECK(pair.client.engine().peer_closed());
    }
    SUBCASE("the peer closes the socket without answering: stream_truncated") {
      asio::io_context io;
      const Contexts ctx = contexts(v);
      StreamPair pair = connect_streams(io, ctx);
      std::string got;
      std::error_code client_read, shut;
      auto closer = [&]() -> awaitable<void> {
        std::tie(shut) = co_await pair.client.async_shutdown(use_tuple);
        // The server's side ends without close_notify: FIN, not a reset (close() with
        // our close_notify unread would reset the connection: ECONNRESET, not EOF).
        pair.server.next_layer().shutdown(tcp::socket::shutdown_send);
      };
      std::vector<awaitable<void>> tasks;
      tasks.push_back(read_until_error(pair.client, got, client_read));
      tasks.push_back(closer());
      run_all(io, std::move(tasks));
      CHECK_MESSAGE(!shut, shut.message());
      CHECK(client_read == asio::ssl::error::stream_truncated);
      CHECK(client_read != asio::error::operation_aborted);
    }
    SUBCASE("waiting for the peer: with and without a pending read") {
      for (bool pending_read : {false, true}) {
        CAPTURE(pending_read);
        asio::io_context io;
        const Contexts ctx = contexts(v);
        StreamPair pair = connect_streams(io, ctx);
        std::string client_got, server_got;
        std::error_code client_read, server_read, shut, server_write;
        auto closer = [&]() -> awaitable<void> {
          std::tie(shut) =
              co_await pair.client.async_shutdown(ossl::AsioShutdown::WaitForPeer, use_tuple);
        };
        // The server sends data before it sees the close_notify; then answers it.
        auto server = [&]() -> awaitable<void> {
          co_await write_text(pair.server, "late data", server_write);
          co_await read_until_error(pair.server, server_got, server_read);
        };
        std::vector<awaitable<void>> tasks;
        if (pending_read) tasks.push_back(read_until_error(pair.client, client_got, client_read));
        tasks.push_back(closer());
        tasks.push_back(server());
        run_all(io, std::move(tasks));
        CHECK_MESSAGE(!shut, shut.message());
        CHECK(pair.client.engine().peer_closed());
        CHECK(server_read == asio::error::eof);
        if (pending_read) {
          CHECK(client_got == "late data");  // the pending read got it, not the shutdown
          CHECK(client_read == asio::error::eof);
        }
      }
    }
  }
}

TEST_CASE("shutdown before the handshake or after a fatal error sends nothing") {
  asio::io_context io;
  const Contexts ctx = contexts(TlsVersion::Tls13);
  {
    StreamPair pair = make_stream_pair(io, ctx);
    std::error_code shut;
    auto closer = [&]() -> awaitable<void> {
      std::tie(shut) = co_await pair.client.async_shutdown(use_tuple);
    };
    std::vector<awaitable<void>> tasks;
    tasks.push_back(closer());
    run_all(io, std::move(tasks));
    CHECK(shut == ossl::AsioErrc::HandshakeNotDone);
    CHECK(shut.message().find("handshake") != std::string::npos);
    pair.client.next_layer().close();
    std::array<char, 16> raw{};
    std::error_code raw_ec;
    const std::size_t n = pair.server.next_layer().read_some(asio::buffer(raw), raw_ec);
    CHECK(n == 0);  // not one byte: no ClientHello, no alert
    CHECK(raw_ec == asio::error::eof);
  }
  {
    // A client that trusts nothing fails the handshake: it sends its alert, then
    // shutdown refuses and sends nothing more.
    auto distrusting = ossl::SslCtxBuilder<ossl::Client>::create().build().value();
    Contexts bad{std::move(distrusting), ctx.server};
    StreamPair pair = make_stream_pair(io, bad);
    std::error_code cec, sec, shut;
    auto client = [&]() -> awaitable<void> {
      std::tie(cec) = co_await pair.client.async_handshake(use_tuple);
      std::tie(shut) = co_await pair.client.async_shutdown(use_tuple);
      pair.client.next_layer().close();
    };
    std::vector<awaitable<void>> tasks;
    tasks.push_back(client());
    tasks.push_back(handshake(pair.server, sec));
    run_all(io, std::move(tasks));
    CHECK(cec.category() == ossl::asio_tls_category());
    CHECK(cec.message().find("certificate verify failed") != std::string::npos);
    CHECK(pair.client.last_error().to_string().find("certificate verify failed") !=
          std::string::npos);
    CHECK(shut == ossl::AsioErrc::ConnectionFailed);
    // The server got the client's alert ("unknown ca"), not a bare EOF.
    CHECK(sec.category() == ossl::asio_tls_category());
    CHECK(sec.message().find("unknown ca") != std::string::npos);
  }
}

TEST_CASE("misuse gets an error naming it: a second read or write, no connection, no handshake") {
  asio::io_context io;
  const Contexts ctx = contexts(TlsVersion::Tls13);
  {
    auto [c, s] = socket_pair(io);
    Stream empty(std::move(c));
    std::error_code hs, rd;
    std::array<char, 4> buf{};
    empty.async_handshake([&](std::error_code ec) { hs = ec; });
    empty.async_read_some(asio::buffer(buf), [&](std::error_code ec, std::size_t) { rd = ec; });
    io.restart();
    io.run_for(10s);
    CHECK(hs == ossl::AsioErrc::NoConnection);
    CHECK(rd == ossl::AsioErrc::NoConnection);
    CHECK(hs.message().find("set_client") != std::string::npos);
  }
  {
    StreamPair pair = make_stream_pair(io, ctx);
    std::error_code wr;
    pair.client.async_write_some(asio::buffer("x"sv),
                                 [&](std::error_code ec, std::size_t) { wr = ec; });
    io.restart();
    io.run_for(10s);
    CHECK(wr == ossl::AsioErrc::HandshakeNotDone);
  }
  {
    StreamPair pair = connect_streams(io, ctx);
    std::array<char, 4> a{}, b{};
    std::error_code first = asio::error::would_block, second;
    bool second_done = false;
    pair.client.async_read_some(asio::buffer(a),
                                [&](std::error_code ec, std::size_t) { first = ec; });
    pair.client.async_read_some(asio::buffer(b), [&](std::error_code ec, std::size_t) {
      second = ec;
      second_done = true;
    });
    CHECK_FALSE(second_done);  // never completes inside the initiating call
    io.restart();
    io.run_for(200ms);
    CHECK(second_done);
    CHECK(second == ossl::AsioErrc::OperationInProgress);
    CHECK(first == asio::error::would_block);  // the first is still pending, untouched
    CHECK_FALSE(
        pair.client.set_client(ctx.client.new_ssl_for_host("localhost").value()).has_value());
    pair.client.next_layer().close();
    io.run_for(10s);
    CHECK(first == asio::error::operation_aborted);
  }
}

TEST_CASE("a stream is reused for a new connection without new buffers") {
  asio::io_context io;
  const Contexts ctx = contexts(TlsVersion::Tls13);
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  Stream client(io);
  const std::byte* first_buffer = nullptr;
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    REQUIRE(client.set_client(ctx.client.new_ssl_for_host("localhost").value()).has_value());
    client.next_layer().connect(acceptor.local_endpoint());
    Stream server(acceptor.accept());
    REQUIRE(server.set_server(ctx.server.new_ssl().value()).has_value());
    std::error_code cec, sec, wec;
    std::string got;
    std::error_code rec;
    auto client_side = [&]() -> awaitable<void> {
      co_await handshake(client, cec);
      co_await write_text(client, "round " + std::to_string(round), wec);
      std::tie(cec) = co_await client.async_shutdown(use_tuple);
    };
    auto server_side = [&]() -> awaitable<void> {
      co_await handshake(server, sec);
      co_await read_until_error(server, got, rec);
    };
    std::vector<awaitable<void>> tasks;
    tasks.push_back(client_side());
    tasks.push_back(server_side());
    run_all(io, std::move(tasks));
    CHECK(!cec);
    CHECK(!sec);
    CHECK(got == "round " + std::to_string(round));
    CHECK(rec == asio::error::eof);
    const std::byte* buffer = client.engine().input_space().data();
    if (round == 0) first_buffer = buffer;
    CHECK(buffer == first_buffer);  // the same input buffer every round
    client.next_layer().close();
  }
}

TEST_CASE("a client that only reads answers a KeyUpdate, and TLS 1.3 tickets resume") {
  asio::io_context io;
  const Contexts ctx = contexts(TlsVersion::Tls13);
  StreamPair pair = connect_streams(io, ctx);
  std::string got;
  std::error_code rec, wec, sec;
  std::size_t server_saw = 0;
  auto server = [&]() -> awaitable<void> {
    REQUIRE(pair.server.ssl().key_update(true).has_value());
    co_await write_text(pair.server, "after the update", wec);
    // The client's answer (its own KeyUpdate) arrives; then its data under the new keys.
    std::array<char, 64> buf{};
    std::size_t n = 0;
    std::tie(sec, n) = co_await pair.server.async_read_some(asio::buffer(buf), use_tuple);
    server_saw = n;
  };
  auto client = [&]() -> awaitable<void> {
    std::array<char, 64> buf{};
    std::size_t n = 0;
    std::tie(rec, n) = co_await pair.client.async_read_some(asio::buffer(buf), use_tuple);
    got.assign(buf.data(), n);
    // No write has happened on the client, yet its answer is sent: the read queued it
    // (no KeyUpdate left pending) and flushed it (no output left).
    CHECK(SSL_get_key_update_type(pair.client.ssl().native_handle()) == SSL_KEY_UPDATE_NONE);
    CHECK_FALSE(pair.client.engine().wants_write());
    co_await write_text(pair.client, "ok", wec);
  };
  std::vector<awaitable<void>> tasks;
  tasks.push_back(server());
  tasks.push_back(client());
  run_all(io, std::move(tasks));
  CHECK(!rec);
  CHECK(got == "after the update");
  CHECK(!sec);
  CHECK(server_saw == 2);

  // The tickets arrived with the first read: take_session() has one, and it resumes.
  auto session = pair.client.take_session();
  REQUIRE(session.has_value());
  StreamPair again = make_stream_pair(io, ctx);
  REQUIRE(again.client.ssl().set_session(*session).has_value());
  std::error_code c2, s2;
  tasks.push_back(handshake(again.client, c2));
  tasks.push_back(handshake(again.server, s2));
  run_all(io, std::move(tasks));
  REQUIRE(!c2);
  REQUIRE(!s2);
  CHECK(again.client.ssl().session_reused());
}

TEST_CASE("gathered writes: twelve small buffers travel as one record") {
  asio::io_context io;
  const Contexts ctx = contexts(TlsVersion::Tls13);
  StreamPair pair = connect_streams(io, ctx);
  std::array<std::string, 12> pieces;
  for (std::size_t i = 0; i < pieces.size(); ++i)
    pieces[i] = "Header-" + std::to_string(i) + ": value\r\n";
  std::array<asio::const_buffer, 12> buffers;
  std::size_t total = 0;
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    buffers[i] = asio::buffer(pieces[i]);
    total += pieces[i].size();
  }
  std::error_code wec;
  std::size_t n = 0;
  auto writer = [&]() -> awaitable<void> {
    std::tie(wec, n) = co_await pair.client.async_write_some(buffers, use_tuple);
  };
  std::vector<awaitable<void>> tasks;
  tasks.push_back(writer());
  run_all(io, std::move(tasks));
  REQUIRE(!wec);
  CHECK(n == total);
  // The server's socket holds exactly one application-data record: read its header.
  std::array<unsigned char, 5> header{};
  asio::read(pair.server.next_layer(), asio::buffer(header));
  CHECK(header[0] == 23);  // application_data
  const std::size_t length = std::size_t{header[3]} << 8 | header[4];
  CHECK(length == total + 1 + 16);  // content type byte and AES-GCM / ChaCha20 tag
  std::vector<unsigned char> body(length);
  asio::read(pair.server.next_layer(), asio::buffer(body));
  pair.server.next_layer().non_blocking(true);
  std::error_code more;
  std::array<unsigned char, 1> extra{};
  CHECK(pair.server.next_layer().read_some(asio::buffer(extra), more) == 0);
  CHECK(more == asio::error::would_block);
}

TEST_CASE("streams on strands of a two-thread io_context keep each connection serial") {
  asio::io_context io(2);
  const Contexts ctx = contexts(TlsVersion::Tls13);
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  constexpr int kConnections = 16;
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  auto server_conn = [&](tcp::socket sock) -> awaitable<void> {
    ossl::AsioStream<tcp::socket> s(std::move(sock));
    if (!s.set_server(ctx.server.new_ssl().value())) co_return;
    auto [ec] = co_await s.async_handshake(use_tuple);
    if (ec) co_return;
    std::array<char, 4096> buf{};
    for (;;) {  // echo until the client closes
      auto [rec, n] = co_await s.async_read_some(asio::buffer(buf), use_tuple);
      if (rec) co_return;
      auto [wec, w] = co_await asio::async_write(s, asio::buffer(buf.data(), n), use_tuple);
      if (wec) co_return;
    }
  };
  auto acceptor_loop = [&]() -> awaitable<void> {
    for (int i = 0; i < kConnections; ++i) {
      auto [ec, sock] = co_await acceptor.async_accept(asio::make_strand(io), use_tuple);
      if (ec) co_return;
      auto ex = sock.get_executor();
      asio::co_spawn(ex, server_conn(std::move(sock)), asio::detached);
    }
  };
  auto client_conn = [&](int id,
                         asio::strand<asio::io_context::executor_type> strand) -> awaitable<void> {
    ossl::AsioStream<tcp::socket> s(strand);
    co_await s.next_layer().async_connect(acceptor.local_endpoint(), asio::use_awaitable);
    if (!s.set_client(ctx.client.new_ssl_for_host("localhost").value())) co_return;
    auto [ec] = co_await s.async_handshake(use_tuple);
    if (ec) {
      ++failed;
      co_return;
    }
    std::string message(20000, static_cast<char>('a' + id % 26));
    std::string echo(message.size(), '\0');
    // Full duplex on one strand: the write and the read are pending at once.
    co_await (asio::async_write(s, asio::buffer(message), asio::use_awaitable) &&
              asio::async_read(s, asio::buffer(echo), asio::use_awaitable));
    auto [sec] = co_await s.async_shutdown(use_tuple);
    if (!sec && echo == message)
      ++ok;
    else
      ++failed;
  };
  asio::co_spawn(io, acceptor_loop(), asio::detached);
  for (int i = 0; i < kConnections; ++i) {
    auto strand = asio::make_strand(io);
    asio::co_spawn(strand, client_conn(i, strand), [&](std::exception_ptr e) {
      if (e) ++failed;
    });
  }
  std::thread second([&] { io.run_for(60s); });
  io.run_for(60s);
  second.join();
  CHECK(ok.load() == kConnections);
  CHECK(failed.load() == 0);
}

TEST_CASE("async_lingering_close lets a peer that is still sending read the response") {
  // The server answers without reading the request body, then closes: lingering, the
  // client sees the response and a clean end; the plain close beside it (the control)
  // resets the connection with the body unread.
  for (bool lingering : {true, false}) {
    CAPTURE(lingering);
    asio::io_context io;
    auto [client, server] = socket_pair(io);
    const std::string body(std::size_t{1} << 20, 'b');
    std::string reply;
    std::error_code client_end;
    auto client_side = [&]() -> awaitable<void> {
      auto [wec, w] = co_await asio::async_write(client, asio::buffer(body), use_tuple);
      (void)w;  // a reset may cut the body short: what matters is what is read next
      std::array<char, 256> buf{};
      for (;;) {
        auto [rec, n] = co_await client.async_read_some(asio::buffer(buf), use_tuple);
        reply.append(buf.data(), n);
        if (rec) {
          client_end = wec ? wec : rec;
          co_return;
        }
      }
    };
    auto server_side = [&]() -> awaitable<void> {
      std::array<char, 16> head{};
      co_await asio::async_read(server, asio::buffer(head), asio::use_awaitable);
      co_await asio::async_write(server, asio::buffer("response"sv), asio::use_awaitable);
      if (lingering) {
        co_await ossl::async_lingering_close(server, 5s, std::size_t{4} << 20, asio::use_awaitable);
        CHECK_FALSE(server.is_open());
      } else {
        server.close();
      }
    };
    std::vector<awaitable<void>> tasks;
    tasks.push_back(client_side());
    tasks.push_back(server_side());
    run_all(io, std::move(tasks));
    if (lingering) {
      CHECK(reply == "response");
      CHECK(client_end == asio::error::eof);
    } else {
      CHECK(client_end == asio::error::connection_reset);
    }
  }
}

TEST_CASE("2,000 connections open at once on one thread, every one verified" *
          doctest::skip(light())) {
  constexpr int kConnections = 2000;
  // Both ends live in this process: 4,000 descriptors. Raise the soft limit to the hard
  // one (a shell's default soft limit may be 1,024).
  rlimit files{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &files) == 0);
  files.rlim_cur = files.rlim_max;
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &files) == 0);
  REQUIRE_MESSAGE(files.rlim_cur >= 2 * kConnections + 64,
                  "the descriptor limit is below what 2,000 connections need");
  asio::io_context io(1);
  const Contexts ctx = contexts(TlsVersion::Tls13);
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  acceptor.listen(asio::socket_base::max_listen_connections);
  constexpr std::size_t kMessage = 64;
  int ready = 0;     // clients whose handshake completed
  int open = 0;      // server connections open now
  int peak = 0;      // the most open at once
  int verified = 0;  // clients whose answer was right and whose close was clean
  int served = 0;    // server connections that ended with the client's close_notify
  std::vector<std::string> failures;
  // Every client waits here after its handshake until all are connected, so that all
  // 2,000 are open at once before any sends.
  asio::steady_timer all_ready(io, asio::steady_timer::time_point::max());

  auto serve = [&](tcp::socket socket) -> awaitable<void> {
    ++open;
    peak = std::max(peak, open);
    Stream s(std::move(socket));
    REQUIRE(s.set_server(ctx.server.new_ssl().value()).has_value());
    auto [hec] = co_await s.async_handshake(use_tuple);
    std::array<char, kMessage> in{};
    std::error_code ec = hec;
    std::size_t n = 0;
    if (!ec) std::tie(ec, n) = co_await asio::async_read(s, asio::buffer(in), use_tuple);
    if (!ec) {
      std::reverse(in.begin(), in.end());
      std::tie(ec, n) = co_await asio::async_write(s, asio::buffer(in), use_tuple);
    }
    if (!ec) std::tie(ec, n) = co_await s.async_read_some(asio::buffer(in), use_tuple);
    if (ec == asio::error::eof)
      ++served;  // the client's close_notify, answered
    else
      failures.push_back("server: " + ec.message());
    --open;
  };
  auto accept_all = [&]() -> awaitable<void> {
    for (int i = 0; i < kConnections; ++i) {
      auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
      if (ec) {
        failures.push_back("accept: " + ec.message());
        co_return;
      }
      asio::co_spawn(io, serve(std::move(socket)), asio::detached);
    }
  };
  auto client = [&](int id) -> awaitable<void> {
    Stream s(io);
    std::error_code ec;
    co_await s.next_layer().async_connect(acceptor.local_endpoint(),
                                          asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      failures.push_back("connect: " + ec.message());
      co_return;
    }
    REQUIRE(s.set_client(ctx.client.new_ssl_for_host("localhost").value()).has_value());
    std::tie(ec) = co_await s.async_handshake(use_tuple);
    if (ec) {
      failures.push_back("client handshake: " + ec.message());
      co_return;
    }
    if (++ready == kConnections) all_ready.cancel();
    while (ready < kConnections)
      co_await all_ready.async_wait(use_tuple);
    std::string message = "connection " + std::to_string(id) + " ";
    message.resize(kMessage, static_cast<char>('a' + id % 26));
    std::array<char, kMessage> answer{};
    std::size_t n = 0;
    std::tie(ec, n) = co_await asio::async_write(s, asio::buffer(message), use_tuple);
    if (!ec) std::tie(ec, n) = co_await asio::async_read(s, asio::buffer(answer), use_tuple);
    if (!ec) std::tie(ec) = co_await s.async_shutdown(ossl::AsioShutdown::WaitForPeer, use_tuple);
    std::reverse(message.begin(), message.end());
    if (!ec && std::string_view(answer.data(), answer.size()) == message)
      ++verified;
    else
      failures.push_back("client " + std::to_string(id) + ": " + ec.message());
  };
  std::vector<awaitable<void>> tasks;
  tasks.push_back(accept_all());
  for (int i = 0; i < kConnections; ++i)
    tasks.push_back(client(i));
  run_all(io, std::move(tasks), 300s);
  io.restart();
  io.run_for(10s);  // the servers' last reads
  for (std::size_t i = 0; i < std::min<std::size_t>(failures.size(), 5); ++i)
    FAIL_CHECK(failures[i]);
  CHECK(failures.empty());
  CHECK(ready == kConnections);
  CHECK(peak == kConnections);  // all open at once
  CHECK(verified == kConnections);
  CHECK(served == kConnections);
  MESSAGE("2,000 connections: peak open " << peak << ", verified " << verified);
}
