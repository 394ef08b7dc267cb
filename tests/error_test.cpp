#include <ossl/error.hpp>  // first: proves the header is self-contained

#include "support/handshake.hpp"

#include <doctest/doctest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <string>

using namespace ossl;

TEST_CASE("drain empties the queue and keeps every record with its details") {
  ERR_raise_data(ERR_LIB_SSL, SSL_R_NO_CIPHER_MATCH, "first %d", 1);
  ERR_raise(ERR_LIB_X509, X509_R_KEY_VALUES_MISMATCH);
  ErrorStack stack = ErrorStack::drain();
  CHECK(ERR_peek_error() == 0);
  REQUIRE(stack.size() == 2);
  const ErrorRecord& first = stack.records()[0];
  CHECK(first.lib() == ERR_LIB_SSL);
  CHECK(first.reason_code() == SSL_R_NO_CIPHER_MATCH);
  CHECK(first.library == "SSL routines");
  CHECK(first.reason == "no cipher match");
  CHECK(first.data == "first 1");
  CHECK(first.file.find("error_test.cpp") != std::string::npos);
  CHECK(first.line > 0);
  CHECK_FALSE(first.function.empty());
  CHECK(stack.contains(ERR_LIB_X509, X509_R_KEY_VALUES_MISMATCH));
  CHECK_FALSE(stack.contains(ERR_LIB_SSL, SSL_R_BAD_LENGTH));
  int n = 0;
  for (const ErrorRecord& r : stack)
    n += r.code != 0 ? 1 : 0;
  CHECK(n == 2);
}

TEST_CASE("an empty queue drains to an empty stack") {
  ErrorStack stack = ErrorStack::drain();
  CHECK(stack.empty());
  CHECK(stack.to_string() == "no error");
}

TEST_CASE("ossl's own errors are records too, after anything OpenSSL queued") {
  ERR_raise(ERR_LIB_SSL, SSL_R_BAD_LENGTH);
  ErrorStack stack = ErrorStack::message("Thing::call: went wrong");
  CHECK(ERR_peek_error() == 0);
  REQUIRE(stack.size() == 2);
  CHECK(stack.records()[1].code == 0);
  CHECK(stack.records()[1].library == "ossl");
  CHECK(stack.to_string().find("ossl: Thing::call: went wrong") != std::string::npos);
}

TEST_CASE("context names the failing operation and nests outward") {
  ErrorStack stack = ErrorStack::message("inner detail");
  stack.with_context("SslCtx::set_cipher_list");
  stack.with_context("builder step cipher_list");
  CHECK(stack.context() == "builder step cipher_list: SslCtx::set_cipher_list");
  CHECK(stack.to_string() ==
        "builder step cipher_list: SslCtx::set_cipher_list: ossl: inner detail");
}

TEST_CASE("Error carries the stack and formats what()") {
  ErrorStack stack = ErrorStack::message("boom");
  Error e(stack);
  CHECK(std::string(e.what()) == "ossl: boom");
  CHECK(e.stack().size() == 1);
}

TEST_CASE("a summary heads the stack; the records stay behind it") {
  ERR_raise_data(ERR_LIB_SSL, SSL_R_UNSUPPORTED_PROTOCOL, "raw detail");
  ErrorStack s = ErrorStack::drain().with_context("Ssl::connect");
  CHECK(s.headline() == "unsupported protocol (raw detail)");  // no summary: the last reason
  s.set_summary("no TLS version in common");
  CHECK(s.summary() == "no TLS version in common");
  CHECK(s.headline() == "no TLS version in common");
  const std::string text = s.to_string();
  CHECK(text.rfind("Ssl::connect: no TLS version in common (SSL routines: unsupported protocol",
                   0) == 0);
  CHECK(s.contains(ERR_LIB_SSL, SSL_R_UNSUPPORTED_PROTOCOL));
  CHECK(ErrorStack().headline() == "no error");
}

TEST_CASE("ossl's records from inside a handshake name their operation and a project path") {
  // The client names no host, so ossl's certificate checks refuse the server from inside
  // OpenSSL's verify callback, where the refusal can only go on the error queue.
  for (TlsVersion v : ossl_test::kVersions) {
    CAPTURE(to_string(v));
    const SslCtx server = ossl_test::server_builder(v).build().value();
    const SslCtx client = ossl_test::client_builder(v).build().value();
    ossl_test::Attempt a =
        ossl_test::attempt(client, server, ossl_test::ConnectOptions{.host = ""});
    REQUIRE_FALSE(a.outcome.ok);
    REQUIRE(a.outcome.client_error);
    const ErrorStack& stack = a.outcome.client_error->stack();
    REQUIRE_FALSE(stack.empty());
    const ErrorRecord& first = *stack.begin();  // ossl's, before OpenSSL's "verify failed"
    CHECK(first.library == "ossl");
    CHECK(first.reason.find("names no host") != std::string::npos);
    CHECK(first.function == "ossl's certificate checks");
    CHECK(first.file == "src/verify.cpp");
    CHECK(first.line > 0);
    CHECK(stack.to_string().find("(unknown function)") == std::string::npos);
    for (const ErrorRecord& r : stack) {
      CAPTURE(r.to_string());
      CHECK(r.reason.find("passed a null parameter") == std::string::npos);
    }
  }
}
