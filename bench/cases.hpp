// Benchmark cases, each written twice: once with raw OpenSSL calls, once with ossl,
// doing exactly the same work (same certificates, versions, groups, buffer sizes,
// verification on, hostname checked). Shared by bench/main.cpp and tests/alloc_test.cpp.
#pragma once

#include <ossl/ossl.hpp>
#include <ossl/testing/certs.hpp>

#include <openssl/ssl.h>

#include <cstddef>
#include <optional>
#include <string>

namespace bench {

/// Certificates (ECDSA P-256 root and leaf for "localhost") and the version pinned.
struct Setup {
  ossl::TlsVersion version;
  ossl::testing::TestCa root;
  ossl::testing::Identity server;
};
Setup make_setup(ossl::TlsVersion version);

// ------------------------------------------------------------------- raw OpenSSL

struct RawContexts {
  SSL_CTX* client = nullptr;
  SSL_CTX* server = nullptr;
  RawContexts() = default;
  RawContexts(const RawContexts&) = delete;
  RawContexts& operator=(const RawContexts&) = delete;
  ~RawContexts();
};
/// Builds both contexts with raw calls; returns false on any failure.
bool raw_contexts(const Setup& s, RawContexts& out);

struct RawPair {
  SSL* client = nullptr;
  SSL* server = nullptr;
  RawPair() = default;
  RawPair(const RawPair&) = delete;
  RawPair& operator=(const RawPair&) = delete;
  ~RawPair();
};
/// New client+server over a BIO pair, handshaken (TLS 1.3: tickets read).
bool raw_connect(const RawContexts& ctx, RawPair& out, SSL_SESSION* resume = nullptr);
/// A whole connection: new SSLs, BIO pair, handshake (offering `resume` if given),
/// ticket read, shutdown, free. Stores the client session in *session_out if asked.
bool raw_connection(const RawContexts& ctx, SSL_SESSION* resume, SSL_SESSION** session_out);
/// One client write of `len` bytes and the server reads that drain it.
bool raw_exchange(RawPair& p, const unsigned char* data, std::size_t len, unsigned char* buf,
                  std::size_t buf_len);

// ------------------------------------------------------------------------- ossl

struct OsslContexts {
  ossl::SslCtx client;
  ossl::SslCtx server;
};
ossl::Result<OsslContexts> ossl_contexts(const Setup& s);

struct OsslPair {
  ossl::Ssl client;
  ossl::Ssl server;
};
ossl::Result<OsslPair> ossl_connect(const OsslContexts& ctx,
                                    const ossl::SslSession* resume = nullptr);
bool ossl_connection(const OsslContexts& ctx, const ossl::SslSession* resume,
                     std::optional<ossl::SslSession>* session_out);
bool ossl_exchange(OsslPair& p, std::span<const std::byte> data, std::span<std::byte> buf);

}  // namespace bench
