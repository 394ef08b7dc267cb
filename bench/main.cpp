// ossl benchmark: every case as raw OpenSSL and as ossl, the same work, measured in
// alternating batches (raw, ossl, raw, ossl, ...) so that machine drift cancels.
//
//   bench [--quick] [--pairs N] [--json FILE]
//
// Per case: median ns/op of raw and of ossl, the median of the per-pair ratios
// ossl/raw with its min and max, and allocations per op (OpenSSL's, C++ heap's).
#include "alloc_counter.hpp"
#include "cases.hpp"
#include "stats.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Sample {
  double ns_per_op = 0;
  double openssl_allocs = 0;  // per op
  double cxx_allocs = 0;      // per op
};

struct Impl {
  std::function<bool(long)> run;  // runs `ops` operations; false on failure
};

struct Case {
  std::string name;
  long ops;             // per batch
  double bytes_per_op;  // for throughput, 0 if not meaningful
  Impl raw;
  Impl ossl;
};

struct Report {
  std::string name;
  double raw_median, ossl_median, ratio_median, ratio_min, ratio_max;
  Sample raw_allocs, ossl_allocs;
  double bytes_per_op;
  long ops_per_batch;
  int pairs;
};

Sample measure(const Impl& impl, long ops, const std::string& name) {
  const auto before = bench::alloc::now();
  const auto t0 = Clock::now();
  if (!impl.run(ops)) {
    std::fprintf(stderr, "bench: case \"%s\" failed\n", name.c_str());
    std::exit(1);
  }
  const auto t1 = Clock::now();
  const auto after = bench::alloc::now();
  const double n = static_cast<double>(ops);
  return {std::chrono::duration<double, std::nano>(t1 - t0).count() / n,
          static_cast<double>(after.openssl - before.openssl) / n,
          static_cast<double>(after.cxx - before.cxx) / n};
}

using bench::median;

Report run_case(const Case& c, int pairs) {
  measure(c.raw, std::max(1L, c.ops / 4), c.name);  // warm-up, untimed
  measure(c.ossl, std::max(1L, c.ops / 4), c.name);
  std::vector<double> raw, ossl, ratio;
  Sample raw_allocs, ossl_allocs;
  for (int i = 0; i < pairs; ++i) {
    const Sample r = measure(c.raw, c.ops, c.name);
    const Sample o = measure(c.ossl, c.ops, c.name);
    raw.push_back(r.ns_per_op);
    ossl.push_back(o.ns_per_op);
    ratio.push_back(o.ns_per_op / r.ns_per_op);
    raw_allocs = r;  // allocation counts are deterministic per op; keep the last
    ossl_allocs = o;
  }
  return {c.name,
          median(raw),
          median(ossl),
          median(ratio),
          *std::min_element(ratio.begin(), ratio.end()),
          *std::max_element(ratio.begin(), ratio.end()),
          raw_allocs,
          ossl_allocs,
          c.bytes_per_op,
          c.ops,
          pairs};
}

using bench::human_ns;

std::vector<Case> make_cases(const bench::Setup& s, bool quick) {
  const std::string v = ossl::to_string(s.version);
  auto raw_ctx = std::make_shared<bench::RawContexts>();
  if (!bench::raw_contexts(s, *raw_ctx)) {
    std::fprintf(stderr, "bench: raw contexts failed\n");
    std::exit(1);
  }
  auto ossl_ctx = std::make_shared<bench::OsslContexts>(bench::ossl_contexts(s).value());

  // Established connections for the record cases, one per implementation.
  auto raw_pair = std::make_shared<bench::RawPair>();
  auto ossl_pair = std::make_shared<bench::OsslPair>(bench::ossl_connect(*ossl_ctx).value());
  if (!bench::raw_connect(*raw_ctx, *raw_pair)) std::exit(1);

  // A session of each side to resume from.
  SSL_SESSION* raw_session_ptr = nullptr;
  std::optional<ossl::SslSession> ossl_session;
  if (!bench::raw_connection(*raw_ctx, nullptr, &raw_session_ptr) ||
      !bench::ossl_connection(*ossl_ctx, nullptr, &ossl_session) || !ossl_session) {
    std::fprintf(stderr, "bench: first connection failed\n");
    std::exit(1);
  }
  auto raw_session = std::shared_ptr<SSL_SESSION>(raw_session_ptr, SSL_SESSION_free);
  auto ossl_sess = std::make_shared<ossl::SslSession>(*ossl_session);

  auto buffers = std::make_shared<std::vector<unsigned char>>(2 * 16384, 0x5a);
  auto record = [=](std::size_t size) {
    return Case{
        v + " record " +
            (size >= 1024 ? std::to_string(size / 1024) + " KiB" : std::to_string(size) + " B"),
        quick ? (size > 4096 ? 2000L : 20000L) : (size > 4096 ? 4400L : 200000L),
        static_cast<double>(size),
        {[=](long ops) {
          unsigned char* data = buffers->data();
          unsigned char* buf = buffers->data() + 16384;
          for (long i = 0; i < ops; ++i) {
            if (!bench::raw_exchange(*raw_pair, data, size, buf, 16384)) return false;
          }
          return true;
        }},
        {[=](long ops) {
          auto data = std::as_bytes(std::span(buffers->data(), size));
          auto buf = std::as_writable_bytes(std::span(buffers->data() + 16384, 16384));
          for (long i = 0; i < ops; ++i) {
            if (!bench::ossl_exchange(*ossl_pair, data, buf)) return false;
          }
          return true;
        }}};
  };

  std::vector<Case> cases;
  cases.push_back(record(64));
  cases.push_back(record(1024));
  cases.push_back(record(16384));
  cases.push_back(Case{v + " resumed connection",
                       quick ? 100L : 400L,
                       0,
                       {[=](long ops) {
                         for (long i = 0; i < ops; ++i) {
                           if (!bench::raw_connection(*raw_ctx, raw_session.get(), nullptr))
                             return false;
                         }
                         return true;
                       }},
                       {[=](long ops) {
                         for (long i = 0; i < ops; ++i) {
                           if (!bench::ossl_connection(*ossl_ctx, ossl_sess.get(), nullptr))
                             return false;
                         }
                         return true;
                       }}});
  cases.push_back(Case{v + " full handshake connection",
                       quick ? 30L : 120L,
                       0,
                       {[=](long ops) {
                         for (long i = 0; i < ops; ++i) {
                           if (!bench::raw_connection(*raw_ctx, nullptr, nullptr)) return false;
                         }
                         return true;
                       }},
                       {[=](long ops) {
                         for (long i = 0; i < ops; ++i) {
                           if (!bench::ossl_connection(*ossl_ctx, nullptr, nullptr)) return false;
                         }
                         return true;
                       }}});
  return cases;
}

Case context_case(const bench::Setup& s, bool quick) {
  return Case{"build client+server contexts",
              quick ? 300L : 1500L,
              0,
              {[&s](long ops) {
                for (long i = 0; i < ops; ++i) {
                  bench::RawContexts ctx;
                  if (!bench::raw_contexts(s, ctx)) return false;
                }
                return true;
              }},
              {[&s](long ops) {
                for (long i = 0; i < ops; ++i) {
                  if (!bench::ossl_contexts(s)) return false;
                }
                return true;
              }}};
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

}  // namespace

int main(int argc, char** argv) {
  // Before anything allocates through OpenSSL.
  if (!bench::alloc::install_openssl_hooks()) {
    std::fprintf(stderr, "bench: could not install OpenSSL allocation hooks\n");
    return 1;
  }
  bool quick = false;
  int pairs = 0;
  std::string json_path = "bench-results.json";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") {
      quick = true;
    } else if (a == "--pairs" && i + 1 < argc) {
      pairs = std::atoi(argv[++i]);
    } else if (a == "--json" && i + 1 < argc) {
      json_path = argv[++i];
    } else {
      std::fprintf(stderr, "usage: bench [--quick] [--pairs N] [--json FILE]\n");
      return 1;
    }
  }
  if (pairs < 10) pairs = quick ? 10 : 15;

  std::printf("ossl %.*s benchmark, %s mode, %d alternating pairs per case\n",
              static_cast<int>(ossl::version().size()), ossl::version().data(),
              quick ? "quick" : "full", pairs);
  std::printf("%s; CPU: %s\n\n", OpenSSL_version(OPENSSL_VERSION), cpu_model().c_str());
  std::printf("%-34s %11s %11s %8s %17s %15s %15s\n", "case", "raw", "ossl", "ratio",
              "ratio [min, max]", "OpenSSL allocs", "C++ allocs");

  std::vector<Report> reports;
  auto run_and_print = [&](const Case& c) {
    const Report r = run_case(c, pairs);
    std::printf("%-34s %11s %11s %8.3f   [%5.3f, %5.3f] %6.1f -> %-6.1f %6.1f -> %-6.1f\n",
                r.name.c_str(), human_ns(r.raw_median).c_str(), human_ns(r.ossl_median).c_str(),
                r.ratio_median, r.ratio_min, r.ratio_max, r.raw_allocs.openssl_allocs,
                r.ossl_allocs.openssl_allocs, r.raw_allocs.cxx_allocs, r.ossl_allocs.cxx_allocs);
    std::fflush(stdout);
    reports.push_back(r);
  };
  for (ossl::TlsVersion v : {ossl::TlsVersion::Tls13, ossl::TlsVersion::Tls12}) {
    const bench::Setup setup = bench::make_setup(v);
    for (const Case& c : make_cases(setup, quick))
      run_and_print(c);
  }
  const bench::Setup setup = bench::make_setup(ossl::TlsVersion::Tls13);
  run_and_print(context_case(setup, quick));

  std::ofstream json(json_path);
  json << "{\n  \"mode\": \"" << (quick ? "quick" : "full") << "\",\n  \"pairs\": " << pairs
       << ",\n  \"openssl\": \"" << OpenSSL_version(OPENSSL_VERSION) << "\",\n  \"cpu\": \""
       << cpu_model() << "\",\n  \"cases\": [\n";
  for (std::size_t i = 0; i < reports.size(); ++i) {
    const Report& r = reports[i];
    json << "    {\"name\": \"" << r.name << "\", \"ops_per_batch\": " << r.ops_per_batch
         << ", \"raw_ns_median\": " << r.raw_median << ", \"ossl_ns_median\": " << r.ossl_median
         << ", \"ratio_median\": " << r.ratio_median << ", \"ratio_min\": " << r.ratio_min
         << ", \"ratio_max\": " << r.ratio_max
         << ", \"raw_openssl_allocs_per_op\": " << r.raw_allocs.openssl_allocs
         << ", \"ossl_openssl_allocs_per_op\": " << r.ossl_allocs.openssl_allocs
         << ", \"raw_cxx_allocs_per_op\": " << r.raw_allocs.cxx_allocs
         << ", \"ossl_cxx_allocs_per_op\": " << r.ossl_allocs.cxx_allocs
         << ", \"bytes_per_op\": " << r.bytes_per_op << "}" << (i + 1 < reports.size() ? "," : "")
         << "\n";
  }
  json << "  ]\n}\n";
  std::printf("\nJSON: %s\n", json_path.c_str());
  return 0;
}
