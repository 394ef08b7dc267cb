// Event-loop benchmark: the same work done two ways in the same run, in alternating
// batches so that machine drift cancels.
//   1. In memory: ossl::TlsEngine pairs against ossl::Ssl pairs on a BIO pair.
//   2. Loopback TCP, one io_context on one thread: ossl::AsioStream against
//      asio::ssl::stream, over the same SSL_CTX (same certificates, version, groups,
//      verification and host check), the same sockets and buffer sizes.
//   3. Heap per idle server connection at 1k and 10k connections (clients in a child
//      process, so that 10k connections fit the descriptor limit).
//
//   bench_async [--quick] [--instructions]
//
// --instructions runs each ping-pong and exchange case once in a function of its own, for
// scripts/bench-instructions (callgrind --toggle-collect); nothing is printed but "done".
#include "alloc_counter.hpp"
#include "cases.hpp"
#include "stats.hpp"

#include <ossl/asio.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <malloc.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using tcp = asio::ip::tcp;
template <class T>
using awaitable = asio::awaitable<T>;
constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

// ---------------------------------------------------------------- measuring, printing

struct Sample {
  double ns = 0;       // per op
  double openssl = 0;  // OpenSSL allocations per op
  double cxx = 0;      // operator new calls per op
};

Sample measure(const std::function<bool(long)>& run, long ops, const char* what) {
  const auto a0 = bench::alloc::now();
  const auto t0 = Clock::now();
  if (!run(ops)) {
    std::fprintf(stderr, "bench_async: %s failed\n", what);
    std::exit(1);
  }
  const auto t1 = Clock::now();
  const auto a1 = bench::alloc::now();
  const double n = static_cast<double>(ops);
  return {std::chrono::duration<double, std::nano>(t1 - t0).count() / n,
          static_cast<double>(a1.openssl - a0.openssl) / n,
          static_cast<double>(a1.cxx - a0.cxx) / n};
}

using bench::human_ns;
using bench::median;

// Runs `ours` and `theirs` in alternating batches and prints one table row: median time
// per op of each, the median of the per-pair ratios ours/theirs (min..max), and the
// allocations per op of the last batch of each.
void compare(const std::string& name, long ops, int pairs, double bytes_per_op,
             const std::function<bool(long)>& ours, const std::function<bool(long)>& theirs) {
  measure(ours, std::max(1L, ops / 4), name.c_str());  // warm-up
  measure(theirs, std::max(1L, ops / 4), name.c_str());
  std::vector<double> o, t, r;
  Sample so, st;
  for (int i = 0; i < pairs; ++i) {
    st = measure(theirs, ops, name.c_str());
    so = measure(ours, ops, name.c_str());
    o.push_back(so.ns);
    t.push_back(st.ns);
    r.push_back(so.ns / st.ns);
  }
  std::string rate;
  if (bytes_per_op > 0) {
    char buf[64];
    std::snprintf(buf, sizeof buf, " (%.0f vs %.0f MB/s)", bytes_per_op / median(o) * 1e3,
                  bytes_per_op / median(t) * 1e3);
    rate = buf;
  }
  std::printf("| %s | %s | %s | %.3f (%.3f..%.3f)%s | %.1f + %.1f | %.1f + %.1f |\n", name.c_str(),
              human_ns(median(o)).c_str(), human_ns(median(t)).c_str(), median(r),
              *std::min_element(r.begin(), r.end()), *std::max_element(r.begin(), r.end()),
              rate.c_str(), so.openssl, so.cxx, st.openssl, st.cxx);
  std::fflush(stdout);
}

// ------------------------------------------------------------ 1. engine vs BIO pair

struct EnginePair {
  ossl::TlsEngine client, server;
};

// Moves all of `from`'s pending output into `to`.
void pump(ossl::TlsEngine& from, ossl::TlsEngine& to) {
  while (from.wants_write()) {
    auto out = from.pending_output();
    auto space = to.input_space(out.size());
    if (space.empty()) return;
    std::memcpy(space.data(), out.data(), space.size());
    to.commit_input(space.size());
    from.consume_output(space.size());
  }
}

std::unique_ptr<EnginePair> engine_pair(const bench::OsslContexts& ctx) {
  auto p = std::make_unique<EnginePair>();
  p->client = ossl::TlsEngine::client(ctx.client.new_ssl_for_host("localhost").value()).value();
  p->server = ossl::TlsEngine::server(ctx.server.new_ssl().value()).value();
  std::array<std::byte, 256> sink{};
  for (int round = 0; round < 20 && !(p->client.handshake_done() && p->server.handshake_done());
       ++round) {
    (void)p->client.handshake();
    pump(p->client, p->server);
    (void)p->server.handshake();
    pump(p->server, p->client);
  }
  (void)p->client.read(sink);  // the TLS 1.3 tickets
  if (!p->client.handshake_done() || !p->server.handshake_done()) return nullptr;
  return p;
}

// One client send of `data`, moved across, and the server reads that drain it: the
// engine's counterpart of bench::ossl_exchange.
bool engine_exchange(EnginePair& p, std::span<const std::byte> data, std::span<std::byte> buf) {
  auto sent = p.client.send(data);
  if (!sent || *sent != data.size()) return false;
  pump(p.client, p.server);
  std::size_t got = 0;
  while (got < data.size()) {
    auto r = p.server.read(buf);
    if (!r) return false;
    got += *r;
  }
  return true;
}

// ------------------------------------------------------------------ 2. Asio streams

using Ours = ossl::AsioStream<tcp::socket>;
using Theirs = asio::ssl::stream<tcp::socket>;

struct Contexts {
  bench::OsslContexts ossl;
  asio::ssl::context asio_client;
  asio::ssl::context asio_server;
};

// Asio's contexts over the very SSL_CTXs ours use (each takes a reference).
std::unique_ptr<Contexts> make_contexts(const bench::Setup& s) {
  auto ossl = bench::ossl_contexts(s).value();
  SSL_CTX_up_ref(ossl.client.native_handle());
  SSL_CTX_up_ref(ossl.server.native_handle());
  asio::ssl::context c(ossl.client.native_handle());
  asio::ssl::context sv(ossl.server.native_handle());
  return std::make_unique<Contexts>(Contexts{std::move(ossl), std::move(c), std::move(sv)});
}

template <class S>
struct StreamPair {
  std::unique_ptr<S> client, server;
};

std::pair<tcp::socket, tcp::socket> socket_pair(asio::io_context& io, tcp::acceptor& acceptor) {
  tcp::socket c(io);
  c.connect(acceptor.local_endpoint());
  tcp::socket s = acceptor.accept();
  c.set_option(tcp::no_delay(true));
  s.set_option(tcp::no_delay(true));
  return {std::move(c), std::move(s)};
}

// Makes a pair of streams over connected sockets, before the handshake; the client
// checks the host name "localhost" the same way on both (X509_VERIFY_PARAM_set1_host on
// the SSL's parameters: what ossl does, and what the SSL_set1_host deprecated in OpenSSL
// 4.0 did).
template <class S>
StreamPair<S> over(tcp::socket c, tcp::socket s, Contexts& ctx,
                   const ossl::EngineOptions& options = {}) {
  StreamPair<S> p;
  if constexpr (std::is_same_v<S, Ours>) {
    p.client = std::make_unique<Ours>(std::move(c), options);
    p.server = std::make_unique<Ours>(std::move(s), options);
    (void)p.client->set_client(ctx.ossl.client.new_ssl_for_host("localhost").value());
    (void)p.server->set_server(ctx.ossl.server.new_ssl().value());
  } else {
    p.client = std::make_unique<Theirs>(std::move(c), ctx.asio_client);
    p.server = std::make_unique<Theirs>(std::move(s), ctx.asio_server);
    SSL_set_tlsext_host_name(p.client->native_handle(), "localhost");
    X509_VERIFY_PARAM_set1_host(SSL_get0_param(p.client->native_handle()), "localhost", 0);
  }
  return p;
}

// The same over fresh loopback sockets.
template <class S>
StreamPair<S> make_pair(asio::io_context& io, tcp::acceptor& acceptor, Contexts& ctx,
                        const ossl::EngineOptions& options = {}) {
  auto [c, s] = socket_pair(io, acceptor);
  return over<S>(std::move(c), std::move(s), ctx, options);
}

template <class S>
awaitable<std::error_code> handshake(S& s, bool client) {
  if constexpr (std::is_same_v<S, Ours>) {
    auto [ec] = co_await s.async_handshake(use_tuple);
    co_return ec;
  } else {
    auto [ec] = co_await s.async_handshake(
        client ? asio::ssl::stream_base::client : asio::ssl::stream_base::server, use_tuple);
    co_return ec;
  }
}

// Runs coroutines to completion on `io`; false when one failed or threw.
bool run(asio::io_context& io, std::vector<awaitable<bool>> tasks) {
  bool ok = true;
  for (auto& t : tasks) {
    asio::co_spawn(io, std::move(t), [&](std::exception_ptr e, bool r) { ok = ok && !e && r; });
  }
  io.restart();
  io.run();
  return ok;
}

template <class S>
bool connect(asio::io_context& io, StreamPair<S>& p) {
  std::vector<awaitable<bool>> t;
  t.push_back([](S& s) -> awaitable<bool> { co_return !co_await handshake(s, true); }(*p.client));
  t.push_back([](S& s) -> awaitable<bool> { co_return !co_await handshake(s, false); }(*p.server));
  return run(io, std::move(t));
}

// `ops` round trips of `size` bytes: the client writes, the server echoes.
template <class S>
bool ping_pong(asio::io_context& io, StreamPair<S>& p, long ops, std::size_t size) {
  std::vector<awaitable<bool>> t;
  t.push_back([](S& s, long n, std::size_t size) -> awaitable<bool> {
    std::vector<char> out(size, 'p'), in(size);
    for (long i = 0; i < n; ++i) {
      auto [wec, w] = co_await asio::async_write(s, asio::buffer(out), use_tuple);
      auto [rec, r] = co_await asio::async_read(s, asio::buffer(in), use_tuple);
      if (wec || rec) co_return false;
    }
    co_return true;
  }(*p.client, ops, size));
  t.push_back([](S& s, long n, std::size_t size) -> awaitable<bool> {
    std::vector<char> buf(size);
    for (long i = 0; i < n; ++i) {
      auto [rec, r] = co_await asio::async_read(s, asio::buffer(buf), use_tuple);
      auto [wec, w] = co_await asio::async_write(s, asio::buffer(buf), use_tuple);
      if (wec || rec) co_return false;
    }
    co_return true;
  }(*p.server, ops, size));
  return run(io, std::move(t));
}

// `ops` writes of `piece` bytes one way, read on the other side in 64 KiB reads.
template <class S>
bool bulk(asio::io_context& io, StreamPair<S>& p, long ops, std::size_t piece) {
  std::vector<awaitable<bool>> t;
  t.push_back([](S& s, long n, std::size_t piece) -> awaitable<bool> {
    std::vector<char> out(piece, 'b');
    for (long i = 0; i < n; ++i) {
      auto [ec, w] = co_await asio::async_write(s, asio::buffer(out), use_tuple);
      if (ec) co_return false;
    }
    co_return true;
  }(*p.client, ops, piece));
  t.push_back([](S& s, std::size_t total) -> awaitable<bool> {
    std::vector<char> in(64 * 1024);
    for (std::size_t got = 0; got < total;) {
      auto [ec, n] = co_await s.async_read_some(asio::buffer(in), use_tuple);
      if (ec) co_return false;
      got += n;
    }
    co_return true;
  }(*p.server, static_cast<std::size_t>(ops) * piece));
  return run(io, std::move(t));
}

// An HTTP-like response of 12 pieces (status line, 10 fields, a 200-byte body).
struct Response {
  std::vector<std::string> pieces;
  std::array<asio::const_buffer, 12> buffers;
  std::size_t size = 0;
  Response() {
    pieces.push_back("HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < 10; ++i)
      pieces.push_back("X-Field-" + std::to_string(i) + ": some value\r\n");
    pieces.push_back(std::string(200, 'r'));
    for (std::size_t i = 0; i < 12; ++i) {
      buffers[i] = asio::buffer(pieces[i]);
      size += pieces[i].size();
    }
  }
};

// `ops` gathered 12-piece writes, read whole on the other side.
template <class S>
bool gather(asio::io_context& io, StreamPair<S>& p, long ops, const Response& resp) {
  std::vector<awaitable<bool>> t;
  t.push_back([](S& s, long n, const Response& resp) -> awaitable<bool> {
    for (long i = 0; i < n; ++i) {
      auto [ec, w] = co_await asio::async_write(s, resp.buffers, use_tuple);
      if (ec) co_return false;
    }
    co_return true;
  }(*p.client, ops, resp));
  t.push_back([](S& s, long n, std::size_t size) -> awaitable<bool> {
    std::vector<char> in(size);
    for (long i = 0; i < n; ++i) {
      auto [ec, r] = co_await asio::async_read(s, asio::buffer(in), use_tuple);
      if (ec) co_return false;
    }
    co_return true;
  }(*p.server, ops, resp.size));
  return run(io, std::move(t));
}

// A socket that counts the writes issued on it (each one a send() system call).
int g_socket_writes = 0;
struct CountingSocket {
  using executor_type = tcp::socket::executor_type;
  using lowest_layer_type = tcp::socket::lowest_layer_type;
  explicit CountingSocket(tcp::socket s) : socket(std::move(s)) {}
  executor_type get_executor() { return socket.get_executor(); }
  lowest_layer_type& lowest_layer() { return socket.lowest_layer(); }
  template <class Buffers, class Token>
  auto async_read_some(const Buffers& b, Token&& t) {
    return socket.async_read_some(b, std::forward<Token>(t));
  }
  template <class Buffers, class Token>
  auto async_write_some(const Buffers& b, Token&& t) {
    ++g_socket_writes;
    return socket.async_write_some(b, std::forward<Token>(t));
  }
  tcp::socket socket;
};

// What one gathered 12-piece response costs on the wire: the client's writes to its
// socket (system calls) and the TLS records, parsed from the bytes the server's socket
// received, before any TLS processing (the server is an AsioStream either way).
template <class S>
void gather_wire(asio::io_context& io, tcp::acceptor& acceptor, Contexts& ctx, const Response& r,
                 const char* name) {
  auto [c, s] = socket_pair(io, acceptor);
  std::unique_ptr<S> client;
  if constexpr (std::is_same_v<S, ossl::AsioStream<CountingSocket>>) {
    client = std::make_unique<S>(std::move(c));
    (void)client->set_client(ctx.ossl.client.new_ssl_for_host("localhost").value());
  } else {
    client = std::make_unique<S>(std::move(c), ctx.asio_client);
    SSL_set_tlsext_host_name(client->native_handle(), "localhost");
    X509_VERIFY_PARAM_set1_host(SSL_get0_param(client->native_handle()), "localhost", 0);
  }
  Ours server(std::move(s));
  (void)server.set_server(ctx.ossl.server.new_ssl().value());
  std::vector<awaitable<bool>> t;
  t.push_back([](S& s) -> awaitable<bool> {
    if constexpr (std::is_same_v<S, ossl::AsioStream<CountingSocket>>) {
      auto [ec] = co_await s.async_handshake(use_tuple);
      co_return !ec;
    } else {
      auto [ec] = co_await s.async_handshake(asio::ssl::stream_base::client, use_tuple);
      co_return !ec;
    }
  }(*client));
  t.push_back([](Ours& s) -> awaitable<bool> { co_return !co_await handshake(s, false); }(server));
  if (!run(io, std::move(t))) std::exit(1);
  g_socket_writes = 0;
  t.push_back([](S& s, const Response& resp) -> awaitable<bool> {
    auto [e, w] = co_await asio::async_write(s, resp.buffers, use_tuple);
    co_return !e;
  }(*client, r));
  if (!run(io, std::move(t))) std::exit(1);
  std::vector<unsigned char> wire;
  int records = 0;
  std::size_t plaintext = 0;
  server.next_layer().non_blocking(true);
  for (int quiet = 0; quiet < 20 && plaintext < r.size;) {
    std::array<unsigned char, 4096> b{};
    std::error_code ec;
    const std::size_t n = server.next_layer().read_some(asio::buffer(b), ec);
    if (n == 0) {
      ++quiet;
      usleep(1000);
      continue;
    }
    wire.insert(wire.end(), b.begin(), b.begin() + static_cast<long>(n));
    records = 0;
    plaintext = 0;
    for (std::size_t at = 0; at + 5 <= wire.size(); ++records) {
      const std::size_t len = std::size_t{wire[at + 3]} << 8 | wire[at + 4];
      plaintext += len - 17;  // TLS 1.3: content type byte and 16-byte tag
      at += 5 + len;
    }
  }
  std::printf("| %s | %d | %d | %zu |\n", name, g_socket_writes, records, wire.size());
}

// `ops` whole connections, 64 at a time: TCP connect, both handshakes, the client's
// close_notify read by the server, close.
template <class S>
bool connections(asio::io_context& io, tcp::acceptor& acceptor, Contexts& ctx, long ops) {
  constexpr int kInFlight = 64;
  long started = 0;
  bool ok = true;
  std::function<void()> next;
  int running = 0;
  auto one = [&]() -> awaitable<bool> {
    tcp::socket c(io);
    auto [cec] = co_await c.async_connect(acceptor.local_endpoint(), use_tuple);
    auto [aec, s] = co_await acceptor.async_accept(use_tuple);
    if (cec || aec) co_return false;
    StreamPair<S> p = over<S>(std::move(c), std::move(s), ctx);
    // Both handshakes at once: the server's runs while the client waits.
    std::error_code sec;
    bool server_done = false;
    asio::co_spawn(
        io,
        [](S& s, std::error_code& e, bool& done) -> awaitable<void> {
          e = co_await handshake(s, false);
          done = true;
        }(*p.server, sec, server_done),
        asio::detached);
    const std::error_code hec = co_await handshake(*p.client, true);
    while (!server_done) {
      asio::steady_timer yield(io, std::chrono::steady_clock::duration::zero());
      co_await yield.async_wait(use_tuple);
    }
    co_return !hec && !sec;
  };
  next = [&] {
    while (running < kInFlight && started < ops) {
      ++started;
      ++running;
      asio::co_spawn(io, one(), [&](std::exception_ptr e, bool r) {
        ok = ok && !e && r;
        --running;
        next();
      });
    }
  };
  next();
  io.restart();
  io.run();
  return ok && started == ops;
}

// ------------------------------------------------------ 3. heap per idle connection

// Heap bytes in use (glibc: the arena's allocated bytes plus mmapped blocks).
std::size_t heap_in_use() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

enum class Kind { Ours, OursReleasing, Theirs };

// Accepts `n` connections from a child process, handshakes and answers one 64 B request
// on each, then measures the heap the `n` idle server connections hold. Returns bytes
// per connection, or 0 on failure.
double idle_heap(const bench::Setup& setup, Kind kind, int n) {
  asio::io_context io(1);
  auto ctx = make_contexts(setup);
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  acceptor.listen(asio::socket_base::max_listen_connections);
  const auto endpoint = acceptor.local_endpoint();
  int to_child[2], from_child[2];
  if (::pipe(to_child) != 0 || ::pipe(from_child) != 0) return 0;
  io.notify_fork(asio::io_context::fork_prepare);
  const pid_t pid = ::fork();
  if (pid == 0) {  // the clients: connect, handshake, one request each, then wait
    io.notify_fork(asio::io_context::fork_child);
    asio::io_context cio(1);
    std::vector<std::unique_ptr<Ours>> clients;
    int done = 0;
    for (int i = 0; i < n; ++i) {
      clients.push_back(std::make_unique<Ours>(cio));
      asio::co_spawn(
          cio,
          [](Ours& s, tcp::endpoint ep, Contexts& ctx, int& done) -> awaitable<void> {
            co_await s.next_layer().async_connect(ep, use_tuple);
            (void)s.set_client(ctx.ossl.client.new_ssl_for_host("localhost").value());
            auto [hec] = co_await s.async_handshake(use_tuple);
            std::array<char, 64> b{};
            co_await asio::async_write(s, asio::buffer(b), use_tuple);
            co_await asio::async_read(s, asio::buffer(b), use_tuple);
            if (!hec) ++done;
          }(*clients.back(), endpoint, *ctx, done),
          asio::detached);
    }
    cio.run();
    const char c = done == n ? 'y' : 'n';
    (void)::write(from_child[1], &c, 1);
    char wait = 0;
    (void)::read(to_child[0], &wait, 1);
    ::_exit(0);
  }
  io.notify_fork(asio::io_context::fork_parent);
  const std::size_t before = heap_in_use();
  std::vector<std::unique_ptr<Ours>> ours;
  std::vector<std::unique_ptr<Theirs>> theirs;
  ours.reserve(static_cast<std::size_t>(n));
  theirs.reserve(static_cast<std::size_t>(n));
  ossl::EngineOptions options;
  options.release_idle_buffers = kind == Kind::OursReleasing;
  auto serve = [&](auto& s) -> awaitable<void> {
    if constexpr (std::is_same_v<std::remove_cvref_t<decltype(s)>, Ours>) {
      auto [ec] = co_await s.async_handshake(use_tuple);
      (void)ec;
    } else {
      auto [ec] = co_await s.async_handshake(asio::ssl::stream_base::server, use_tuple);
      (void)ec;
    }
    std::array<char, 64> b{};
    co_await asio::async_read(s, asio::buffer(b), use_tuple);
    co_await asio::async_write(s, asio::buffer(b), use_tuple);
  };
  for (int i = 0; i < n; ++i) {
    tcp::socket sock = acceptor.accept();
    if (kind == Kind::Theirs) {
      theirs.push_back(std::make_unique<Theirs>(std::move(sock), ctx->asio_server));
      asio::co_spawn(io, serve(*theirs.back()), asio::detached);
    } else {
      ours.push_back(std::make_unique<Ours>(std::move(sock), options));
      (void)ours.back()->set_server(ctx->ossl.server.new_ssl().value());
      asio::co_spawn(io, serve(*ours.back()), asio::detached);
    }
    io.poll();
  }
  io.run();
  char ok = 0;
  (void)::read(from_child[0], &ok, 1);
  const std::size_t after = heap_in_use();
  (void)::write(to_child[1], "x", 1);
  int status = 0;
  ::waitpid(pid, &status, 0);
  for (int fd : {to_child[0], to_child[1], from_child[0], from_child[1]})
    ::close(fd);
  if (ok != 'y') return 0;
  return static_cast<double>(after - before) / n;
}

// ------------------------------------------------------- callgrind entry points

#define OSSL_BENCH_CASE(name) extern "C" __attribute__((noinline)) bool name

OSSL_BENCH_CASE(engine_exchange_64)
(EnginePair& p, std::span<const std::byte> d, std::span<std::byte> b) {
  for (int i = 0; i < 200; ++i)
    if (!engine_exchange(p, d, b)) return false;
  return true;
}
OSSL_BENCH_CASE(ssl_exchange_64)
(bench::OsslPair& p, std::span<const std::byte> d, std::span<std::byte> b) {
  for (int i = 0; i < 200; ++i)
    if (!bench::ossl_exchange(p, d, b)) return false;
  return true;
}
OSSL_BENCH_CASE(ours_ping_pong_64)(asio::io_context& io, StreamPair<Ours>& p) {
  return ping_pong(io, p, 200, 64);
}
OSSL_BENCH_CASE(theirs_ping_pong_64)(asio::io_context& io, StreamPair<Theirs>& p) {
  return ping_pong(io, p, 200, 64);
}
OSSL_BENCH_CASE(ours_gather_12)(asio::io_context& io, StreamPair<Ours>& p, const Response& r) {
  return gather(io, p, 200, r);
}
OSSL_BENCH_CASE(theirs_gather_12)(asio::io_context& io, StreamPair<Theirs>& p, const Response& r) {
  return gather(io, p, 200, r);
}

int instructions(const bench::Setup& setup) {
  auto ctx = make_contexts(setup);
  auto engines = engine_pair(ctx->ossl);
  auto ssls = bench::ossl_connect(ctx->ossl).value();
  asio::io_context io(1);
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  auto ours = make_pair<Ours>(io, acceptor, *ctx);
  auto theirs = make_pair<Theirs>(io, acceptor, *ctx);
  if (!engines || !connect(io, ours) || !connect(io, theirs)) return 1;
  std::vector<std::byte> data(64, std::byte{0x42}), buf(16384);
  const Response r;
  for (int round = 0; round < 2; ++round) {  // the second round is the one to read
    if (!engine_exchange_64(*engines, data, buf) || !ssl_exchange_64(ssls, data, buf) ||
        !ours_ping_pong_64(io, ours) || !theirs_ping_pong_64(io, theirs) ||
        !ours_gather_12(io, ours, r) || !theirs_gather_12(io, theirs, r)) {
      return 1;
    }
  }
  std::puts("done");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (!bench::alloc::install_openssl_hooks()) return 1;
  rlimit files{};  // 10k idle connections per process: raise the soft limit to the hard one
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0) {
    files.rlim_cur = files.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &files);
  }
  bool quick = false, instr = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick")
      quick = true;
    else if (a == "--instructions")
      instr = true;
    else {
      std::fprintf(stderr, "usage: bench_async [--quick] [--instructions]\n");
      return 1;
    }
  }
  const bench::Setup setup = bench::make_setup(ossl::TlsVersion::Tls13);
  if (instr) return instructions(setup);
  const int pairs = quick ? 3 : 7;
  auto ctx = make_contexts(setup);

  std::printf(
      "TLS 1.3, one thread; time per op (median of %d alternating batches), ratio "
      "ours/theirs (min..max), allocations per op (OpenSSL + C++)\n\n",
      pairs);
  std::printf(
      "| case | ossl | baseline | ratio | ossl allocs | baseline allocs |\n"
      "|---|---|---|---|---|---|\n");

  // 1. In memory.
  auto engines = engine_pair(ctx->ossl);
  auto ssls = std::make_shared<bench::OsslPair>(bench::ossl_connect(ctx->ossl).value());
  if (!engines) return 1;
  for (std::size_t size : {std::size_t{64}, std::size_t{16384}}) {
    auto data = std::make_shared<std::vector<std::byte>>(size, std::byte{0x42});
    auto buf = std::make_shared<std::vector<std::byte>>(16384);
    compare(
        "engine vs Ssl on a BIO pair, " + std::to_string(size) + " B record",
        quick ? 20000 : 100000, pairs, static_cast<double>(size),
        [&, data, buf](long ops) {
          for (long i = 0; i < ops; ++i)
            if (!engine_exchange(*engines, *data, *buf)) return false;
          return true;
        },
        [&, data, buf](long ops) {
          for (long i = 0; i < ops; ++i)
            if (!bench::ossl_exchange(*ssls, *data, *buf)) return false;
          return true;
        });
  }

  // 2. Loopback TCP.
  asio::io_context io(1);
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  acceptor.listen(asio::socket_base::max_listen_connections);
  auto ours = make_pair<Ours>(io, acceptor, *ctx);
  auto theirs = make_pair<Theirs>(io, acceptor, *ctx);
  if (!connect(io, ours) || !connect(io, theirs)) return 1;
  compare(
      "AsioStream vs asio::ssl::stream, 64 B ping-pong (round trip)", quick ? 2000 : 10000, pairs,
      0, [&](long ops) { return ping_pong(io, ours, ops, 64); },
      [&](long ops) { return ping_pong(io, theirs, ops, 64); });
  compare(
      "AsioStream vs asio::ssl::stream, bulk 256 KiB writes", quick ? 100 : 400, pairs,
      256.0 * 1024, [&](long ops) { return bulk(io, ours, ops, 256 * 1024); },
      [&](long ops) { return bulk(io, theirs, ops, 256 * 1024); });
  const Response resp;
  compare(
      "AsioStream vs asio::ssl::stream, 12-buffer response (" + std::to_string(resp.size) + " B)",
      quick ? 2000 : 10000, pairs, 0, [&](long ops) { return gather(io, ours, ops, resp); },
      [&](long ops) { return gather(io, theirs, ops, resp); });
  compare(
      "AsioStream vs asio::ssl::stream, connection (64 in flight)", quick ? 256 : 1024, pairs, 0,
      [&](long ops) { return connections<Ours>(io, acceptor, *ctx, ops); },
      [&](long ops) { return connections<Theirs>(io, acceptor, *ctx, ops); });

  std::printf(
      "\nOne 12-buffer response (%zu B) on the wire:\n\n| client stream | socket writes "
      "| TLS records | bytes |\n|---|---|---|---|\n",
      resp.size);
  gather_wire<ossl::AsioStream<CountingSocket>>(io, acceptor, *ctx, resp, "AsioStream");
  gather_wire<asio::ssl::stream<CountingSocket>>(io, acceptor, *ctx, resp, "asio::ssl::stream");

  // 3. Idle memory.
  std::printf(
      "\nHeap per idle server connection (after a handshake and one 64 B request):\n\n"
      "| connections | AsioStream | AsioStream, release_idle_buffers | "
      "asio::ssl::stream |\n|---|---|---|---|\n");
  for (int n : {1000, quick ? 2000 : 10000}) {
    const double a = idle_heap(setup, Kind::Ours, n);
    const double b = idle_heap(setup, Kind::OursReleasing, n);
    const double c = idle_heap(setup, Kind::Theirs, n);
    std::printf("| %d | %.1f KiB | %.1f KiB | %.1f KiB |\n", n, a / 1024, b / 1024, c / 1024);
    std::fflush(stdout);
  }
  return 0;
}
