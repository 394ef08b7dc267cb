// A connected client/server pair driven by arbitrary sequences of API calls: reads
// and writes of any size on either side, shutdowns, key updates, sessions. Data that
// arrives must be the data that was written, in order.
#include "common.hpp"

#include <string>
#include <vector>

namespace {

bool handshake(ossl::Ssl& c, ossl::Ssl& s) {
  for (int i = 0; i < 16; ++i) {
    auto a = c.do_handshake();
    auto b = s.do_handshake();
    if (a && b) return true;
    if ((!a && !a.error().would_block()) || (!b && !b.error().would_block())) return false;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto& w = fuzz::world();
  auto c = w.client_ctx.new_ssl_for_host("localhost");
  auto s = w.server_ctx.new_ssl();
  auto bios = ossl::Bio::new_bio_pair(512 + data[0] * 64, 512 + data[0] * 64);
  if (!c || !s || !bios) return 0;
  c->set_bio_duplex(std::move(bios->first));
  s->set_bio_duplex(std::move(bios->second));
  s->set_accept_state();
  if ((data[0] & 0x80) != 0) (void)c->set_max_proto_version(ossl::TlsVersion::Tls12);
  fuzz::require(handshake(*c, *s));

  // [0]: client -> server, [1]: server -> client. A write that did not complete is
  // "pending": part of it may be on the wire, and correct use retries the same bytes.
  std::string sent[2], pending[2], received[2];
  std::vector<char> buf(70000);
  ossl::Ssl* sides[2] = {&*c, &*s};
  for (std::size_t i = 1; i + 1 < size; i += 2) {
    const int op = data[i] % 8;
    const std::size_t arg = data[i + 1];
    const int who = (data[i] >> 3) & 1;
    ossl::Ssl& me = *sides[who];
    switch (op) {
      case 0:
      case 1: {  // write arg*257 bytes (0 .. ~64 KiB) of a pattern, or retry the pending one
        std::string chunk =
            !pending[who].empty()
                ? pending[who]
                : std::string(arg * 257, static_cast<char>('a' + sent[who].size() % 26));
        if (chunk.empty()) break;
        if (auto n = me.write(chunk); n) {
          sent[who] += chunk;
          pending[who].clear();
        } else {
          pending[who] = chunk;
        }
        break;
      }
      case 2:
      case 3: {  // read into a buffer of arg+1 .. bytes
        auto n = me.read(std::span(buf.data(), std::min(buf.size(), arg * 300 + 1)));
        if (n) received[1 - who].append(buf.data(), *n);
        break;
      }
      case 4:
        (void)me.shutdown();
        break;
      case 5:
        (void)me.key_update((arg & 1) != 0);
        break;
      case 6:
        if (auto session = c->get1_session()) (void)session->to_der();
        break;
      default:
        if (auto borrowed = me.session()) (void)(*borrowed)->is_resumable();
        break;
    }
    // What arrived is a prefix of what was sent: never reordered or invented.
    for (int d = 0; d < 2; ++d) {
      const std::string may_arrive = sent[d] + pending[d];
      fuzz::require(may_arrive.compare(0, received[d].size(), received[d]) == 0);
    }
  }
  fuzz::require(ERR_peek_error() == 0);
  return 0;
}
