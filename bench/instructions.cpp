// Instruction counts, the noise-free figure on a shared machine: the same cases as
// bench/main.cpp (raw OpenSSL and ossl doing the same work), each in a function of its
// own that scripts/bench-instructions has callgrind count (--toggle-collect), so the
// table compares raw against ossl per connection and per record exchange.
#include "cases.hpp"

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <vector>

namespace {

constexpr int kConnections = 10;
constexpr int kExchanges = 200;

// One function per measured case; noinline keeps each a callgrind entry point.
#define OSSL_BENCH_CASE(name) extern "C" __attribute__((noinline)) void name

OSSL_BENCH_CASE(raw_full)(const bench::RawContexts& c) {
  for (int i = 0; i < kConnections; ++i)
    if (!bench::raw_connection(c, nullptr, nullptr)) std::abort();
}
OSSL_BENCH_CASE(ossl_full)(const bench::OsslContexts& c) {
  for (int i = 0; i < kConnections; ++i)
    if (!bench::ossl_connection(c, nullptr, nullptr)) std::abort();
}
OSSL_BENCH_CASE(raw_resumed)(const bench::RawContexts& c, SSL_SESSION* s) {
  for (int i = 0; i < kConnections; ++i)
    if (!bench::raw_connection(c, s, nullptr)) std::abort();
}
OSSL_BENCH_CASE(ossl_resumed)(const bench::OsslContexts& c, const ossl::SslSession* s) {
  for (int i = 0; i < kConnections; ++i)
    if (!bench::ossl_connection(c, s, nullptr)) std::abort();
}
OSSL_BENCH_CASE(raw_records)(bench::RawPair& p, std::vector<unsigned char>& data) {
  std::vector<unsigned char> buf(16384);
  for (int i = 0; i < kExchanges; ++i)
    if (!bench::raw_exchange(p, data.data(), 64, buf.data(), buf.size())) std::abort();
}
OSSL_BENCH_CASE(ossl_records)(bench::OsslPair& p, std::vector<unsigned char>& data) {
  std::vector<std::byte> buf(16384);
  for (int i = 0; i < kExchanges; ++i) {
    if (!bench::ossl_exchange(p, std::as_bytes(std::span(data.data(), 64)), buf)) std::abort();
  }
}

}  // namespace

// Usage: instructions tls12|tls13. Runs every case once (warm-up), then once measured.
int main(int argc, char** argv) {
  const bool tls12 = argc > 1 && std::string_view(argv[1]) == "tls12";
  const bench::Setup s =
      bench::make_setup(tls12 ? ossl::TlsVersion::Tls12 : ossl::TlsVersion::Tls13);
  bench::RawContexts raw;
  if (!bench::raw_contexts(s, raw)) return 1;
  auto ossl_ctx = bench::ossl_contexts(s);
  if (!ossl_ctx) return 1;
  SSL_SESSION* raw_session = nullptr;
  std::optional<ossl::SslSession> ossl_session;
  if (!bench::raw_connection(raw, nullptr, &raw_session) ||
      !bench::ossl_connection(*ossl_ctx, nullptr, &ossl_session) || !ossl_session) {
    return 1;
  }
  bench::RawPair raw_pair;
  if (!bench::raw_connect(raw, raw_pair)) return 1;
  auto ossl_pair = bench::ossl_connect(*ossl_ctx);
  if (!ossl_pair) return 1;
  std::vector<unsigned char> data(16384, 0x42);
  for (int round = 0; round < 2; ++round) {  // the second round is the one to read
    raw_full(raw);
    ossl_full(*ossl_ctx);
    raw_resumed(raw, raw_session);
    ossl_resumed(*ossl_ctx, &*ossl_session);
    raw_records(raw_pair, data);
    ossl_records(*ossl_pair, data);
  }
  SSL_SESSION_free(raw_session);
  std::puts("done");
  return 0;
}
