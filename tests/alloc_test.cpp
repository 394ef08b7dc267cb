// Exact allocation counts: ossl must allocate exactly what raw OpenSSL allocates for
// the same work, per read/write and per connection: OpenSSL's allocations (counted
// through CRYPTO_set_mem_functions) equal, and no C++ heap allocation at all.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "alloc_counter.hpp"
#include "cases.hpp"

#include <cstdio>
#include <vector>

namespace {

using bench::alloc::Counts;

struct Delta {
  long long openssl;
  long long cxx;
};

template <class F>
Delta count(F&& f) {
  const Counts a = bench::alloc::now();
  f();
  const Counts b = bench::alloc::now();
  return {static_cast<long long>(b.openssl - a.openssl), static_cast<long long>(b.cxx - a.cxx)};
}

constexpr ossl::TlsVersion kVersions[] = {ossl::TlsVersion::Tls12, ossl::TlsVersion::Tls13};

}  // namespace

TEST_CASE("per read and write, ossl allocates exactly what raw OpenSSL does, and no C++ heap") {
  for (ossl::TlsVersion v : kVersions) {
    CAPTURE(ossl::to_string(v));
    const bench::Setup s = bench::make_setup(v);
    bench::RawContexts raw_ctx;
    REQUIRE(bench::raw_contexts(s, raw_ctx));
    auto ossl_ctx = bench::ossl_contexts(s).value();
    bench::RawPair raw;
    REQUIRE(bench::raw_connect(raw_ctx, raw));
    auto ossl_pair = bench::ossl_connect(ossl_ctx).value();

    std::vector<unsigned char> data(16384, 0x42), buf(16384);
    for (std::size_t size : {std::size_t{64}, std::size_t{1024}, std::size_t{16384}}) {
      CAPTURE(size);
      auto raw_op = [&] {
        REQUIRE(bench::raw_exchange(raw, data.data(), size, buf.data(), buf.size()));
      };
      auto ossl_op = [&] {
        REQUIRE(bench::ossl_exchange(ossl_pair, std::as_bytes(std::span(data.data(), size)),
                                     std::as_writable_bytes(std::span(buf))));
      };
      for (int i = 0; i < 5; ++i) {  // warm up: first records allocate the buffers
        raw_op();
        ossl_op();
      }
      const Delta r = count([&] {
        for (int i = 0; i < 100; ++i)
          raw_op();
      });
      const Delta o = count([&] {
        for (int i = 0; i < 100; ++i)
          ossl_op();
      });
      MESSAGE("100 exchanges: raw OpenSSL allocs " << r.openssl << ", ossl " << o.openssl);
      CHECK(o.openssl == r.openssl);
      CHECK(r.cxx == 0);
      CHECK(o.cxx == 0);
    }
  }
}

TEST_CASE("per connection, full and resumed, ossl allocates exactly what raw OpenSSL does") {
  for (ossl::TlsVersion v : kVersions) {
    CAPTURE(ossl::to_string(v));
    const bench::Setup s = bench::make_setup(v);
    bench::RawContexts raw_ctx;
    REQUIRE(bench::raw_contexts(s, raw_ctx));
    auto ossl_ctx = bench::ossl_contexts(s).value();
    SSL_SESSION* raw_session = nullptr;
    std::optional<ossl::SslSession> ossl_session;
    REQUIRE(bench::raw_connection(raw_ctx, nullptr, &raw_session));
    REQUIRE(bench::ossl_connection(ossl_ctx, nullptr, &ossl_session));
    REQUIRE(ossl_session);

    struct Kind {
      const char* name;
      SSL_SESSION* raw;
      const ossl::SslSession* ossl;
    };
    for (const Kind& k :
         {Kind{"full handshake", nullptr, nullptr}, Kind{"resumed", raw_session, &*ossl_session}}) {
      CAPTURE(k.name);
      for (int i = 0; i < 2; ++i) {  // warm up caches on both sides
        REQUIRE(bench::raw_connection(raw_ctx, k.raw, nullptr));
        REQUIRE(bench::ossl_connection(ossl_ctx, k.ossl, nullptr));
      }
      // Handshakes draw random numbers whose size can change a bignum allocation now
      // and then, so compare the fewest allocations seen over several connections.
      long long raw_min = -1, ossl_min = -1, ossl_cxx_max = 0;
      for (int i = 0; i < 8; ++i) {
        const Delta r = count([&] { REQUIRE(bench::raw_connection(raw_ctx, k.raw, nullptr)); });
        const Delta o = count([&] { REQUIRE(bench::ossl_connection(ossl_ctx, k.ossl, nullptr)); });
        raw_min = raw_min < 0 ? r.openssl : std::min(raw_min, r.openssl);
        ossl_min = ossl_min < 0 ? o.openssl : std::min(ossl_min, o.openssl);
        ossl_cxx_max = std::max(ossl_cxx_max, o.cxx);
      }
      MESSAGE("per connection: raw OpenSSL allocs " << raw_min << ", ossl " << ossl_min);
      CHECK(ossl_min == raw_min);
      CHECK(ossl_cxx_max == 0);
    }
    SSL_SESSION_free(raw_session);
  }
}

int main(int argc, char** argv) {
  // Before anything allocates through OpenSSL.
  if (!bench::alloc::install_openssl_hooks()) {
    std::fprintf(stderr, "alloc_test: OpenSSL allocated before main; cannot count\n");
    return 1;
  }
  doctest::Context context(argc, argv);
  return context.run();
}
