// A server connection fed arbitrary bytes as if from a client.
#include "common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto ssl = fuzz::world().server_ctx.new_ssl();
  auto in = size > 0 ? ossl::Bio::from_bytes(fuzz::bytes(data, size)) : ossl::Bio::new_mem();
  auto out = ossl::Bio::new_mem();
  if (!ssl || !in || !out) return 0;
  ssl->set_bio(std::move(*in), std::move(*out));
  ssl->set_accept_state();
  for (int i = 0; i < 8; ++i) {
    auto r = ssl->do_handshake();
    if (r || !r.error().would_block()) break;
  }
  std::byte buf[512];
  (void)ssl->read(buf);
  (void)ssl->shutdown();
  fuzz::require(ERR_peek_error() == 0);  // every failure was drained into its error
  return 0;
}
