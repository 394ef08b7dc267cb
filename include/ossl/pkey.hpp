// ossl: Pkey<Private> / Pkey<Public>, reference-counted owners of an EVP_PKEY whose
// type says whether it holds a private key.
#pragma once

#include <ossl/detail/handle.hpp>
#include <ossl/result.hpp>

#include <openssl/evp.h>

#include <concepts>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ossl {

namespace detail {
/// How Handle frees and shares an EVP_PKEY.
template <>
struct HandleTraits<EVP_PKEY> {
  /// Releases one reference (EVP_PKEY_free).
  static void free(EVP_PKEY* p) noexcept { EVP_PKEY_free(p); }
  /// Takes one more reference (EVP_PKEY_up_ref).
  // EVP_PKEY_up_ref is an atomic increment; it cannot fail on a valid key.
  static void up_ref(EVP_PKEY* p) noexcept { EVP_PKEY_up_ref(p); }
};
}  // namespace detail

/// Tag: the key holds private material (it can sign and be used as a server key).
struct OSSL_API Private {};
/// Tag: the key holds only the public half.
struct OSSL_API Public {};

/// Satisfied by the key tags: Private and Public.
template <class K>
concept KeyKind = std::same_as<K, Private> || std::same_as<K, Public>;

/// Satisfied when a Pkey<K> holds a private key: steps that sign (use_private_key,
/// the builder's private_key) accept only these.
template <class K>
concept HasPrivate = std::same_as<K, Private>;

/// Named elliptic curves for key generation.
enum class EcCurve {
  P256,  ///< NIST P-256 (prime256v1, secp256r1).
  P384,  ///< NIST P-384 (secp384r1).
};

/// Reference-counted owner of an EVP_PKEY. Copies share one key (EVP_PKEY_up_ref);
/// every copy frees its own reference. Loading never prompts on a terminal: an
/// encrypted key without a passphrase is an error.
template <KeyKind K>
class OSSL_API Pkey : public detail::Owner<Pkey<K>, EVP_PKEY> {
 public:
  /// The type name that error messages start with ("Name::method: ...").
  static constexpr const char* kName = HasPrivate<K> ? "Pkey<Private>" : "Pkey<Public>";

  /// An empty key (operator bool is false; methods return an "empty Pkey" error).
  Pkey() noexcept = default;

  /// Takes over the caller's reference to `p`: the caller must not free it, whatever
  /// the outcome. Errors: a null pointer; for Pkey<Private>, a key without its private
  /// half (its reference is released), which could otherwise pass for a signing key.
  /// (EVP_PKEY_get_bn_param / EVP_PKEY_get_octet_string_param for the private component)
  [[nodiscard]] static Result<Pkey> adopt(EVP_PKEY* p);
  /// Adds a reference of its own to `p` (the caller still frees its own). Errors: a null
  /// pointer; for Pkey<Private>, a key without its private half. (EVP_PKEY_up_ref)
  [[nodiscard]] static Result<Pkey> share(EVP_PKEY* p);

  /// Parses the first key of a PEM text: "PRIVATE KEY" (PKCS#8) or a traditional
  /// "RSA/EC PRIVATE KEY" for Private, "PUBLIC KEY" (SubjectPublicKeyInfo) for Public.
  /// Returns an error for empty, garbage or encrypted input (use from_pem_passphrase).
  /// (PEM_read_bio_PrivateKey / PEM_read_bio_PUBKEY)
  [[nodiscard]] static Result<Pkey> from_pem(std::string_view pem);
  /// Overload of from_pem() for bytes.
  [[nodiscard]] static Result<Pkey> from_pem(std::span<const std::byte> pem);

  /// Parses an encrypted PEM private key ("ENCRYPTED PRIVATE KEY" or a legacy
  /// Proc-Type header) with `passphrase`; a wrong passphrase is an error that says
  /// so. (PEM_read_bio_PrivateKey with a password callback)
  [[nodiscard]] static Result<Pkey> from_pem_passphrase(
      std::string_view pem, std::string_view passphrase) requires HasPrivate<K>;

  /// Reads the file at `path` and parses its first key, as from_pem() (other blocks,
  /// such as a certificate in a combined file, are skipped). Errors name the path and
  /// say what went wrong: the system's reason when it cannot be read, what the file
  /// holds instead when it has no key of this kind ("holds a CERTIFICATE block, not a
  /// private key"), that the key is encrypted (give the passphrase), or the parse error.
  /// (BIO_new_file, PEM_read_bio_PrivateKey / PEM_read_bio_PUBKEY)
  [[nodiscard]] static Result<Pkey> from_pem_file(std::string_view path);
  /// Reads an encrypted (or plain) private key from the PEM file at `path` with
  /// `passphrase`; a wrong passphrase is an error that says so. Errors as the overload
  /// without a passphrase. (PEM_read_bio_PrivateKey with a password callback)
  [[nodiscard]] static Result<Pkey> from_pem_file(
      std::string_view path, std::string_view passphrase) requires HasPrivate<K>;

  /// Parses exactly one DER key: PKCS#8 (or a traditional RSA/EC structure) for
  /// Private, SubjectPublicKeyInfo for Public. Trailing bytes are an error.
  /// (d2i_AutoPrivateKey / d2i_PUBKEY)
  [[nodiscard]] static Result<Pkey> from_der(std::span<const std::byte> der);

  /// Generates a new EC key on `curve`. (EVP_PKEY_Q_keygen "EC")
  [[nodiscard]] static Result<Pkey> generate_ec(EcCurve curve) requires HasPrivate<K>;
  /// Generates a new Ed25519 key. (EVP_PKEY_Q_keygen "ED25519")
  [[nodiscard]] static Result<Pkey> generate_ed25519() requires HasPrivate<K>;
  /// Generates a new RSA key of `bits` bits; fewer than 2048 bits is refused as too
  /// weak. (EVP_PKEY_Q_keygen "RSA")
  [[nodiscard]] static Result<Pkey> generate_rsa(unsigned bits = 2048) requires HasPrivate<K>;

  /// Writes the key as PEM: unencrypted PKCS#8 "PRIVATE KEY" for Private, "PUBLIC KEY"
  /// for Public. (PEM_write_bio_PrivateKey / PEM_write_bio_PUBKEY)
  [[nodiscard]] Result<std::string> to_pem() const;

  /// Writes the private key as "ENCRYPTED PRIVATE KEY" PEM (PKCS#8, AES-256-CBC,
  /// key derived from `passphrase`); an empty passphrase is refused.
  /// (PEM_write_bio_PKCS8PrivateKey)
  [[nodiscard]] Result<std::string> to_pem_encrypted(std::string_view passphrase) const requires
      HasPrivate<K>;

  /// Writes the key as DER: PKCS#8 for Private, SubjectPublicKeyInfo for Public.
  /// (i2d_PKCS8PrivateKey_bio / i2d_PUBKEY)
  [[nodiscard]] Result<std::vector<std::byte>> to_der() const;

  /// Returns a new key holding only the public half (a separate object, so it can
  /// be handed out without the private material). (i2d_PUBKEY + d2i_PUBKEY)
  [[nodiscard]] Result<Pkey<Public>> public_key() const;

  /// Returns the key size in bits (256 for P-256 and Ed25519), 0 for an empty key.
  /// (EVP_PKEY_get_bits)
  [[nodiscard]] int bits() const noexcept;

  /// Returns the algorithm name, e.g. "EC", "ED25519", "RSA"; empty for an empty key.
  /// (EVP_PKEY_get0_type_name)
  [[nodiscard]] std::string_view type_name() const noexcept;

  /// Returns true when both keys have the same public half (a private key "equals"
  /// its public key). (EVP_PKEY_eq)
  template <KeyKind U>
  [[nodiscard]] bool public_equals(const Pkey<U>& other) const noexcept {
    return *this && other && EVP_PKEY_eq(this->native_handle(), other.native_handle()) == 1;
  }

 private:
  friend class detail::Owner<Pkey<K>, EVP_PKEY>;
  template <KeyKind>
  friend class Pkey;
  explicit Pkey(EVP_PKEY* p) noexcept : detail::Owner<Pkey<K>, EVP_PKEY>(p) {}
};

extern template class Pkey<Private>;
extern template class Pkey<Public>;

}  // namespace ossl
