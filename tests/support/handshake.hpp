// Test support: the one helper chain every handshake test goes through.
//   make_contexts(config) -> make_pair(client_ctx, server_ctx)
//   -> complete_handshake(pair, round cap) -> connect(contexts, session)
#pragma once

#include <ossl/ossl.hpp>
#include <ossl/testing/certs.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace ossl_test {

using namespace ossl;

/// A shared in-memory PKI: root -> intermediate -> server leaf ("localhost",
/// 127.0.0.1) and client leaf, generated once per test binary.
struct Pki {
  testing::TestCa root;
  testing::TestCa intermediate;
  testing::Identity server;  ///< chain = {intermediate}
  testing::Identity client;  ///< chain = {intermediate}
};
const Pki& pki();

/// How the two connections of a pair are joined.
enum class Transport {
  BioPair,  ///< a BIO pair: bytes flow by themselves
  Memory,   ///< separate memory BIOs: complete_handshake() / shuttle() move the bytes,
            ///< so a test sees (and may cut) every byte on the wire
};

/// A client and a server connection, in connect/accept state.
struct Pair {
  Ssl client;
  Ssl server;
  Transport transport = Transport::BioPair;
};
/// `bio_buffer`: the BIO pair's buffer size per direction (0: OpenSSL's default).
Pair make_pair(const SslCtx& client_ctx, const SslCtx& server_ctx, std::size_t bio_buffer = 0,
               Transport transport = Transport::BioPair);
/// make_pair() with a client connection made already (in connect state).
Pair make_pair(Ssl client, const SslCtx& server_ctx, std::size_t bio_buffer = 0,
               Transport transport = Transport::BioPair);

/// Memory transport: moves what `from` wrote (or its first `limit` bytes; the rest is
/// dropped) to `to`'s input, and returns all it took.
std::string shuttle(Ssl& from, Ssl& to, std::size_t limit = SIZE_MAX);

/// What complete_handshake() saw.
struct HandshakeOutcome {
  bool ok = false;
  int rounds = 0;
  std::optional<SslIoError> client_error;  ///< last non-success result of the client
  std::optional<SslIoError> server_error;  ///< last non-success result of the server
  /// "client: ...; server: ..." for failure messages.
  [[nodiscard]] std::string describe() const;
};

/// Drives both sides until both finish, one fails, or `max_rounds` pass (a stall);
/// shuttles the bytes on a Memory transport. Never spins. With `early_data`, the server
/// first reads the client's early data (Ssl::read_early_data) until it is finished,
/// appending it there, and only then completes its handshake.
HandshakeOutcome complete_handshake(Pair& pair, int max_rounds = 32,
                                    std::string* early_data = nullptr);

/// Settings for the contexts of a test connection.
struct Config {
  TlsVersion version = TlsVersion::Tls13;  ///< pinned as min and max on both sides
  bool verify_server = true;               ///< client: PEER, trusts the root, checks "localhost"
  bool client_cert = false;  ///< server requires a client certificate; client sends one
};

struct Contexts {
  SslCtx client;
  SslCtx server;
};

/// A server builder over the PKI's server identity (leaf and intermediate), pinned to `v`.
SslCtxBuilder<Server> server_builder(TlsVersion v = TlsVersion::Tls13);
/// A client builder trusting the PKI's root, TLS 1.2 up to `v`.
SslCtxBuilder<Client> client_builder(TlsVersion v = TlsVersion::Tls13);
Contexts make_contexts(const Config& config);

/// How connect()/attempt() prepare the client before the handshake.
struct ConnectOptions {
  /// The host the client names: set_peer_host (SNI for DNS names, name check) unless
  /// `check_name` is false (SNI only, set_hostname). Empty: the client names nothing.
  std::string host = "localhost";
  bool check_name = true;
  /// When set, the client comes from SslCtx::new_ssl_for_host(host, port), which offers
  /// a session from the context's client session cache (check_name is then implied).
  std::optional<std::uint16_t> port = std::nullopt;
  std::optional<SslSession> session = std::nullopt;  ///< offered with set_session() after the host
  Transport transport = Transport::BioPair;
  std::size_t bio_buffer = 0;  ///< BioPair buffer size (0: OpenSSL's default)
  int max_rounds = 32;
  /// Runs on the client before the handshake (after the host and session), e.g. to set
  /// a per-connection option.
  std::function<void(Ssl& client)> prepare_client = nullptr;
};

/// What attempt() made and saw.
struct Attempt {
  HandshakeOutcome outcome;
  Pair pair;
};
/// make_pair -> host, session -> complete_handshake. Does not judge the outcome.
Attempt attempt(const SslCtx& client, const SslCtx& server, const ConnectOptions& options = {});
/// attempt() that REQUIREs the handshake to succeed, reporting both sides otherwise.
Pair connect(const SslCtx& client, const SslCtx& server, const ConnectOptions& options = {});

/// A handshaken pair plus the contexts it came from.
struct Connection {
  Contexts ctx;
  Pair pair;
};
/// Connects a new pair from `ctx` (offering `session` when given) and REQUIREs that
/// the handshake succeeds, reporting both sides' errors otherwise.
Pair connect(const Contexts& ctx, const std::optional<SslSession>& session = std::nullopt);
/// make_contexts(config) then connect().
Connection connect(const Config& config);

/// Client-side read that lets the client process post-handshake messages (TLS 1.3
/// tickets) and REQUIREs that no application data was waiting.
void read_tickets(Ssl& client);

/// A full handshake of `client` with `server`; returns the client's resumable session
/// (TLS 1.3: after reading the tickets), both sides closed cleanly (close_notify) so
/// that the session stays resumable on both.
SslSession session_from(const SslCtx& client, const SslCtx& server);
/// Connects offering `session`, closes both sides cleanly, and returns whether the
/// handshake resumed (CHECKing that both sides agree).
bool resumes(const SslCtx& client, const SslCtx& server, const SslSession& session);

// ---- the same chain for TlsEngine (ossl/engine.hpp): the test moves every byte ----

/// How transfer() cuts the ciphertext between two engines.
enum class Split {
  Whole,    ///< everything pending at once (records coalesced, up to the input capacity)
  OneByte,  ///< one byte per transfer
  Random,   ///< 1 to 3000 bytes per transfer, seeded
};

/// Picks fragment sizes for transfer(); deterministic for a seed.
class Fragmenter {
 public:
  explicit Fragmenter(Split split = Split::Whole, std::uint32_t seed = 1) noexcept
      : split_(split), state_(seed == 0 ? 1 : seed) {}
  /// The size of the next fragment, at most `available` (and at least 1 when it is).
  std::size_t next(std::size_t available) noexcept;
  /// Alternates between true and false: which input path transfer() takes next.
  bool use_feed() noexcept { return feed_ = !feed_; }

 private:
  Split split_;
  std::uint32_t state_;
  bool feed_ = false;
};

/// A client and a server engine, made from new_ssl_for_host / new_ssl.
struct EnginePair {
  TlsEngine client;
  TlsEngine server;
};
/// Makes an engine pair, applying `options`' host, session and prepare_client to the
/// client as attempt() does.
EnginePair make_engine_pair(const SslCtx& client_ctx, const SslCtx& server_ctx,
                            const ConnectOptions& options = {},
                            const EngineOptions& engine_options = {});

/// Moves one fragment of `from`'s pending output into `to` (alternating feed() and
/// input_space()/commit_input(), so both paths run) and returns how many bytes moved
/// (0 when nothing is pending or `to` has no room).
std::size_t transfer(TlsEngine& from, TlsEngine& to, Fragmenter& split);

/// Drives both engines' handshakes, one fragment each way per round, until both
/// finish, one fails, or `max_rounds` pass.
HandshakeOutcome complete_handshake(EnginePair& pair, Fragmenter& split, int max_rounds = 100000);

/// make_engine_pair -> complete_handshake, REQUIRing success. `options.max_rounds` is
/// not used: a round moves one fragment, so the cap is `max_rounds` here.
EnginePair connect_engines(const SslCtx& client, const SslCtx& server, Fragmenter& split,
                           const ConnectOptions& options = {},
                           const EngineOptions& engine_options = {}, int max_rounds = 100000);

/// Both TLS versions, for DOCTEST_VALUE_PARAMETERIZED_DATA style loops.
inline constexpr TlsVersion kVersions[] = {TlsVersion::Tls12, TlsVersion::Tls13};

}  // namespace ossl_test
