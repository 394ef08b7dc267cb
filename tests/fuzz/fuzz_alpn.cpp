// ALPN wire format: what decodes re-encodes to the same bytes; names split from the
// input either encode or are refused; the builder validates the same way.
#include "common.hpp"

#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto in = fuzz::bytes(data, size);
  if (auto names = ossl::alpn_decode(in)) {
    auto wire = ossl::alpn_encode(*names);
    fuzz::require(wire.has_value() && *wire == std::vector<std::byte>(in.begin(), in.end()));
  }
  std::vector<std::string_view> split;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (std::size_t at; (at = text.find(',')) != std::string_view::npos;
       text.remove_prefix(at + 1)) {
    split.push_back(text.substr(0, at));
  }
  split.push_back(text);
  if (auto wire = ossl::alpn_encode(split)) {
    auto back = ossl::alpn_decode(*wire);
    fuzz::require(back.has_value() && *back == split);
  }
  // A CA is given so that build() does not load the system trust store every time.
  auto built = ossl::SslCtxBuilder<ossl::Client>::create()
                   .ca_cert(fuzz::world().root.cert())
                   .alpn_protocols(in)
                   .build();
  fuzz::require(built.has_value() == ossl::alpn_decode(in).has_value());
  return 0;
}
