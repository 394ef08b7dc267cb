// Shared by the fuzz targets: contexts made once per process from a generated PKI.
#pragma once

#include <ossl/ossl.hpp>
#include <ossl/testing/certs.hpp>

#include <openssl/err.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>

namespace fuzz {

struct World {
  ossl::testing::TestCa root;
  ossl::testing::Identity server;
  ossl::SslCtx server_ctx;      // TLS 1.2-1.3, ALPN h2/http/1.1
  ossl::SslCtx client_ctx;      // verifies against root
  ossl::SslCtx client_ctx_lax;  // danger_accept_invalid_certs: reaches later states
};

inline const World& world() {
  static const World* w = [] {
    auto root = ossl::testing::TestCa::create_root("fuzz root").value();
    ossl::testing::LeafSpec spec;
    spec.dns_names = {"localhost"};
    auto id = root.issue(spec).value();
    auto server = ossl::SslCtxBuilder<ossl::Server>::create()
                      .certificate(id.cert)
                      .private_key(id.key)
                      .alpn_protos_list({"h2", "http/1.1"})
                      .alpn_on_mismatch(ossl::AlpnMismatch::Continue)
                      .build()
                      .value();
    auto client = ossl::SslCtxBuilder<ossl::Client>::create()
                      .ca_cert(root.cert())
                      .alpn_protos_list({"h2", "http/1.1"})
                      .build()
                      .value();
    auto lax =
        ossl::SslCtxBuilder<ossl::Client>::create().danger_accept_invalid_certs().build().value();
    return new World{std::move(root), std::move(id), std::move(server), std::move(client),
                     std::move(lax)};
  }();
  return *w;
}

/// A client context like World::client_ctx that feeds a ClientSessionCache: the
/// session_file target loads into it, make_corpus saves from one.
struct CachedClient {
  std::shared_ptr<ossl::ClientSessionCache> cache;
  ossl::SslCtx ctx;
};

inline CachedClient& cached_client() {
  static CachedClient* c = [] {
    auto cache = std::make_shared<ossl::ClientSessionCache>(8, 4);
    auto ctx = ossl::SslCtxBuilder<ossl::Client>::create()
                   .ca_cert(world().root.cert())
                   .alpn_protos_list({"h2", "http/1.1"})
                   .client_session_cache(cache)
                   .build()
                   .value();
    return new CachedClient{std::move(cache), std::move(ctx)};
  }();
  return *c;
}

inline std::span<const std::byte> bytes(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const std::byte*>(data), size};
}

/// A property the target checks: a violation aborts, which libFuzzer reports as a crash.
inline void require(bool ok) {
  if (!ok) std::abort();
}

}  // namespace fuzz
