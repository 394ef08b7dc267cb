// Key loading: the first byte picks PEM / DER / encrypted PEM, private or public.
#include "common.hpp"

namespace {
template <class K>
void exercise(const ossl::Result<ossl::Pkey<K>>& key) {
  if (!key) return;
  (void)key->bits();
  (void)key->type_name();
  (void)key->to_pem();
  (void)key->to_der();
  if (auto pub = key->public_key()) fuzz::require(pub->public_equals(*key));
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto in = fuzz::bytes(data + 1, size - 1);
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 5) {
    case 0:
      exercise(ossl::Pkey<ossl::Private>::from_pem(in));
      break;
    case 1:
      exercise(ossl::Pkey<ossl::Private>::from_der(in));
      break;
    case 2:
      exercise(ossl::Pkey<ossl::Private>::from_pem_passphrase(text, "pass"));
      break;
    case 3:
      exercise(ossl::Pkey<ossl::Public>::from_pem(in));
      break;
    default:
      exercise(ossl::Pkey<ossl::Public>::from_der(in));
      break;
  }
  fuzz::require(ERR_peek_error() == 0);
  return 0;
}
