// X509 loading: PEM, DER and PEM bundles, then every accessor on what parsed.
#include "common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto in = fuzz::bytes(data, size);
  for (auto parsed : {ossl::X509::from_pem(in), ossl::X509::from_der(in)}) {
    if (!parsed) continue;
    (void)parsed->subject_name();
    (void)parsed->issuer_name();
    (void)parsed->common_name();
    (void)parsed->not_before();
    (void)parsed->not_after();
    (void)parsed->serial_hex();
    (void)parsed->subject_alt_names();
    (void)parsed->check_host("localhost");
    (void)parsed->check_ip("127.0.0.1");
    if (auto pub = parsed->public_key()) (void)pub->to_pem();
    auto der = parsed->to_der();
    fuzz::require(der.has_value());
    // What parsed re-encodes to something that parses to the same certificate.
    auto again = ossl::X509::from_der(*der);
    fuzz::require(again.has_value() && *again == *parsed);
  }
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto bundle = ossl::X509::stack_from_pem(text)) fuzz::require(!bundle->empty());
  fuzz::require(ERR_peek_error() == 0);  // every failure drained the queue
  return 0;
}
