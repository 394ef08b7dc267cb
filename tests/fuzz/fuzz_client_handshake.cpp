// A client connection fed arbitrary bytes as if from a server; the first byte picks
// a verifying or a lax client (the lax one gets past certificate checks).
#include "common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto& w = fuzz::world();
  auto ssl = (data[0] & 1) ? w.client_ctx.new_ssl_for_host("localhost")
                           : w.client_ctx_lax.new_ssl_for_host("localhost");
  auto in =
      size > 1 ? ossl::Bio::from_bytes(fuzz::bytes(data + 1, size - 1)) : ossl::Bio::new_mem();
  auto out = ossl::Bio::new_mem();
  if (!ssl || !in || !out) return 0;
  ssl->set_bio(std::move(*in), std::move(*out));
  for (int i = 0; i < 8; ++i) {
    auto r = ssl->do_handshake();
    if (r || !r.error().would_block()) break;
  }
  std::byte buf[512];
  (void)ssl->read(buf);
  (void)ssl->peer_cert_chain();
  (void)ssl->get1_session();
  (void)ssl->shutdown();
  fuzz::require(ERR_peek_error() == 0);
  return 0;
}
