// ossl: X509Crl, a reference-counted owner of a certificate revocation list, for clients
// that check revocation against CRLs (SslCtxBuilder<Client>::crl(), docs/verification.md).
#pragma once

#include <ossl/detail/handle.hpp>
#include <ossl/result.hpp>
#include <ossl/x509.hpp>

#include <openssl/x509.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ossl {

namespace detail {
/// How Handle frees and shares an X509_CRL.
template <>
struct HandleTraits<::X509_CRL> {
  /// Releases one reference (X509_CRL_free).
  static void free(::X509_CRL* p) noexcept { X509_CRL_free(p); }
  /// Takes one more reference (X509_CRL_up_ref, an atomic increment).
  static void up_ref(::X509_CRL* p) noexcept { X509_CRL_up_ref(p); }
};
}  // namespace detail

/// Reference-counted owner of a CRL. Copies share one CRL (X509_CRL_up_ref). Parsing
/// checks the encoding only; the signature, the issuer and the dates are checked by
/// OpenSSL when a verification uses the CRL.
class OSSL_API X509Crl : public detail::Owner<X509Crl, ::X509_CRL> {
 public:
  /// The type name that error messages start with ("Name::method: ...").
  static constexpr const char* kName = "X509Crl";
  /// The clock of last_update() and next_update().
  using Clock = std::chrono::system_clock;

  /// An empty X509Crl (operator bool is false; methods return an "empty X509Crl" error).
  X509Crl() noexcept = default;

  /// Parses the first "X509 CRL" block of a PEM text; an error for none or garbage.
  /// (PEM_read_bio_X509_CRL)
  [[nodiscard]] static Result<X509Crl> from_pem(std::string_view pem);
  /// Parses exactly one DER CRL; trailing bytes are an error. (d2i_X509_CRL)
  [[nodiscard]] static Result<X509Crl> from_der(std::span<const std::byte> der);
  /// Parses every "X509 CRL" block of a PEM text, in order; an error when there is none
  /// or one is malformed (naming which). (PEM_read_bio_X509_CRL in a loop)
  [[nodiscard]] static Result<std::vector<X509Crl>> stack_from_pem(std::string_view pem);
  /// Reads a file of CRLs: PEM (one or more blocks) or one DER CRL, told apart by the
  /// "-----BEGIN" line. Errors name the path. (BIO_new_file, then as above)
  [[nodiscard]] static Result<std::vector<X509Crl>> load_file(std::string_view path);

  /// Returns the issuer as RFC 2253 text. (X509_CRL_get_issuer, X509_NAME_print_ex)
  [[nodiscard]] Result<std::string> issuer_name() const;
  /// Returns when the CRL was issued (thisUpdate). (X509_CRL_get0_lastUpdate)
  [[nodiscard]] Result<Clock::time_point> last_update() const;
  /// Returns when the next CRL is due (nextUpdate), or nullopt when it names none.
  /// (X509_CRL_get0_nextUpdate)
  [[nodiscard]] Result<std::optional<Clock::time_point>> next_update() const;
  /// Returns true when the CRL lists `cert`'s serial number (the issuer is not
  /// compared). (X509_CRL_get0_by_serial)
  [[nodiscard]] bool lists(const X509& cert) const noexcept;
  /// Writes the CRL as PEM. (PEM_write_bio_X509_CRL)
  [[nodiscard]] Result<std::string> to_pem() const;
  /// Writes the CRL as DER. (i2d_X509_CRL)
  [[nodiscard]] Result<std::vector<std::byte>> to_der() const;

 private:
  friend class detail::Owner<X509Crl, ::X509_CRL>;
  explicit X509Crl(::X509_CRL* p) noexcept : Owner(p) {}
};

}  // namespace ossl
