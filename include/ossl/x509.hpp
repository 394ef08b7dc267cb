// ossl: X509, a reference-counted owner of a certificate, and HostnameFlags.
#pragma once

#include <ossl/detail/flags.hpp>
#include <ossl/detail/handle.hpp>
#include <ossl/pkey.hpp>
#include <ossl/result.hpp>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ossl {

namespace detail {
/// How Handle frees and shares an X509.
template <>
struct HandleTraits<::X509> {
  /// Releases one reference (X509_free).
  static void free(::X509* p) noexcept { X509_free(p); }
  /// Takes one more reference (X509_up_ref).
  // X509_up_ref is an atomic increment; it cannot fail on a valid certificate.
  static void up_ref(::X509* p) noexcept { X509_up_ref(p); }
};
}  // namespace detail

/// Flags for hostname matching against a certificate: every X509_CHECK_FLAG_* value.
/// Combine with operator|.
class HostnameFlags : public detail::BitFlags<HostnameFlags, unsigned int> {
 public:
  using BitFlags::BitFlags;

  static const HostnameFlags NONE;                     ///< OpenSSL's default matching.
  static const HostnameFlags ALWAYS_CHECK_SUBJECT;     ///< Check the subject CN even with DNS SANs.
  static const HostnameFlags NO_WILDCARDS;             ///< Never match wildcards.
  static const HostnameFlags NO_PARTIAL_WILDCARDS;     ///< Refuse "f*.example.com".
  static const HostnameFlags MULTI_LABEL_WILDCARDS;    ///< "*" may match several labels.
  static const HostnameFlags SINGLE_LABEL_SUBDOMAINS;  ///< ".example.com" names match one label.
  static const HostnameFlags NEVER_CHECK_SUBJECT;      ///< Never fall back to the subject CN.
};

inline constexpr HostnameFlags HostnameFlags::NONE{0};
inline constexpr HostnameFlags HostnameFlags::ALWAYS_CHECK_SUBJECT{
    X509_CHECK_FLAG_ALWAYS_CHECK_SUBJECT};
inline constexpr HostnameFlags HostnameFlags::NO_WILDCARDS{X509_CHECK_FLAG_NO_WILDCARDS};
inline constexpr HostnameFlags HostnameFlags::NO_PARTIAL_WILDCARDS{
    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS};
inline constexpr HostnameFlags HostnameFlags::MULTI_LABEL_WILDCARDS{
    X509_CHECK_FLAG_MULTI_LABEL_WILDCARDS};
inline constexpr HostnameFlags HostnameFlags::SINGLE_LABEL_SUBDOMAINS{
    X509_CHECK_FLAG_SINGLE_LABEL_SUBDOMAINS};
inline constexpr HostnameFlags HostnameFlags::NEVER_CHECK_SUBJECT{
    X509_CHECK_FLAG_NEVER_CHECK_SUBJECT};

/// One subjectAltName entry, decoded to text (IP addresses in their usual notation).
struct GeneralName {
  /// The kind of name (GEN_DNS, GEN_IPADD, GEN_EMAIL, GEN_URI; anything else is Other).
  enum class Type {
    Dns,    ///< dNSName, e.g. "*.example.com".
    Ip,     ///< iPAddress, e.g. "127.0.0.1" or "::1".
    Email,  ///< rfc822Name.
    Uri,    ///< uniformResourceIdentifier.
    Other,  ///< Any other GENERAL_NAME type; value is empty.
  };
  Type type = Type::Other;  ///< The kind of name.
  std::string value;        ///< The name as text.
  /// Returns true when kind and text are equal.
  friend bool operator==(const GeneralName&, const GeneralName&) = default;
};

/// Reference-counted owner of an X509 certificate. Copies share one certificate
/// (X509_up_ref); each copy frees its own reference.
class OSSL_API X509 : public detail::Owner<X509, ::X509> {
 public:
  /// The type name that error messages start with ("Name::method: ...").
  static constexpr const char* kName = "X509";
  /// The clock of not_before() and not_after().
  using Clock = std::chrono::system_clock;

  /// An empty X509 (operator bool is false; methods return an "empty X509" error).
  X509() noexcept = default;

  /// Parses the first "CERTIFICATE" block of a PEM text. Returns an error for empty,
  /// truncated or garbage input. (PEM_read_bio_X509)
  ///
  /// Only the first: the certificates after it are ignored without an error. Given a
  /// `fullchain.pem` (a leaf, then its intermediates) it returns the leaf and drops the
  /// chain, and a server presenting the leaf alone fails with clients that lack the
  /// intermediates. Read every certificate with stack_from_pem() (or
  /// stack_from_pem_file()); give a server its leaf and chain with the builder's
  /// certificate_chain_file().
  [[nodiscard]] static Result<X509> from_pem(std::string_view pem);
  /// Overload of from_pem() for bytes.
  [[nodiscard]] static Result<X509> from_pem(std::span<const std::byte> pem);
  /// Reads the file at `path` and parses its first certificate, as from_pem() (only
  /// the first: see there). Errors name the path and say what went wrong: the system's
  /// reason when it cannot be read, what the file holds instead when it has no
  /// certificate ("holds a PRIVATE KEY block, not a certificate"), or the parse error.
  /// (BIO_new_file, PEM_read_bio_X509)
  [[nodiscard]] static Result<X509> from_pem_file(std::string_view path);

  /// Parses exactly one DER certificate; trailing bytes are an error. (d2i_X509)
  [[nodiscard]] static Result<X509> from_der(std::span<const std::byte> der);

  /// Parses every "CERTIFICATE" block of a PEM bundle, in order. Returns an error if
  /// the bundle holds none or any block is malformed. (PEM_read_bio_X509 in a loop)
  [[nodiscard]] static Result<std::vector<X509>> stack_from_pem(std::string_view pem);
  /// Reads every certificate of the PEM file at `path` (a CA bundle, a fullchain.pem),
  /// in order; errors as from_pem_file(). (BIO_new_file, PEM_read_bio_X509 in a loop)
  [[nodiscard]] static Result<std::vector<X509>> stack_from_pem_file(std::string_view path);

  /// Writes the certificate as PEM. (PEM_write_bio_X509)
  [[nodiscard]] Result<std::string> to_pem() const;
  /// Writes the certificate as DER. (i2d_X509)
  [[nodiscard]] Result<std::vector<std::byte>> to_der() const;

  /// Returns the subject as RFC 2253 text, e.g. "CN=localhost,O=ossl".
  /// (X509_NAME_print_ex, XN_FLAG_RFC2253)
  [[nodiscard]] Result<std::string> subject_name() const;
  /// Returns the issuer as RFC 2253 text. (X509_NAME_print_ex, XN_FLAG_RFC2253)
  [[nodiscard]] Result<std::string> issuer_name() const;
  /// Returns the subject's first commonName, or an error when it has none.
  /// (X509_NAME_get_index_by_NID)
  [[nodiscard]] Result<std::string> common_name() const;

  /// Returns the start of the validity window. (X509_get0_notBefore, ASN1_TIME_to_tm)
  [[nodiscard]] Result<Clock::time_point> not_before() const;
  /// Returns the end of the validity window. (X509_get0_notAfter, ASN1_TIME_to_tm)
  [[nodiscard]] Result<Clock::time_point> not_after() const;

  /// Returns the SHA-256 digest of the DER encoding. (X509_digest)
  [[nodiscard]] Result<std::array<std::byte, 32>> fingerprint_sha256() const;

  /// Returns the serial number in upper-case hex. (X509_get0_serialNumber)
  [[nodiscard]] Result<std::string> serial_hex() const;

  /// Returns the subjectAltName entries in certificate order; empty when the
  /// certificate has no such extension. (X509_get_ext_d2i NID_subject_alt_name)
  [[nodiscard]] Result<std::vector<GeneralName>> subject_alt_names() const;

  /// Returns the certificate's public key as its own object. (X509_get_pubkey)
  [[nodiscard]] Result<Pkey<Public>> public_key() const;

  /// Returns an error unless `key` is the private key of this certificate.
  /// (X509_check_private_key)
  [[nodiscard]] Result<void> check_private_key(const Pkey<Private>& key) const;

  /// Returns true when the certificate is valid for DNS name `host` under `flags`;
  /// false on a mismatch, a host with an embedded NUL, or a certificate whose
  /// extensions OpenSSL found malformed (chain verification refuses it too, and
  /// X509_check_host alone would fall back to the subject CN when the SAN cannot be
  /// decoded). Leaves the caller's error queue as it was. (X509_check_host,
  /// X509_get_extension_flags for EXFLAG_INVALID)
  [[nodiscard]] bool check_host(std::string_view host,
                                HostnameFlags flags = HostnameFlags::NONE) const;
  /// Returns true when the certificate has IP address `ip` (text form) in its SANs;
  /// false otherwise and for a certificate with malformed extensions, as check_host().
  /// (X509_check_ip_asc)
  [[nodiscard]] bool check_ip(std::string_view ip) const;

  /// Returns true when both hold the same certificate. (X509_cmp)
  friend OSSL_API bool operator==(const X509& a, const X509& b) noexcept;

 private:
  friend class detail::Owner<X509, ::X509>;
  explicit X509(::X509* p) noexcept : Owner(p) {}
};

}  // namespace ossl
