// nonblocking_client: the poll() loop of a non-blocking TLS client, written out, with
// every outcome printed. ossl::io::handshake/write_all/read_to_end do the same loops.
//
//   nonblocking_client HOST PORT [--cafile FILE]

#include <ossl/ossl.hpp>

#include <poll.h>

#include <cstdio>
#include <string>

namespace {

// Waits for what OpenSSL asked for. Returns false on timeout.
bool wait_for(int fd, const ossl::SslIoError& e) {
  const bool reading = e == ossl::SslIoError::Kind::WantRead;
  std::printf("  -> %s: poll(%s)\n", reading ? "WantRead" : "WantWrite",
              reading ? "readable" : "writable");
  pollfd p{fd, static_cast<short>(reading ? POLLIN : POLLOUT), 0};
  return ::poll(&p, 1, 10000) == 1;
}

int fail(const std::string& what) {
  std::fprintf(stderr, "nonblocking_client: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 && !(argc == 5 && std::string(argv[3]) == "--cafile")) {
    return fail("usage: nonblocking_client HOST PORT [--cafile FILE]");
  }
  const std::string host = argv[1];
  const auto port = static_cast<std::uint16_t>(std::stoi(argv[2]));
  auto builder = ossl::SslCtxBuilder<ossl::Client>::create().alpn_protos_list({"http/1.1"});
  if (argc == 5) builder.ca_bundle_file(argv[4]);
  auto ctx = std::move(builder).build();
  if (!ctx) return fail(ctx.error().to_string());

  auto fd = ossl::io::connect(host, port, std::chrono::seconds(10));  // non-blocking
  if (!fd) return fail(fd.error().to_string());
  auto ssl = ctx->new_ssl_for_host(host);
  if (!ssl) return fail(ssl.error().to_string());
  if (auto r = ssl->set_fd(fd->get()); !r) return fail(r.error().to_string());

  std::printf("handshake\n");
  for (;;) {
    auto r = ssl->do_handshake();
    if (r) break;
    if (!r.error().would_block()) return fail(r.error().to_string());
    if (!wait_for(fd->get(), r.error())) return fail("timed out");
  }
  std::printf("  done: %s %.*s\n", ossl::to_string(ssl->version()).c_str(),
              static_cast<int>(ssl->cipher_name().size()), ssl->cipher_name().data());

  std::printf("write\n");
  const std::string request = "GET / HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
  for (;;) {
    auto r = ssl->write(request);  // after WantWrite: the same bytes again
    if (r) break;
    if (!r.error().would_block()) return fail(r.error().to_string());
    if (!wait_for(fd->get(), r.error())) return fail("timed out");
  }

  std::printf("read\n");
  std::string response;
  char buf[4096];
  for (;;) {
    auto r = ssl->read(buf);
    if (r) {
      response.append(buf, *r);
      continue;
    }
    if (r.error() == ossl::SslIoError::Kind::ZeroReturn) break;  // clean close_notify
    if (r.error().truncated()) {
      std::printf("  -> closed without close_notify: the response may be truncated\n");
      break;
    }
    if (!r.error().would_block()) return fail(r.error().to_string());
    if (!wait_for(fd->get(), r.error())) return fail("timed out");
  }
  std::printf("  %zu bytes; first line: %s\n", response.size(),
              response.substr(0, response.find("\r\n")).c_str());
  (void)ssl->shutdown();
  return 0;
}
