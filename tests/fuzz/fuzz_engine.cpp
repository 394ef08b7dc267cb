// Two TlsEngines connected by the fuzzer: it chooses where the ciphertext is cut (every
// split point, through feed() and through input_space()/commit_input()), when each side
// sends (send() or send_gather()), reads, updates keys, closes or sees the transport end,
// and may flip a byte in transit. Properties: no crash or leak; what a side reads is a
// prefix of what the other sent (never reordered, invented or altered); the error queue
// is left empty.
#include "common.hpp"

#include <ossl/engine.hpp>

#include <algorithm>
#include <array>
#include <string>

namespace {

struct Side {
  ossl::TlsEngine engine;
  std::string sent;      // plaintext the engine took
  std::string received;  // plaintext it read
};

void move_fragment(Side& from, Side& to, std::size_t want, bool via_feed, int flip) {
  const std::span<const std::byte> out = from.engine.pending_output();
  if (out.empty()) return;
  std::string piece(reinterpret_cast<const char*>(out.data()), std::min(want, out.size()));
  if (flip >= 0 && !piece.empty()) piece[static_cast<std::size_t>(flip) % piece.size()] ^= 0x5a;
  std::size_t moved = 0;
  if (via_feed) {
    moved = to.engine.feed(std::as_bytes(std::span(piece.data(), piece.size())));
  } else {
    const std::span<std::byte> space = to.engine.input_space(piece.size());
    std::copy_n(reinterpret_cast<const std::byte*>(piece.data()), space.size(), space.data());
    to.engine.commit_input(space.size());
    moved = space.size();
  }
  from.engine.consume_output(moved);
}

void drain(Side& s) {
  std::array<std::byte, 5000> buf{};
  for (int i = 0; i < 64; ++i) {
    auto r = s.engine.read(buf);
    if (!r) return;
    s.received.append(reinterpret_cast<const char*>(buf.data()), *r);
  }
}

void send(Side& s, std::size_t n, bool gather) {
  const std::string data(n, static_cast<char>('a' + s.sent.size() % 26));
  ossl::Result<std::size_t, ossl::SslIoError> r = std::size_t{0};
  if (gather) {
    const std::size_t half = n / 2;
    const std::span<const std::byte> parts[] = {
        std::as_bytes(std::span(data.data(), half)),
        std::as_bytes(std::span(data.data() + half, n - half))};
    r = s.engine.send_gather(parts);
  } else {
    r = s.engine.send(std::as_bytes(std::span(data.data(), data.size())));
  }
  if (r) s.sent.append(data, 0, *r);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto& w = fuzz::world();
  auto c = w.client_ctx.new_ssl_for_host("localhost");
  auto s = w.server_ctx.new_ssl();
  if (!c || !s) return 0;
  if ((data[0] & 1) != 0) (void)c->set_max_proto_version(ossl::TlsVersion::Tls12);
  ossl::EngineOptions options;
  options.input_capacity = (data[0] & 2) != 0 ? 512 : 18 * 1024;
  options.output_limit = (data[0] & 4) != 0 ? 700 : 64 * 1024;
  options.release_idle_buffers = (data[0] & 8) != 0;
  auto ce = ossl::TlsEngine::client(std::move(*c), options);
  auto se = ossl::TlsEngine::server(std::move(*s), options);
  fuzz::require(ce.has_value() && se.has_value());
  Side sides[2] = {{std::move(*ce), {}, {}}, {std::move(*se), {}, {}}};
  (void)sides[0].engine.handshake();

  for (std::size_t i = 1; i + 1 < size; i += 2) {
    const int op = data[i] & 7;
    const int who = (data[i] >> 3) & 1;
    const std::size_t arg = data[i + 1];
    Side& me = sides[who];
    Side& peer = sides[1 - who];
    switch (op) {
      case 0:
      case 1:  // a fragment of 1..256 bytes (or all of it for 255) through either path
        move_fragment(me, peer, arg == 255 ? SIZE_MAX : arg + 1, op == 0, -1);
        break;
      case 2:  // a fragment with one byte flipped
        if ((data[i] & 0x40) != 0)
          move_fragment(me, peer, arg + 1, true, static_cast<int>(arg));
        else
          move_fragment(me, peer, SIZE_MAX, false, -1);
        break;
      case 3:
        (void)me.engine.handshake();
        drain(me);
        break;
      case 4:
      case 5:
        send(me, arg * 131 + 1, op == 5);
        break;
      case 6:
        if ((arg & 3) == 0)
          (void)me.engine.ssl().key_update((arg & 4) != 0);
        else if ((arg & 3) == 1)
          (void)me.engine.shutdown();
        else if ((arg & 3) == 2)
          me.engine.feed_eof();
        else
          (void)me.engine.take_session();
        break;
      default:
        drain(me);
        break;
    }
    for (const Side& x : sides) {
      const std::string& other_sent = (&x == &sides[0] ? sides[1] : sides[0]).sent;
      fuzz::require(other_sent.compare(0, x.received.size(), x.received) == 0);
    }
  }
  fuzz::require(ERR_peek_error() == 0);
  return 0;
}
