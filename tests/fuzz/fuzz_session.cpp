// Session parsing: DER in, every accessor, DER out, and offering it to a connection.
#include "common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto s = ossl::SslSession::from_der(fuzz::bytes(data, size));
  if (s) {
    (void)s->id();
    (void)s->protocol_version();
    (void)s->cipher_name();
    (void)s->time();
    (void)s->timeout();
    (void)s->is_resumable();
    (void)s->has_ticket();
    (void)s->alpn_selected();
    (void)s->hostname();
    (void)s->to_der();
    auto ssl = fuzz::world().client_ctx.new_ssl_for_host("localhost");
    if (ssl) (void)ssl->set_session(*s);
  }
  fuzz::require(ERR_peek_error() == 0);
  return 0;
}
