// tls_server: a small HTTPS server made with ossl.
//
//   tls_server [--cert FILE --key FILE] [--chain FILE] [--port N] [--host ADDR]
//              [--alpn LIST] [--client-ca FILE] [--tls1.2|--tls1.3]
//              [--sni NAME=CERT,KEY]... [--ocsp FILE]... [--ticket-keys FILE]...
//              [--session-store redis://HOST:PORT] [--early-data BYTES] [--timeout SECONDS]
//              [--max-connections N]
//
// Answers one HTTP request per connection with 200 and a one-line body stating the negotiated
// version, cipher, ALPN, client certificate and SNI name. --sni presents another
// certificate (CERT may carry its chain) to clients that ask for NAME. Without --cert it generates
// a CA and a certificate for localhost/127.0.0.1/::1 and prints where it wrote the CA. Serves
// clients concurrently, a thread each, at most --max-connections (default 256) at once: more
// wait in the listen backlog. --timeout (default 10 s) bounds the handshake and the whole
// request head together, not each read. Ends each connection as openssl s_server does:
// close_notify (also in answer to the client's), then a lingering close, so a client still
// sending sees the response instead of a TCP reset. Stops cleanly on SIGINT/SIGTERM. Prints
// "listening on HOST:PORT" once ready (port 0 picks a free port). --client-ca requires client
// certificates. --ticket-keys shares session ticket keys with other servers (the first
// file's key encrypts); --session-store shares sessions through Redis instead (TLS 1.2
// session IDs, TLS 1.3 stateful tickets; needs a build with hiredis). SIGHUP reloads: the
// certificate, key, chain, SNI, OCSP, client CA and ticket key files are read again and
// new connections get the new context (ossl::ReloadableCtx), while connections in flight
// finish with the old one; it prints what it loaded, or why it kept the old context.
// --early-data BYTES takes TLS 1.3 early data (0-RTT) from resuming clients, each ticket
// once; a request that came as early data is answered only if it is a GET or HEAD (425
// Too Early otherwise, RFC 8470), and the answer ends with early=<bytes>.
#include "server_common.hpp"

#include <ossl/ossl.hpp>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

const char* const server_common::g_program = "tls_server";

namespace {

using namespace std::chrono_literals;
using namespace server_common;

int g_signal_pipe[2] = {-1, -1};

void on_signal(int signal) {
  const char c = signal == SIGHUP ? 'h' : 's';
  [[maybe_unused]] auto n = ::write(g_signal_pipe[1], &c, 1);  // async-signal-safe
}

// One connection: handshake, read the request head, answer, close_notify. The whole of it
// shares one deadline, so a client trickling a byte at a time cannot hold it longer.
void answer(const ossl::ReloadableCtx& ctx, int fd, ossl::io::Timeout timeout) {
  const auto deadline = ossl::io::Clock::now() + timeout;
  auto left = [&] {
    return std::max(ossl::io::Timeout::zero(), std::chrono::duration_cast<ossl::io::Timeout>(
                                                   deadline - ossl::io::Clock::now()));
  };
  auto made = ctx.new_ssl();
  if (!made || !made->set_fd(fd)) return;  // io::accept made fd non-blocking
  ossl::Ssl ssl = std::move(*made);
  ssl.set_accept_state();
  std::string request;
  auto made_from = ssl.ctx();
  if (made_from && made_from->max_early_data() > 0) {
    // --early-data: the client's early data comes first, before the handshake completes.
    // It may be a replay of another connection's, so it is answered only when it is a
    // GET or HEAD (below); read() never returns it.
    char early[4096];
    for (;;) {
      auto r =
          ossl::io::retry(ssl, left(), [&] { return ssl.read_early_data(std::span<char>(early)); });
      if (!r) {
        std::fprintf(stderr, "tls_server: handshake failed: %s\n", r.error().to_string().c_str());
        return;
      }
      request.append(early, r->size);
      if (r->finished) break;
    }
  }
  const std::size_t early_bytes = request.size();
  if (auto r = ossl::io::handshake(ssl, left()); !r) {
    std::fprintf(stderr, "tls_server: handshake failed: %s\n", r.error().to_string().c_str());
    return;
  }
  char buf[4096];
  while (head_end(request) == std::string::npos && request.size() < 16384) {
    // A client's close_notify is answered with ours inside read_some (so its session
    // stays resumable); a timeout or truncation just ends the connection.
    auto n = ossl::io::read_some(ssl, std::span<char>(buf), left());
    if (!n) return;
    request.append(buf, *n);
  }
  if (head_end(request) == std::string::npos) return;  // over 16 KiB of head
  // RFC 8470: a request that came (partly) as early data and is not safe to repeat is
  // answered 425 Too Early; the client sends it again after the handshake.
  const bool safe = request.rfind("GET ", 0) == 0 || request.rfind("HEAD ", 0) == 0;
  const bool too_early = early_bytes > 0 && !safe;
  const std::string body = too_early ? "too early\n" : describe(ssl, early_bytes);
  const std::string response =
      std::string(too_early ? "HTTP/1.1 425 Too Early" : "HTTP/1.1 200 OK") +
      "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nConnection: close\r\n\r\n" + body;
  if (auto r = ossl::io::write_all(ssl, response, left()); !r) return;
  (void)ossl::io::shutdown(ssl, std::min<ossl::io::Timeout>(left(), 1s));
  std::fprintf(stderr, "tls_server: %s", body.c_str());
}

void serve(const ossl::ReloadableCtx& ctx, ossl::io::Socket fd, ossl::io::Timeout timeout) {
  answer(ctx, fd.get(), timeout);
  // Not a plain close: the client may still be sending (a request body we did not read),
  // and closing with unread data makes the kernel reset the connection, response and all.
  ossl::io::lingering_close(fd.release());
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  if (o.max_connections == 0) o.max_connections = 256;
  Served served;
  // Shared by every connection thread; SIGHUP replaces what it holds.
  ossl::ReloadableCtx ctx(startup_context(o, served));

  if (::pipe2(g_signal_pipe, O_CLOEXEC) != 0) fail("pipe");
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGHUP, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto listening = ossl::io::listen(o.host, static_cast<std::uint16_t>(o.port));
  if (!listening) fail(listening.error().to_string());
  const ossl::io::Listener& listener = *listening;
  std::printf("listening on %s:%u\n", o.host.c_str(), listener.port);
  std::fflush(stdout);

  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<Worker> workers;
  const ossl::io::Timeout timeout = std::chrono::seconds(o.timeout_s);
  for (;;) {
    // At the cap, the listener is not polled: new clients wait in the backlog.
    const bool at_cap = workers.size() >= static_cast<std::size_t>(o.max_connections);
    pollfd fds[2] = {{g_signal_pipe[0], POLLIN, 0}, {listener.socket.get(), POLLIN, 0}};
    if (::poll(fds, at_cap ? 1 : 2, at_cap ? 50 : 1000) < 0 && errno != EINTR) fail("poll failed");
    if ((fds[0].revents & POLLIN) != 0) {
      char signals[16];
      const ssize_t n = std::max<ssize_t>(::read(g_signal_pipe[0], signals, sizeof signals), 0);
      const std::string_view got(signals, static_cast<std::size_t>(n));
      if (got.find('s') != std::string_view::npos) break;                   // SIGINT/SIGTERM
      if (got.find('h') != std::string_view::npos) reload(o, served, ctx);  // SIGHUP
    }
    if (!at_cap && (fds[1].revents & POLLIN) != 0) {
      // Zero: take the connection poll saw, without waiting (it may be gone already).
      auto accepted = ossl::io::accept(listener, ossl::io::Timeout::zero());
      if (accepted) {
        ossl::io::Socket client = std::move(*accepted);
        auto done = std::make_shared<std::atomic<bool>>(false);
        workers.push_back({std::thread([&ctx, done, timeout, fd = std::move(client)]() mutable {
                             serve(ctx, std::move(fd), timeout);
                             *done = true;
                           }),
                           done});
      }
    }
    std::erase_if(workers, [](Worker& w) {  // reap finished connections
      if (!*w.done) return false;
      w.thread.join();
      return true;
    });
  }
  for (auto& w : workers)
    w.thread.join();
  std::fprintf(stderr, "tls_server: shut down cleanly\n");
  return 0;
}
