#include <ossl/keylog.hpp>  // first: proves the header is self-contained

#include "support/handshake.hpp"

#include <doctest/doctest.h>
#include <openssl/err.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

using namespace ossl;
using namespace ossl_test;
using namespace std::literals;

namespace {
std::string hex(std::span<const unsigned char> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}
}  // namespace

TEST_CASE("key log: the NSS lines of each version, tied to this connection's secrets") {
  struct Case {
    TlsVersion version;
    std::vector<std::string> labels;
  };
  for (const Case& c :
       {Case{TlsVersion::Tls12, {"CLIENT_RANDOM"}},
        Case{TlsVersion::Tls13,
             {"SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
              "EXPORTER_SECRET", "SERVER_TRAFFIC_SECRET_0", "CLIENT_TRAFFIC_SECRET_0"}}}) {
    CAPTURE(to_string(c.version));
    Contexts ctx = make_contexts(Config{.version = c.version});
    std::vector<std::string> client_lines, server_lines;
    REQUIRE(ctx.client
                .danger_set_keylog_callback(
                    [&](std::string_view line) { client_lines.emplace_back(line); })
                .has_value());
    REQUIRE(ctx.server
                .danger_set_keylog_callback(
                    [&](std::string_view line) { server_lines.emplace_back(line); })
                .has_value());
    Pair pair = connect(ctx);
    // Both ends log the same secrets (in the order each derives them).
    CHECK(std::set<std::string>(client_lines.begin(), client_lines.end()) ==
          std::set<std::string>(server_lines.begin(), server_lines.end()));
    REQUIRE(client_lines.size() == c.labels.size());
    unsigned char random[SSL3_RANDOM_SIZE];
    REQUIRE(SSL_get_client_random(pair.client.native_handle(), random, sizeof random) ==
            sizeof random);
    std::set<std::string> labels;
    for (const std::string& line : client_lines) {
      CAPTURE(line);
      const auto first = line.find(' ');
      const auto second = line.find(' ', first + 1);
      REQUIRE(second != std::string::npos);
      labels.insert(line.substr(0, first));
      CHECK(line.substr(first + 1, second - first - 1) == hex(random));
      CHECK(line.find('\n') == std::string::npos);
    }
    CHECK(labels == std::set<std::string>(c.labels.begin(), c.labels.end()));
    if (c.version == TlsVersion::Tls12) {
      unsigned char master[SSL_MAX_MASTER_KEY_LENGTH];
      const std::size_t n = SSL_SESSION_get_master_key(SSL_get_session(pair.client.native_handle()),
                                                       master, sizeof master);
      CHECK(client_lines[0].substr(client_lines[0].rfind(' ') + 1) == hex(std::span(master, n)));
    }
    // An empty callback turns logging off.
    REQUIRE(ctx.client.danger_set_keylog_callback({}).has_value());
    client_lines.clear();
    Pair again = connect(ctx);
    CHECK(client_lines.empty());
  }
}

TEST_CASE("key log: key_log_file appends lines to a 0600 file; a bad path is an error") {
  char dir_template[] = "/tmp/ossl-keylog-XXXXXX";
  REQUIRE(::mkdtemp(dir_template) != nullptr);
  const std::string path = std::string(dir_template) + "/keys.log";
  {
    auto sink = key_log_file(path);
    REQUIRE_MESSAGE(sink.has_value(), sink.error().to_string());
    Contexts ctx = make_contexts(Config{.version = TlsVersion::Tls13});
    REQUIRE(ctx.client.danger_set_keylog_callback(*sink).has_value());
    (void)connect(ctx);
    (void)connect(ctx);
  }  // the contexts and the callback are gone: the file is closed
  std::ifstream in(path);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    CHECK(line.find("_SECRET") != std::string::npos);
  }
  CHECK(lines == 10);  // five secrets per TLS 1.3 handshake, two handshakes
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  std::remove(path.c_str());
  ::rmdir(dir_template);

  auto bad = key_log_file("/nonexistent-dir/keys.log");
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().to_string().find("/nonexistent-dir/keys.log") != std::string::npos);
  CHECK(key_log_file("a\0b"sv).error().to_string().find("embedded NUL") != std::string::npos);
}

#if defined(__cpp_exceptions)
TEST_CASE("key log: a callback that throws loses its line, never the handshake") {
  for (TlsVersion v : kVersions) {
    CAPTURE(to_string(v));
    Contexts ctx = make_contexts(Config{.version = v});
    int calls = 0;
    REQUIRE(ctx.client
                .danger_set_keylog_callback([&](std::string_view) {
                  ++calls;
                  throw std::runtime_error("sink failed");
                })
                .has_value());
    Pair pair = connect(ctx);  // REQUIREs the handshake to succeed
    CHECK(calls == (v == TlsVersion::Tls12 ? 1 : 5));
    CHECK(pair.client.write("still fine"sv).has_value());
    CHECK(ERR_peek_error() == 0);
  }
}
#endif
