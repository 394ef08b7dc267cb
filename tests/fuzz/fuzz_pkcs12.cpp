// PKCS#12 archives: parse arbitrary DER under one of three passphrases. Whatever parses
// must serialise again, and a key with its certificate must make a new archive that
// opens under the same passphrase with the same contents.
#include "common.hpp"

#include <openssl/pkcs12.h>

namespace {

// PKCS#12 key derivation runs as many PBKDF iterations as the archive asks for, so a
// mutated count can make one input take minutes (a slow input, not a bug: OpenSSL has
// no cap, and neither does any archive reader that follows the standard). Inputs
// without a MAC (no integrity check before decryption) or with a large MAC count are
// skipped; the seeds' counts are 2048.
bool bounded_cost(const ossl::Pkcs12& archive) {
  if (PKCS12_mac_present(archive.native_handle()) != 1) return false;
  const ASN1_INTEGER* iter = nullptr;
  PKCS12_get0_mac(nullptr, nullptr, nullptr, &iter, archive.native_handle());  // get0
  const long n = iter != nullptr ? ASN1_INTEGER_get(iter) : 1;  // absent count means 1
  ERR_clear_error();  // the harness's own raw call may queue on a malformed count
  return n >= 1 && n <= 4096;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static constexpr std::string_view kPassphrases[] = {"", "pw", "wrong"};
  const std::string_view pass = kPassphrases[data[0] % 3];
  auto archive = ossl::Pkcs12::from_der(fuzz::bytes(data + 1, size - 1));
  if (archive && bounded_cost(*archive)) {
    fuzz::require(archive->to_der().has_value());
    if (auto parsed = archive->parse(pass)) {
      if (parsed->key && parsed->cert) {
        // PKCS12_parse pairs the certificate with the key, so they must match.
        auto again = ossl::Pkcs12::create(pass, *parsed->key, *parsed->cert, parsed->chain);
        fuzz::require(again.has_value());
        auto reparsed = again->parse(pass);
        fuzz::require(reparsed.has_value() && reparsed->cert && reparsed->key);
        fuzz::require(reparsed->cert->to_der().value() == parsed->cert->to_der().value());
        fuzz::require(reparsed->chain.size() == parsed->chain.size());
      }
    }
  }
  fuzz::require(ERR_peek_error() == 0);  // every ossl failure drained the queue
  return 0;
}
