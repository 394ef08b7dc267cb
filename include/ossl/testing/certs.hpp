// ossl::testing: in-memory test PKI. Generates root and intermediate CAs and leaf
// certificates with chosen names, key types and validity, for tests, examples and
// benchmarks, so that no private key is ever checked in. Not for production use.
#pragma once

#include <ossl/crl.hpp>
#include <ossl/pkey.hpp>
#include <ossl/result.hpp>
#include <ossl/x509.hpp>

#include <chrono>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ossl::testing {

/// Key algorithm of a generated certificate.
enum class KeyType {
  EcP256,   ///< ECDSA on P-256.
  EcP384,   ///< ECDSA on P-384.
  Ed25519,  ///< Ed25519 (EdDSA).
  Rsa2048,  ///< RSA, 2048 bits.
  /// RSA, 1024 bits: below security level 2, for tests that prove weak keys refused.
  Rsa1024,
};

/// Extended key usage of a leaf.
enum class Usage {
  Server,           ///< serverAuth.
  Client,           ///< clientAuth.
  ServerAndClient,  ///< serverAuth and clientAuth.
  OcspSigning,      ///< OCSPSigning: a responder a CA delegates its OCSP answers to.
};

/// The digest a CA signs a certificate with.
enum class SignatureDigest {
  Sha256,  ///< SHA-256: the default.
  /// SHA-1: refused in chains at security level 1 and above (OpenSSL 3.0 and later), for
  /// tests that prove it refused. Ignored for Ed25519 issuers, which take no digest.
  Sha1,
};

/// What a generated OCSP response says about a certificate.
enum class OcspStatus {
  Good,     ///< good
  Revoked,  ///< revoked an hour ago, reason keyCompromise
  Unknown,  ///< unknown to the responder
};

/// A validity window.
struct OSSL_API Validity {
  std::chrono::system_clock::time_point not_before;  ///< First instant of validity.
  std::chrono::system_clock::time_point not_after;   ///< Last instant of validity.

  /// Valid from one hour ago for `days` days: the default for generated certificates.
  [[nodiscard]] static Validity days_from_now(int days);
  /// Expired yesterday (valid for the 30 days before).
  [[nodiscard]] static Validity expired();
  /// Valid only from tomorrow.
  [[nodiscard]] static Validity not_yet_valid();
};

/// What a leaf certificate should say.
struct LeafSpec {
  std::string common_name = "localhost";  ///< Subject CN (also checked by hostname tests).
  std::vector<std::string> dns_names;     ///< subjectAltName DNS entries, e.g. "*.example.com".
  std::vector<std::string> ip_addresses;  ///< subjectAltName IP entries, e.g. "127.0.0.1", "::1".
  KeyType key_type = KeyType::EcP256;     ///< Key algorithm.
  Usage usage = Usage::Server;            ///< Extended key usage.
  /// keyUsage in OpenSSL's config syntax, e.g. "critical,keyCertSign"; empty picks
  /// "critical,digitalSignature,keyEncipherment", right for TLS leaves.
  std::string key_usage;
  Validity validity = Validity::days_from_now(30);  ///< Validity window.
  /// The TLS feature status_request (RFC 7633, "OCSP must-staple").
  bool must_staple = false;
  /// basicConstraints CA:TRUE on the leaf (everything else as a server leaf), for tests
  /// of clients that refuse a CA certificate presented as the server's own.
  bool ca = false;
  /// The digest the issuing CA signs this certificate with.
  SignatureDigest signature_digest = SignatureDigest::Sha256;
};

/// A certificate with its private key and the intermediates that lead to the root
/// (leaf first order: chain[0] signed the leaf). The root is not included.
struct OSSL_API Identity {
  X509 cert;                ///< The leaf certificate.
  Pkey<Private> key;        ///< The leaf's private key.
  std::vector<X509> chain;  ///< Intermediates, the one that signed the leaf first.

  /// Writes the certificate followed by the chain as one PEM file, and the key as an
  /// unencrypted PKCS#8 PEM file (mode 0600). Errors name the path.
  [[nodiscard]] Result<void> write_pem(std::string_view cert_path, std::string_view key_path) const;
};

/// A certificate authority that issues test certificates. Copies share the CA.
class OSSL_API TestCa {
 public:
  /// Makes a self-signed root CA named `common_name` with a key of `key_type`.
  [[nodiscard]] static Result<TestCa> create_root(std::string_view common_name = "ossl test root",
                                                  KeyType key_type = KeyType::EcP256);

  /// Makes a leaf certificate as `spec` says that is its own issuer (signed with its own
  /// key, as `openssl req -x509` makes), with an empty chain: the self-signed server
  /// certificate clients must refuse unless they trust it.
  [[nodiscard]] static Result<Identity> self_signed(const LeafSpec& spec);

  /// Makes an intermediate CA signed by this CA.
  [[nodiscard]] Result<TestCa> create_intermediate(std::string_view common_name,
                                                   KeyType key_type = KeyType::EcP256) const;

  /// Issues a leaf certificate as `spec` says, signed by this CA. Names that are not
  /// valid DNS names or IP addresses are errors.
  [[nodiscard]] Result<Identity> issue(const LeafSpec& spec) const;

  /// Issues a CRL signed by this CA that lists `revoked` (revoked an hour ago, with
  /// `reason`, an RFC 5280 CRLReason code: 1 is keyCompromise), valid (thisUpdate to
  /// nextUpdate) over `validity`. An empty list makes a CRL that revokes nothing.
  [[nodiscard]] Result<X509Crl> issue_crl(std::span<const X509> revoked,
                                          Validity validity = Validity::days_from_now(7),
                                          int reason = 1) const;

  /// Makes a DER OCSP response ("successful", one single response) saying `status` about
  /// `cert` (which this CA issued; the CertID uses SHA-1, as `openssl ocsp` does), with
  /// thisUpdate and nextUpdate from `validity`, signed by `signer` (null: this CA) and
  /// carrying the signer's certificate.
  [[nodiscard]] Result<std::vector<std::byte>> issue_ocsp_response(
      const X509& cert, OcspStatus status, Validity validity = Validity::days_from_now(1),
      const Identity* signer = nullptr) const;

  /// Returns the CA's certificate (the trust anchor, for a root).
  [[nodiscard]] const X509& cert() const noexcept { return cert_; }
  /// Returns the CA's private key.
  [[nodiscard]] const Pkey<Private>& key() const noexcept { return key_; }
  /// Returns the intermediates between this CA and the root, this CA first (empty
  /// for a root).
  [[nodiscard]] const std::vector<X509>& chain() const noexcept { return chain_; }

 private:
  X509 cert_;
  Pkey<Private> key_;
  std::vector<X509> chain_;
};

/// Generates a key of the given type.
[[nodiscard]] OSSL_API Result<Pkey<Private>> generate_key(KeyType type);

}  // namespace ossl::testing
