#include <ossl/tls.hpp>  // first: proves the header is self-contained

#include <doctest/doctest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

using namespace ossl;

static_assert(static_cast<int>(TlsVersion::Tls12) == TLS1_2_VERSION);
static_assert(static_cast<int>(TlsVersion::Tls13) == TLS1_3_VERSION);

TEST_CASE("verify modes combine with | like the reference's .or()") {
  struct Case {
    SslVerifyMode mode;
    int bits;
  };
  for (auto c :
       {Case{SslVerifyMode::NONE, SSL_VERIFY_NONE}, Case{SslVerifyMode::PEER, SSL_VERIFY_PEER},
        Case{SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT,
             SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT},
        Case{SslVerifyMode::PEER | SslVerifyMode::CLIENT_ONCE | SslVerifyMode::POST_HANDSHAKE,
             SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE | SSL_VERIFY_POST_HANDSHAKE}}) {
    CHECK(c.mode.bits() == c.bits);
  }
  CHECK((SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT).contains(SslVerifyMode::PEER));
  CHECK_FALSE(SslVerifyMode::PEER.contains(SslVerifyMode::FAIL_IF_NO_PEER_CERT));
}

TEST_CASE("versions print as OpenSSL names them") {
  CHECK(to_string(TlsVersion::Tls12) == "TLSv1.2");
  CHECK(to_string(TlsVersion::Tls13) == "TLSv1.3");
  CHECK(to_string(static_cast<TlsVersion>(0x0302)) == "unknown (0x0302)");
}

TEST_CASE("SslIoError kinds: retry, clean close and truncation are told apart") {
  CHECK(SslIoError(SslIoError::Kind::WantRead).would_block());
  CHECK(SslIoError(SslIoError::Kind::WantWrite).would_block());
  CHECK_FALSE(SslIoError(SslIoError::Kind::ZeroReturn).would_block());
  CHECK_FALSE(SslIoError(SslIoError::Kind::ZeroReturn).truncated());

  ERR_raise(ERR_LIB_SSL, SSL_R_UNEXPECTED_EOF_WHILE_READING);
  SslIoError eof(SslIoError::Kind::Ssl, ErrorStack::drain());
  CHECK(eof.truncated());
  CHECK(eof.to_string().find("truncated") != std::string::npos);

  ERR_raise(ERR_LIB_SSL, SSL_R_BAD_LENGTH);
  SslIoError other(SslIoError::Kind::Ssl, ErrorStack::drain());
  CHECK_FALSE(other.truncated());
  CHECK(other == SslIoError::Kind::Ssl);
  CHECK(to_error_stack(SslIoError(SslIoError::Kind::WantRead)).to_string().find("WantRead") !=
        std::string::npos);
}

TEST_CASE("session cache modes are the SSL_SESS_CACHE bits") {
  CHECK(SessionCacheMode::OFF.bits() == SSL_SESS_CACHE_OFF);
  CHECK((SessionCacheMode::CLIENT | SessionCacheMode::SERVER) == SessionCacheMode::BOTH);
  CHECK((SessionCacheMode::NO_INTERNAL_LOOKUP | SessionCacheMode::NO_INTERNAL_STORE) ==
        SessionCacheMode::NO_INTERNAL);
}
