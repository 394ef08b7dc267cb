#include <ossl/alpn.hpp>  // first: proves the header is self-contained

#include "support/handshake.hpp"

#include <doctest/doctest.h>
#include <openssl/err.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

using namespace ossl;
using namespace ossl_test;
using namespace std::literals;

namespace {
std::vector<std::byte> bytes(std::string_view s) {
  auto b = std::as_bytes(std::span(s.data(), s.size()));
  return {b.begin(), b.end()};
}
}  // namespace

TEST_CASE("names encode to length-prefixed wire format and decode back") {
  struct Case {
    std::vector<std::string_view> names;
    std::string_view wire;
  };
  for (const auto& c : {Case{{"h2"}, "\x02h2"sv}, Case{{"h2", "http/1.1"}, "\x02h2\x08http/1.1"sv},
                        Case{{"x"}, "\x01x"sv}}) {
    CAPTURE(c.wire);
    auto wire = alpn_encode(c.names);
    REQUIRE(wire.has_value());
    CHECK(*wire == bytes(c.wire));
    auto names = alpn_decode(*wire);
    REQUIRE(names.has_value());
    CHECK(*names == c.names);
  }
  CHECK(alpn_encode({"h2", "http/1.1"}).value() == bytes("\x02h2\x08http/1.1"));
  const std::string longest(255, 'n');
  CHECK(alpn_encode({longest}).value().size() == 256);
}

TEST_CASE("invalid protocol lists are refused with the reason") {
  const std::string too_long(256, 'n');
  std::vector<std::string> many(300, std::string(255, 'm'));  // 300 * 256 bytes > 65535
  std::vector<std::string_view> many_views(many.begin(), many.end());
  struct Case {
    const char* name;
    Result<std::vector<std::byte>> result;
    const char* expect;
  };
  Case cases[] = {
      {"empty list", alpn_encode(std::span<const std::string_view>()), "empty protocol list"},
      {"empty name", alpn_encode({"h2", ""}), "protocol #2 is empty"},
      {"name over 255 bytes", alpn_encode({too_long}), "256 bytes (at most 255)"},
      {"list over 65535 bytes", alpn_encode(many_views), "at most 65535"},
  };
  for (auto& c : cases) {
    CAPTURE(c.name);
    REQUIRE_FALSE(c.result.has_value());
    CHECK_MESSAGE(c.result.error().to_string().find(c.expect) != std::string::npos,
                  c.result.error().to_string());
  }
}

TEST_CASE("malformed wire format is refused with the offset") {
  struct Case {
    const char* name;
    std::string_view wire;
    const char* expect;
  };
  for (const auto& c :
       {Case{"empty", ""sv, "empty protocol list"},
        Case{"zero length prefix", "\x02h2\x00"sv, "zero length prefix at offset 3"},
        Case{"prefix past the end", "\x02h2\x09http/1.1"sv,
             "length prefix 9 at offset 3 runs past the end"},
        Case{"prefix alone", "\x05"sv, "runs past the end"}}) {
    CAPTURE(c.name);
    auto r = alpn_decode(bytes(c.wire));
    REQUIRE_FALSE(r.has_value());
    CHECK_MESSAGE(r.error().to_string().find(c.expect) != std::string::npos, r.error().to_string());
  }
  CHECK(ERR_peek_error() == 0);
}

// ------------------------------------------------------- server-side selection

namespace {

// A server context from the test PKI selecting with `selector`, and a client that
// offers h2 and http/1.1.
Contexts alpn_contexts(TlsVersion v) {
  Contexts ctx = make_contexts(Config{.version = v});
  const auto offer = alpn_encode({"h2", "http/1.1"}).value();
  REQUIRE(ctx.client.set_alpn_protos(offer).has_value());
  return ctx;
}

}  // namespace

#if defined(__cpp_exceptions)
TEST_CASE("ALPN: a selector that throws fails the handshake with an alert, never unwinds") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    Contexts ctx = alpn_contexts(v);
    REQUIRE(ctx.server
                .set_alpn_select_callback(
                    [](std::span<const std::string_view>) -> std::optional<std::string_view> {
                      throw std::runtime_error("selector failed");
                    })
                .has_value());
    Attempt a = attempt(ctx.client, ctx.server);
    CHECK_FALSE(a.outcome.ok);
    REQUIRE(a.outcome.server_error);
    CHECK(*a.outcome.server_error == SslIoError::Kind::Ssl);
    CHECK(a.outcome.server_error->to_string().find("no application protocol") != std::string::npos);
    ERR_clear_error();
  }
}
#endif

TEST_CASE("ALPN: the builder moves the selector into the context, never copies it") {
  struct Counting {
    std::shared_ptr<int> copies = std::make_shared<int>(0);
    Counting() = default;
    Counting(const Counting& o) : copies(o.copies) { ++*copies; }
    Counting(Counting&&) noexcept = default;
    Counting& operator=(const Counting&) = delete;
    Counting& operator=(Counting&&) = delete;
    ~Counting() = default;
    std::optional<std::string_view> operator()(std::span<const std::string_view> offered) const {
      return offered.front();
    }
  };
  Counting selector;
  auto copies = selector.copies;
  AlpnSelector wrapped(std::move(selector));
  const int before = *copies;
  const Pki& p = pki();
  auto server = SslCtxBuilder<Server>::create()
                    .certificate(p.server.cert)
                    .add_chain_cert(p.intermediate.cert())
                    .private_key(p.server.key)
                    .alpn_select_callback(std::move(wrapped))
                    .build();
  REQUIRE(server.has_value());
  CHECK(*copies == before);
  Contexts ctx = alpn_contexts(TlsVersion::Tls13);
  Pair pair = connect(ctx.client, *server);
  CHECK(pair.client.alpn_selected() == "h2");
  CHECK(*copies == before);  // a handshake does not copy it either
}
