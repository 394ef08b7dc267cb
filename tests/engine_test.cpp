// TlsEngine (ossl/engine.hpp): the I/O-free connection. Every byte between the two
// engines is moved by the test (support/handshake.hpp: transfer()), cut as each case
// says.
#include <ossl/engine.hpp>

#include "support/handshake.hpp"

#include <doctest/doctest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <string>
#include <vector>

using namespace ossl_test;

namespace {

std::span<const std::byte> bytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

Contexts engine_contexts(TlsVersion v) {
  auto client = client_builder(v).build();
  REQUIRE_MESSAGE(client.has_value(), client.error().to_string());
  auto server = server_builder(v).build();
  REQUIRE_MESSAGE(server.has_value(), server.error().to_string());
  return Contexts{std::move(*client), std::move(*server)};
}

// Reads everything decryptable now; returns the last non-success result (WantRead when
// the engine simply ran dry).
SslIoError drain(TlsEngine& e, std::string& into) {
  std::array<std::byte, 4096> buf{};
  for (;;) {
    auto r = e.read(buf);
    if (!r) return r.error();
    into.append(reinterpret_cast<const char*>(buf.data()), *r);
  }
}

// A deterministic stream to send: byte i is a function of i and the side.
std::string pattern(std::size_t n, char salt) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i)
    s[i] = static_cast<char>((i * 131 + i / 977 + static_cast<std::size_t>(salt)) & 0xff);
  return s;
}

// The TLS records in `wire`: {content type, length} each; REQUIREs whole records.
std::vector<std::pair<int, std::size_t>> records(std::span<const std::byte> wire) {
  std::vector<std::pair<int, std::size_t>> out;
  std::size_t at = 0;
  while (at < wire.size()) {
    REQUIRE(at + 5 <= wire.size());
    const auto len = static_cast<std::size_t>(std::to_integer<int>(wire[at + 3]) << 8 |
                                              std::to_integer<int>(wire[at + 4]));
    REQUIRE(at + 5 + len <= wire.size());
    out.emplace_back(std::to_integer<int>(wire[at]), len);
    at += 5 + len;
  }
  return out;
}

std::string all_output(const TlsEngine& e) {
  std::array<std::span<const std::byte>, 64> blocks{};
  const std::size_t n = e.pending_output_buffers(blocks);
  std::string s;
  for (std::size_t i = 0; i < n; ++i)
    s.append(reinterpret_cast<const char*>(blocks[i].data()), blocks[i].size());
  return s;
}

// Moves everything pending both ways in one piece each, with reads in between.
void settle(EnginePair& p, std::string* client_got = nullptr, std::string* server_got = nullptr) {
  Fragmenter whole;
  for (int i = 0; i < 64 && (p.client.wants_write() || p.server.wants_write()); ++i) {
    std::string sink;
    while (transfer(p.client, p.server, whole) != 0) {
    }
    (void)drain(p.server, server_got ? *server_got : sink);
    while (transfer(p.server, p.client, whole) != 0) {
    }
    (void)drain(p.client, client_got ? *client_got : sink);
  }
}

}  // namespace

TEST_CASE("engines exchange data both ways at once under any fragmentation") {
  struct Case {
    Split split;
    std::size_t bytes;
    bool release_idle_buffers;
  };
  const Case cases[] = {
      {Split::Whole, 1 << 20, false},
      {Split::Random, 1 << 20, false},
      {Split::OneByte, 24 * 1024, false},
      {Split::Random, 256 * 1024, true},
  };
  for (TlsVersion v : kVersions) {
    for (const Case& c : cases) {
      CAPTURE(v);
      CAPTURE(static_cast<int>(c.split));
      CAPTURE(c.release_idle_buffers);
      const Contexts ctx = engine_contexts(v);
      Fragmenter split(c.split, 7);
      EngineOptions eo;
      eo.release_idle_buffers = c.release_idle_buffers;
      EnginePair p = connect_engines(ctx.client, ctx.server, split, {}, eo);
      CHECK(p.client.ssl().version() == v);

      const std::string to_server = pattern(c.bytes, 'c'), to_client = pattern(c.bytes, 's');
      std::string got_server, got_client;
      std::size_t sent_c = 0, sent_s = 0;
      bool gather = false;
      auto send_some = [&](TlsEngine& e, const std::string& data, std::size_t& sent) {
        if (sent == data.size()) return;
        const std::size_t chunk = std::min<std::size_t>(data.size() - sent, 1 + sent % 40000);
        const std::span<const std::byte> piece = bytes(data).subspan(sent, chunk);
        gather = !gather;
        Result<std::size_t, SslIoError> r = std::size_t{0};
        if (gather) {  // the same bytes as three buffers
          const std::size_t a = piece.size() / 3, b = piece.size() / 2;
          const std::span<const std::byte> parts[] = {piece.first(a), piece.subspan(a, b - a),
                                                      piece.subspan(b)};
          r = e.send_gather(parts);
        } else {
          r = e.send(piece);
        }
        if (r) {
          sent += *r;
        } else {
          REQUIRE_MESSAGE(r.error() == SslIoError::Kind::WantWrite, r.error().to_string());
        }
      };
      for (long round = 0; got_server.size() < c.bytes || got_client.size() < c.bytes; ++round) {
        REQUIRE(round < 2'000'000);
        send_some(p.client, to_server, sent_c);
        send_some(p.server, to_client, sent_s);
        transfer(p.client, p.server, split);
        transfer(p.server, p.client, split);
        const SslIoError es = drain(p.server, got_server);
        const SslIoError ec = drain(p.client, got_client);
        REQUIRE_MESSAGE(es == SslIoError::Kind::WantRead, es.to_string());
        REQUIRE_MESSAGE(ec == SslIoError::Kind::WantRead, ec.to_string());
      }
      CHECK(got_server == to_server);
      CHECK(got_client == to_client);
    }
  }
}

TEST_CASE("take_session gives only resumable sessions, once each, and they resume") {
  for (TlsVersion v : kVersions) {
    CAPTURE(v);
    const Contexts ctx = engine_contexts(v);
    Fragmenter whole;
    EnginePair p = connect_engines(ctx.client, ctx.server, whole);
    CHECK_FALSE(p.server.take_session().has_value());  // servers keep theirs in their cache
    if (v == TlsVersion::Tls13) {
      // The handshake is done but no ticket has been read: that session cannot resume.
      CHECK_FALSE(p.client.has_new_session());
      CHECK_FALSE(p.client.take_session().has_value());
      std::string none;
      CHECK(drain(p.client, none) == SslIoError::Kind::WantRead);  // reads the tickets
      CHECK(none.empty());
    }
    REQUIRE(p.client.has_new_session());
    auto session = p.client.take_session();
    REQUIRE(session.has_value());
    CHECK(session->is_resumable());
    CHECK_FALSE(p.client.has_new_session());  // the same one is not given twice
    CHECK_FALSE(p.client.take_session().has_value());

    EnginePair again = connect_engines(ctx.client, ctx.server, whole, {.session = session});
    CHECK(again.client.ssl().session_reused());
    CHECK(again.server.ssl().session_reused());
  }
}

TEST_CASE("a TLS 1.3 engine that only reads still answers a KeyUpdate") {
  const Contexts ctx = engine_contexts(TlsVersion::Tls13);
  Fragmenter whole;
  EnginePair p = connect_engines(ctx.client, ctx.server, whole);
  settle(p);  // the tickets
  REQUIRE_FALSE(p.server.wants_write());

  REQUIRE(p.client.ssl().key_update(true).has_value());
  // OpenSSL reports itself "in init" until the KeyUpdate is sent; the connection is
  // still established, and handshake_done() says so.
  CHECK(p.client.handshake_done());
  REQUIRE(p.client.send(bytes("ping")).has_value());
  while (transfer(p.client, p.server, whole) != 0) {
  }
  std::string got;
  CHECK(drain(p.server, got) == SslIoError::Kind::WantRead);
  CHECK(got == "ping");
  // The server wrote nothing itself, yet its KeyUpdate answer waits to be sent.
  CHECK(p.server.wants_write());
  CHECK(SSL_get_key_update_type(p.server.ssl().native_handle()) == SSL_KEY_UPDATE_NONE);
  const auto answer = records(p.server.pending_output());
  REQUIRE(answer.size() == 1);
  CHECK(answer[0].first == 23);  // encrypted handshake record
  while (transfer(p.server, p.client, whole) != 0) {
  }
  std::string client_got;
  CHECK(drain(p.client, client_got) == SslIoError::Kind::WantRead);
  CHECK(client_got.empty());
  // Both directions work under the new keys.
  REQUIRE(p.server.send(bytes("pong")).has_value());
  REQUIRE(p.client.send(bytes("again")).has_value());
  std::string c2, s2;
  settle(p, &c2, &s2);
  CHECK(c2 == "pong");
  CHECK(s2 == "again");
}

TEST_CASE("a TLS 1.2 client refuses renegotiation with a warning and carries on") {
  const Contexts ctx = engine_contexts(TlsVersion::Tls12);
  Fragmenter whole;
  EnginePair p = connect_engines(ctx.client, ctx.server, whole);
  // Let the server ask (builders refuse renegotiation on both sides by default).
  SSL* s = p.server.ssl().native_handle();
  SSL_clear_options(s, SSL_OP_NO_RENEGOTIATION);
  REQUIRE(SSL_renegotiate(s) == 1);
  (void)p.server.handshake();  // sends the HelloRequest
  REQUIRE(p.server.wants_write());
  while (transfer(p.server, p.client, whole) != 0) {
  }
  std::string got;
  CHECK(drain(p.client, got) == SslIoError::Kind::WantRead);
  CHECK_FALSE(p.client.has_fatal_error());
  const auto out = records(p.client.pending_output());
  REQUIRE(out.size() == 1);
  CHECK(out[0].first == 21);  // the no_renegotiation warning alert
  CHECK(p.client.handshake_done());
}

TEST_CASE("close_notify and truncation stay distinct, at and inside record boundaries") {
  for (TlsVersion v : kVersions) {
    CAPTURE(v);
    const Contexts ctx = engine_contexts(v);
    Fragmenter whole;

    SUBCASE("close_notify is answered at once, so both sides complete") {
      EnginePair p = connect_engines(ctx.client, ctx.server, whole);
      settle(p);
      auto sent = p.client.shutdown();
      REQUIRE(sent.has_value());
      CHECK(*sent == ShutdownResult::Sent);
      while (transfer(p.client, p.server, whole) != 0) {
      }
      std::string got;
      CHECK(drain(p.server, got) == SslIoError::Kind::ZeroReturn);
      CHECK(p.server.peer_closed());
      CHECK(p.server.ssl().shutdown_state() == ShutdownState{true, true});
      REQUIRE(p.server.wants_write());  // its own close_notify
      while (transfer(p.server, p.client, whole) != 0) {
      }
      CHECK(drain(p.client, got) == SslIoError::Kind::ZeroReturn);
      CHECK(p.client.ssl().shutdown_state() == ShutdownState{true, true});
    }
    SUBCASE("without answer_close_notify the server stays silent") {
      EngineOptions eo;
      eo.answer_close_notify = false;
      EnginePair p = connect_engines(ctx.client, ctx.server, whole, {}, eo);
      settle(p);
      REQUIRE(p.client.shutdown().has_value());
      while (transfer(p.client, p.server, whole) != 0) {
      }
      std::string got;
      CHECK(drain(p.server, got) == SslIoError::Kind::ZeroReturn);
      CHECK_FALSE(p.server.wants_write());
    }
    SUBCASE("the transport ends after a whole record: the data, then truncation") {
      EnginePair p = connect_engines(ctx.client, ctx.server, whole);
      settle(p);
      REQUIRE(p.client.send(bytes("hello")).has_value());
      while (transfer(p.client, p.server, whole) != 0) {
      }
      p.server.feed_eof();
      std::string got;
      const SslIoError end = drain(p.server, got);
      CHECK(got == "hello");
      CHECK(end.truncated());
      CHECK_FALSE(p.server.peer_closed());
    }
    SUBCASE("the transport ends inside a record: nothing of it, then truncation") {
      EnginePair p = connect_engines(ctx.client, ctx.server, whole);
      settle(p);
      REQUIRE(p.client.send(bytes("hello")).has_value());
      const std::span<const std::byte> wire = p.client.pending_output();
      REQUIRE(p.server.feed(wire.first(wire.size() - 3)) == wire.size() - 3);
      p.server.feed_eof();
      std::string got;
      const SslIoError end = drain(p.server, got);
      CHECK(got.empty());
      CHECK(end.truncated());
    }
  }
}

TEST_CASE("send takes no more than the output budget, and more once the output is sent") {
  for (TlsVersion v : kVersions) {
    CAPTURE(v);
    const Contexts ctx = engine_contexts(v);
    Fragmenter whole;
    EngineOptions eo;
    eo.output_limit = 20000;
    EnginePair p = connect_engines(ctx.client, ctx.server, whole, {}, eo);
    settle(p);
    const std::string big = pattern(1 << 20, 'b');
    auto first = p.client.send(bytes(big));
    REQUIRE(first.has_value());
    CHECK(*first == 20000);
    CHECK(p.client.pending_output_size() > 20000);  // records add their overhead
    auto full = p.client.send(bytes(big).subspan(*first));
    REQUIRE_FALSE(full.has_value());
    CHECK(full.error() == SslIoError::Kind::WantWrite);
    // Protocol output is never held back by the budget.
    const std::size_t before = p.client.pending_output_size();
    // Draining lets it take more.
    std::string got;
    while (transfer(p.client, p.server, whole) != 0) {
      (void)drain(p.server, got);
    }
    CHECK(got == big.substr(0, *first));
    auto more = p.client.send(bytes(big).subspan(*first));
    REQUIRE(more.has_value());
    CHECK(*more == 20000);
    REQUIRE(p.client.shutdown().has_value());
    CHECK(p.client.pending_output_size() > before);
  }
}

TEST_CASE("send_gather packs small buffers into full records") {
  const Contexts ctx = engine_contexts(TlsVersion::Tls13);
  Fragmenter whole;
  EnginePair p = connect_engines(ctx.client, ctx.server, whole);
  settle(p);
  // An HTTP-like response head in twelve pieces.
  const std::vector<std::string> head = {"HTTP/1.1 200 OK\r\n",
                                         "Content-Type: ",
                                         "text/plain",
                                         "\r\n",
                                         "Content-Length: ",
                                         "5",
                                         "\r\n",
                                         "Server: ossl\r\n",
                                         "Connection: ",
                                         "keep-alive",
                                         "\r\n\r\n",
                                         "hello"};
  std::vector<std::span<const std::byte>> parts;
  std::string joined;
  for (const auto& h : head) {
    parts.push_back(bytes(h));
    joined += h;
  }
  auto r = p.server.send_gather(parts);
  REQUIRE(r.has_value());
  CHECK(*r == joined.size());
  CHECK(records(p.server.pending_output()).size() == 1);
  std::string got;
  settle(p, &got);
  CHECK(got == joined);

  // One send() per piece: a record each.
  for (const auto& part : parts)
    REQUIRE(p.server.send(part).has_value());
  CHECK(records(p.server.pending_output()).size() == head.size());
  settle(p);

  // Small, large, small: full records, the large buffer's middle straight from it.
  const std::string large = pattern(40000, 'L');
  const std::span<const std::byte> mixed[] = {bytes(joined), bytes(large), bytes("tail")};
  auto m = p.server.send_gather(mixed);
  REQUIRE(m.has_value());
  const std::size_t total = joined.size() + large.size() + 4;
  CHECK(*m == total);
  const auto recs = records(bytes(all_output(p.server)));
  CHECK(recs.size() == (total + 16383) / 16384);
  std::string got2;
  settle(p, &got2);
  CHECK(got2 == joined + large + "tail");
}

TEST_CASE("pending output stays where it is while more is produced and while the engine moves") {
  const Contexts ctx = engine_contexts(TlsVersion::Tls13);
  Fragmenter whole;
  EnginePair p = connect_engines(ctx.client, ctx.server, whole);
  settle(p);
  REQUIRE(p.client.send(bytes(pattern(1000, 'a'))).has_value());
  const std::span<const std::byte> lent = p.client.pending_output();  // an async write's view
  const std::string copy(reinterpret_cast<const char*>(lent.data()), lent.size());
  const std::string more = pattern(60000, 'm');
  REQUIRE(p.client.send(bytes(more)).has_value());  // several chunks more
  TlsEngine moved = std::move(p.client);
  CHECK_FALSE(static_cast<bool>(p.client));
  CHECK(std::string(reinterpret_cast<const char*>(lent.data()), lent.size()) == copy);
  std::array<std::span<const std::byte>, 8> blocks{};
  CHECK(moved.pending_output_buffers(blocks) > 1);
  CHECK(blocks[0].data() == lent.data());
  // The moved engine still works: its BIO follows it.
  std::string got;
  while (transfer(moved, p.server, whole) != 0) {
    (void)drain(p.server, got);
  }
  CHECK(got == pattern(1000, 'a') + more);
}

TEST_CASE("after a fatal error the alert is still in the pending output") {
  for (TlsVersion v : kVersions) {
    CAPTURE(v);
    SUBCASE("a forged record after the handshake") {
      const Contexts ctx = engine_contexts(v);
      Fragmenter whole;
      EnginePair p = connect_engines(ctx.client, ctx.server, whole);
      settle(p);
      const unsigned char forged[] = {23, 3,  3,  0,  32, 1,  2,  3,  4,  5,  6,  7,  8,
                                      9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                                      22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
      REQUIRE(p.server.feed(std::as_bytes(std::span(forged))) == sizeof forged);
      std::string got;
      const SslIoError e = drain(p.server, got);
      CHECK(e == SslIoError::Kind::Ssl);
      CHECK(p.server.has_fatal_error());
      REQUIRE(p.server.wants_write());  // the bad_record_mac alert: the last gasp
      while (transfer(p.server, p.client, whole) != 0) {
      }
      const SslIoError seen = drain(p.client, got);
      CHECK(seen == SslIoError::Kind::Ssl);
      CHECK_MESSAGE(seen.to_string().find("alert bad record mac") != std::string::npos,
                    seen.to_string());
      // Nothing more is sent after a fatal error.
      auto shut = p.server.shutdown();
      REQUIRE_FALSE(shut.has_value());
      CHECK(shut.error() == SslIoError::Kind::Other);
    }
    SUBCASE("a certificate the client does not trust") {
      auto client = SslCtxBuilder<Client>::create()
                        .ca_cert(testing::TestCa::create_root("another root").value().cert())
                        .max_proto_version(v)
                        .build();
      REQUIRE(client.has_value());
      const Contexts ctx = engine_contexts(v);
      Fragmenter whole;
      EnginePair p = make_engine_pair(*client, ctx.server);
      const HandshakeOutcome out = complete_handshake(p, whole);
      REQUIRE_FALSE(out.ok);
      REQUIRE(out.client_error.has_value());
      CHECK(*out.client_error == SslIoError::Kind::Ssl);
      REQUIRE(p.client.wants_write());
      while (transfer(p.client, p.server, whole) != 0) {
      }
      auto s = p.server.handshake();
      REQUIRE_FALSE(s.has_value());
      CHECK_MESSAGE(s.error().to_string().find("alert unknown ca") != std::string::npos,
                    s.error().to_string());
    }
  }
}

TEST_CASE("input is taken only as far as it fits") {
  const Contexts ctx = engine_contexts(TlsVersion::Tls13);
  Fragmenter whole;
  EngineOptions eo;
  eo.input_capacity = 512;
  EnginePair p = connect_engines(ctx.client, ctx.server, whole, {}, eo);
  settle(p);
  const std::string data = pattern(3000, 'i');
  REQUIRE(p.client.send(bytes(data)).has_value());
  const std::string wire = all_output(p.client);
  CHECK(p.server.feed(bytes(wire)) == 512);
  CHECK(p.server.feed(bytes(wire).subspan(512)) == 0);
  CHECK(p.server.input_space().empty());
  CHECK(p.server.buffered_input() == 512);
  std::string got;
  std::size_t at = 512;
  while (got.size() < data.size()) {
    CHECK(drain(p.server, got) == SslIoError::Kind::WantRead);
    CHECK(p.server.wants_read());
    const std::size_t n = p.server.feed(bytes(wire).subspan(at));
    REQUIRE((n > 0 || got.size() == data.size()));
    at += n;
  }
  CHECK(got == data);
  // commit_input clamps to what input_space offered.
  const std::span<std::byte> space = p.server.input_space(10);
  CHECK(space.size() == 10);
  p.server.commit_input(1000);
  CHECK(p.server.buffered_input() == 10);
}

TEST_CASE("shutdown before the handshake sends nothing") {
  const Contexts ctx = engine_contexts(TlsVersion::Tls13);
  EnginePair p = make_engine_pair(ctx.client, ctx.server);
  auto r = p.client.shutdown();
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == SslIoError::Kind::Other);
  CHECK_FALSE(p.client.wants_write());
  CHECK_FALSE(p.client.ssl().shutdown_state().sent);
}

TEST_CASE("an engine is reused for a new connection without new buffers") {
  for (TlsVersion v : kVersions) {
    CAPTURE(v);
    const Contexts ctx = engine_contexts(v);
    Fragmenter whole;
    EnginePair p = connect_engines(ctx.client, ctx.server, whole);
    std::string got;
    REQUIRE(p.client.send(bytes("first")).has_value());
    settle(p, nullptr, &got);
    CHECK(got == "first");
    const std::byte* input_at = p.server.input_space().data();
    REQUIRE(input_at != nullptr);

    auto ssl = ctx.server.new_ssl();
    REQUIRE(ssl.has_value());
    REQUIRE(p.server.reset_server(std::move(*ssl)).has_value());
    auto client_ssl = ctx.client.new_ssl_for_host("localhost");
    REQUIRE(client_ssl.has_value());
    REQUIRE(p.client.reset_client(std::move(*client_ssl)).has_value());
    CHECK(p.server.input_space().data() == input_at);
    const HandshakeOutcome out = complete_handshake(p, whole);
    REQUIRE_MESSAGE(out.ok, out.describe());
    got.clear();
    REQUIRE(p.client.send(bytes("second")).has_value());
    settle(p, nullptr, &got);
    CHECK(got == "second");
  }
}

TEST_CASE("bad options and empty engines are refused with errors naming the problem") {
  const Contexts ctx = engine_contexts(TlsVersion::Tls13);
  struct Case {
    EngineOptions options;
    const char* names;
  };
  EngineOptions small_input;
  small_input.input_capacity = 100;
  EngineOptions huge_input;
  huge_input.input_capacity = std::size_t{1} << 30;
  EngineOptions no_output;
  no_output.output_limit = 0;
  const Case cases[] = {{small_input, "input_capacity 100"},
                        {huge_input, "input_capacity 1073741824"},
                        {no_output, "output_limit 0"}};
  for (const Case& c : cases) {
    auto ssl = ctx.server.new_ssl();
    REQUIRE(ssl.has_value());
    auto e = TlsEngine::server(std::move(*ssl), c.options);
    REQUIRE_FALSE(e.has_value());
    CHECK_MESSAGE(e.error().to_string().find(c.names) != std::string::npos, e.error().to_string());
    CHECK(ERR_peek_error() == 0);
  }
  auto empty = TlsEngine::client(Ssl());
  REQUIRE_FALSE(empty.has_value());
  CHECK(empty.error().to_string().find("TlsEngine::client: empty Ssl") != std::string::npos);

  TlsEngine none;
  CHECK_FALSE(static_cast<bool>(none));
  std::array<std::byte, 8> buf{};
  auto r = none.read(buf);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().to_string().find("TlsEngine::read: empty TlsEngine") != std::string::npos);
  CHECK(none.feed(bytes("abc")) == 0);
  CHECK(none.input_space().empty());
  CHECK(none.pending_output().empty());
  CHECK_FALSE(none.take_session().has_value());
}

TEST_CASE(
    "a fatal alert met while shutdown waits is an error, not Complete, and leaves no record") {
  // The client sends close_notify; the server, handed a corrupted copy, answers with a
  // fatal alert; the client's next shutdown() reads that alert. OpenSSL then reports the
  // shutdown complete (a fatal alert counts as the peer's close) and leaves the alert's
  // record in the thread's queue.
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    const Contexts ctx = engine_contexts(v);
    Fragmenter whole;
    EnginePair p = connect_engines(ctx.client, ctx.server, whole);
    settle(p);
    auto first = p.client.shutdown();
    REQUIRE(first.has_value());
    CHECK(*first == ShutdownResult::Sent);
    const auto out = p.client.pending_output();
    std::vector<std::byte> wire(out.begin(), out.end());
    REQUIRE_FALSE(wire.empty());
    p.client.consume_output(wire.size());
    wire.back() ^= std::byte{1};  // the record's tag no longer matches
    REQUIRE(p.server.feed(wire) == wire.size());
    std::string got;
    CHECK(drain(p.server, got) == SslIoError::Kind::Ssl);
    while (transfer(p.server, p.client, whole) != 0) {
    }
    auto second = p.client.shutdown();
    CHECK(ERR_peek_error() == 0);
    REQUIRE_FALSE(second.has_value());
    CHECK(second.error() == SslIoError::Kind::Ssl);
    CHECK(p.client.has_fatal_error());
  }
}
