// ossl: Pkcs12, a move-only owner of a PKCS#12 archive (a .p12 / .pfx file: a private
// key, its certificate and a chain, protected by a passphrase), and ParsedPkcs12.
#pragma once

#include <ossl/detail/handle.hpp>
#include <ossl/pkey.hpp>
#include <ossl/result.hpp>
#include <ossl/x509.hpp>

#include <openssl/pkcs12.h>

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace ossl {

namespace detail {
/// How Handle frees a PKCS12.
template <>
struct HandleTraits<PKCS12> {
  /// Releases the archive (PKCS12_free).
  static void free(PKCS12* p) noexcept { PKCS12_free(p); }
};
}  // namespace detail

/// What a PKCS#12 archive holds, decrypted. Each member owns its object.
struct OSSL_API ParsedPkcs12 {
  std::optional<Pkey<Private>> key;  ///< The private key, when the archive has one.
  std::optional<X509> cert;          ///< The certificate that matches `key`, when there is one.
  std::vector<X509> chain;           ///< Every other certificate, in the archive's order.
};

/// Move-only owner of a PKCS12 archive. Parsing the DER checks only its structure;
/// parse() checks the passphrase (the archive's MAC) and decrypts.
///
/// Archives written by OpenSSL 3 (and by create()) use AES-256-CBC with PBKDF2 and an
/// HMAC-SHA-256 MAC. Older ones (OpenSSL 1.x, many Windows exports) encrypt with
/// RC2-40 or 3DES; RC2 is in OpenSSL's legacy provider, which is not loaded by
/// default, so parse() returns an error that says so (load it with
/// OSSL_PROVIDER_load(nullptr, "legacy") and "default", or re-export the archive).
///
/// parse() derives keys with as many PBKDF iterations as the archive asks for (2048
/// in archives from current tools), so an archive from an untrusted source can make
/// it slow. Passphrases are copied only into buffers that are wiped after use.
class OSSL_API Pkcs12 : public detail::Owner<Pkcs12, PKCS12> {
 public:
  /// The type name that error messages start with ("Name::method: ...").
  static constexpr const char* kName = "Pkcs12";

  /// An empty Pkcs12 (operator bool is false; methods return an "empty Pkcs12" error).
  Pkcs12() noexcept = default;
  ///@{
  /// Takes over `other`'s archive (freeing the one held before); `other` is left empty.
  Pkcs12(Pkcs12&&) noexcept = default;
  Pkcs12& operator=(Pkcs12&&) noexcept = default;
  ///@}
  Pkcs12(const Pkcs12&) = delete;
  Pkcs12& operator=(const Pkcs12&) = delete;
  /// Frees the archive. (PKCS12_free)
  ~Pkcs12() = default;

  /// Parses exactly one DER-encoded archive (the content of a .p12 / .pfx file);
  /// trailing bytes and empty input are errors. The passphrase is not checked yet.
  /// (d2i_PKCS12)
  [[nodiscard]] static Result<Pkcs12> from_der(std::span<const std::byte> der);

  /// Builds an archive of `key`, its certificate `cert` and `chain` (intermediates,
  /// leaf's issuer first), encrypted and MACed under `passphrase` with OpenSSL's
  /// defaults. `friendly_name` labels the key and certificate (empty: none). The
  /// archive holds copies; the arguments stay the caller's. Returns an error when the
  /// key does not match the certificate or a string holds a NUL byte. (PKCS12_create)
  [[nodiscard]] static Result<Pkcs12> create(std::string_view passphrase, const Pkey<Private>& key,
                                             const X509& cert, std::span<const X509> chain = {},
                                             std::string_view friendly_name = {});

  /// Checks `passphrase` against the archive's MAC and decrypts what it holds; the
  /// result owns new objects. An empty passphrase also opens archives made with
  /// none. Errors name the cause: a wrong passphrase, an algorithm the loaded
  /// providers lack (see the class comment), a corrupt archive. (PKCS12_parse)
  [[nodiscard]] Result<ParsedPkcs12> parse(std::string_view passphrase) const;

  /// Serialises the archive to DER, the content of a .p12 file. (i2d_PKCS12)
  [[nodiscard]] Result<std::vector<std::byte>> to_der() const;

 private:
  friend class detail::Owner<Pkcs12, PKCS12>;
  explicit Pkcs12(PKCS12* p) noexcept : Owner(p) {}
};

}  // namespace ossl
