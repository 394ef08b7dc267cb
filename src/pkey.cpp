#include <ossl/pkey.hpp>

#include "internal.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

namespace ossl {

namespace {

// PEM password callback state. OpenSSL calls the callback only for encrypted input.
struct Passphrase {
  std::string_view text;
  bool given = false;
  bool too_long = false;
};

// pem_password_cb: copy the passphrase into OpenSSL's buffer and return its length.
// Returning 0 (no passphrase) makes decryption fail instead of OpenSSL's default of
// prompting on the terminal, which a library must never do.
int passphrase_cb(char* buf, int size, int /*rwflag*/, void* user) {
  auto* pass = static_cast<Passphrase*>(user);
  if (pass == nullptr || !pass->given) return 0;
  if (pass->text.size() > static_cast<std::size_t>(size)) {
    pass->too_long = true;
    return -1;
  }
  if (!pass->text.empty()) std::memcpy(buf, pass->text.data(), pass->text.size());
  return static_cast<int>(pass->text.size());
}

bool looks_encrypted(std::span<const std::byte> pem) {
  std::string_view text(reinterpret_cast<const char*>(pem.data()), pem.size());
  return text.find("ENCRYPTED") != std::string_view::npos;
}

namespace {
// Returns true when the key holds its private component. OpenSSL 3 keeps no flag for it:
// ask the provider for the component under the names the built-in key types use ("priv"
// as a number for EC, DH, DSA; "d" for RSA; "priv" as bytes for X25519/Ed25519/Ed448).
// The caller's error queue is kept as it was.
bool has_private_component(const EVP_PKEY* p) noexcept {
  ERR_set_mark();
  BIGNUM* bn = nullptr;
  std::size_t len = 0;
  const bool has =
      EVP_PKEY_get_bn_param(p, OSSL_PKEY_PARAM_PRIV_KEY, &bn) == 1 ||
      EVP_PKEY_get_bn_param(p, OSSL_PKEY_PARAM_RSA_D, &bn) == 1 ||
      (EVP_PKEY_get_octet_string_param(p, OSSL_PKEY_PARAM_PRIV_KEY, nullptr, 0, &len) == 1 &&
       len > 0);
  BN_clear_free(bn);  // null-safe
  ERR_pop_to_mark();
  return has;
}

}  // namespace

template <KeyKind K>
Result<EVP_PKEY*> read_pem(std::span<const std::byte> pem, Passphrase* pass, const char* what,
                           const char* encrypted_hint = "use from_pem_passphrase()") {
  auto bio = detail::input_bio(pem, what);
  if (!bio) return std::move(bio).error();
  EVP_PKEY* key = nullptr;
  if constexpr (HasPrivate<K>) {
    key = PEM_read_bio_PrivateKey(bio->native_handle(), nullptr, passphrase_cb, pass);
  } else {
    key = PEM_read_bio_PUBKEY(bio->native_handle(), nullptr, passphrase_cb, pass);
  }
  if (key != nullptr) return key;
  std::string why = what;
  if (pass != nullptr && pass->too_long) {
    why += ": passphrase longer than OpenSSL's PEM limit";
  } else if (HasPrivate<K> && looks_encrypted(pem)) {
    why += pass != nullptr && pass->given
               ? ": could not decrypt the key (wrong passphrase?)"
               : std::string(": the key is encrypted; ") + encrypted_hint;
  } else {
    why += HasPrivate<K> ? ": no PEM private key found" : ": no PEM public key found";
  }
  return detail::failure(why);
}

}  // namespace

template <KeyKind K>
Result<Pkey<K>> Pkey<K>::adopt(EVP_PKEY* p) {
  if (p == nullptr) return ErrorStack::message(std::string(kName) + "::adopt: null pointer");
  if constexpr (HasPrivate<K>) {
    if (!has_private_component(p)) {
      EVP_PKEY_free(p);  // adopt took the reference, error or not
      return ErrorStack::message(std::string(kName) +
                                 "::adopt: the key has no private component (a public key "
                                 "cannot be a Pkey<Private>; use Pkey<Public>)");
    }
  }
  return Pkey(p);
}

template <KeyKind K>
Result<Pkey<K>> Pkey<K>::share(EVP_PKEY* p) {
  if (p == nullptr) return ErrorStack::message(std::string(kName) + "::share: null pointer");
  if constexpr (HasPrivate<K>) {
    if (!has_private_component(p)) {
      return ErrorStack::message(std::string(kName) +
                                 "::share: the key has no private component (a public key "
                                 "cannot be a Pkey<Private>; use Pkey<Public>)");
    }
  }
  EVP_PKEY_up_ref(p);
  return Pkey(p);
}

template <KeyKind K>
Result<Pkey<K>> Pkey<K>::from_pem(std::string_view pem) {
  return from_pem(detail::as_bytes(pem));
}

template <KeyKind K>
Result<Pkey<K>> Pkey<K>::from_pem(std::span<const std::byte> pem) {
  Passphrase none;
  auto key =
      read_pem<K>(pem, &none, HasPrivate<K> ? "Pkey<Private>::from_pem" : "Pkey<Public>::from_pem");
  if (!key) return std::move(key).error();
  return Pkey(*key);
}

template <KeyKind K>
Result<Pkey<K>> Pkey<K>::from_pem_passphrase(std::string_view pem,
                                             std::string_view passphrase) requires HasPrivate<K> {
  Passphrase pass{passphrase, true, false};
  auto key = read_pem<K>(detail::as_bytes(pem), &pass, "Pkey<Private>::from_pem_passphrase");
  if (!key) return std::move(key).error();
  return Pkey(*key);
}

namespace {

// Reads the key file at `path` for `what` ("Pkey<Private>::from_pem_file") with `pass`.
// A file without a block of the key's kind is refused saying what it holds instead.
template <KeyKind K>
Result<EVP_PKEY*> read_pem_file(std::string_view path, Passphrase* pass, const char* what) {
  auto bytes = detail::read_whole_file(path, what);
  if (!bytes) return std::move(bytes).error();
  const std::string where = detail::file_context(what, path);
  const std::vector<std::string> labels = detail::pem_labels(*bytes);
  const bool has_kind = std::any_of(labels.begin(), labels.end(), [](const std::string& l) {
    return HasPrivate<K> ? l.ends_with("PRIVATE KEY") : l == "PUBLIC KEY";
  });
  Result<EVP_PKEY*> key =
      has_kind
          ? read_pem<K>(*bytes, pass, where.c_str(),
                        "give its passphrase: from_pem_file(path, passphrase), or the "
                        "builder's private_key_file(path, passphrase)")
          : Result<EVP_PKEY*>(ErrorStack::message(
                where + " " +
                detail::holds_instead(labels, HasPrivate<K> ? "a private key" : "a public key")));
  OPENSSL_cleanse(bytes->data(), bytes->size());
  return key;
}

}  // namespace

template <KeyKind K>
Result<Pkey<K>> Pkey<K>::from_pem_file(std::string_view path) {
  Passphrase none;
  auto key = read_pem_file<K>(
      path, &none, HasPrivate<K> ? "Pkey<Private>::from_pem_file" : "Pkey<Public>::from_pem_file");
  if (!key) return std::move(key).error();
  return Pkey(*key);
}

template <KeyKind K>
Result<Pkey<K>> Pkey<K>::from_pem_file(std::string_view path,
                                       std::string_view passphrase) requires HasPrivate<K> {
  Passphrase pass{passphrase, true, false};
  auto key = read_pem_file<K>(path, &pass, "Pkey<Private>::from_pem_file");
  if (!key) return std::move(key).error();
  return Pkey(*key);
}

template <KeyKind K>
Result<Pkey<K>> Pkey<K>::from_der(std::span<const std::byte> der) {
  Result<EVP_PKEY*> key = [&] {
    if constexpr (HasPrivate<K>) {
      // d2i_AutoPrivateKey detects PKCS#8 PrivateKeyInfo and the traditional formats.
      return detail::d2i_exact<EVP_PKEY>(d2i_AutoPrivateKey, EVP_PKEY_free, der,
                                         "Pkey<Private>::from_der");
    } else {
      return detail::d2i_exact<EVP_PKEY>(d2i_PUBKEY, EVP_PKEY_free, der, "Pkey<Public>::from_der");
    }
  }();
  if (!key) return std::move(key).error();
  return Pkey(*key);
}

namespace {
template <class... Args>
Result<EVP_PKEY*> keygen(const char* what, const char* type, Args... args) {
  return detail::check_ptr(EVP_PKEY_Q_keygen(nullptr, nullptr, type, args...), what);
}
}  // namespace

template <KeyKind K>
Result<Pkey<K>> Pkey<K>::generate_ec(EcCurve curve) requires HasPrivate<K> {
  // EVP_PKEY_Q_keygen takes the curve as a (non-const) char* vararg.
  char p256[] = "P-256";
  char p384[] = "P-384";
  auto key = keygen("Pkey<Private>::generate_ec", "EC", curve == EcCurve::P256 ? p256 : p384);
  if (!key) return std::move(key).error();
  return Pkey(*key);
}

template <KeyKind K>
Result<Pkey<K>> Pkey<K>::generate_ed25519() requires HasPrivate<K> {
  auto key = keygen("Pkey<Private>::generate_ed25519", "ED25519");
  if (!key) return std::move(key).error();
  return Pkey(*key);
}

template <KeyKind K>
Result<Pkey<K>> Pkey<K>::generate_rsa(unsigned bits) requires HasPrivate<K> {
  if (bits < 2048) {
    return ErrorStack::message("Pkey<Private>::generate_rsa: " + std::to_string(bits) +
                               " bits is too weak (minimum 2048)");
  }
  // The RSA variant of EVP_PKEY_Q_keygen reads its vararg as size_t.
  auto key = keygen("Pkey<Private>::generate_rsa", "RSA", static_cast<std::size_t>(bits));
  if (!key) return std::move(key).error();
  return Pkey(*key);
}

template <KeyKind K>
Result<std::string> Pkey<K>::to_pem() const {
  if (!*this) return this->empty_error("to_pem");
  EVP_PKEY* key = this->native_handle();
  return detail::write_text(
      [key](BIO* bio) {
        if constexpr (HasPrivate<K>) {
          return PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
        } else {
          return PEM_write_bio_PUBKEY(bio, key);
        }
      },
      HasPrivate<K> ? "Pkey<Private>::to_pem" : "Pkey<Public>::to_pem");
}

template <KeyKind K>
Result<std::string> Pkey<K>::to_pem_encrypted(std::string_view passphrase) const requires
    HasPrivate<K> {
  if (!*this) return this->empty_error("to_pem_encrypted");
  if (passphrase.empty()) {
    return ErrorStack::message("Pkey<Private>::to_pem_encrypted: empty passphrase");
  }
  if (passphrase.size() > INT_MAX) {
    return ErrorStack::message("Pkey<Private>::to_pem_encrypted: passphrase too long");
  }
  EVP_PKEY* key = this->native_handle();
  return detail::write_text(
      [&](BIO* bio) {
        // kstr is taken as (char*, length): no NUL terminator is needed or implied.
        return PEM_write_bio_PKCS8PrivateKey(bio, key, EVP_aes_256_cbc(),
                                             const_cast<char*>(passphrase.data()),
                                             static_cast<int>(passphrase.size()), nullptr, nullptr);
      },
      "Pkey<Private>::to_pem_encrypted");
}

template <KeyKind K>
Result<std::vector<std::byte>> Pkey<K>::to_der() const {
  if (!*this) return this->empty_error("to_der");
  if constexpr (HasPrivate<K>) {
    EVP_PKEY* key = this->native_handle();
    return detail::write_bytes(
        [key](BIO* bio) {
          return i2d_PKCS8PrivateKey_bio(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
        },
        "Pkey<Private>::to_der");
  } else {
    return detail::i2d_bytes(i2d_PUBKEY, this->native_handle(), "Pkey<Public>::to_der");
  }
}

template <KeyKind K>
Result<Pkey<Public>> Pkey<K>::public_key() const {
  if (!*this) return this->empty_error("public_key");
  auto der = detail::i2d_bytes(i2d_PUBKEY, this->native_handle(), "Pkey::public_key");
  if (!der) return std::move(der).error();
  return Pkey<Public>::from_der(*der);
}

template <KeyKind K>
int Pkey<K>::bits() const noexcept {
  return *this ? EVP_PKEY_get_bits(this->native_handle()) : 0;
}

template <KeyKind K>
std::string_view Pkey<K>::type_name() const noexcept {
  if (!*this) return {};
  const char* name = EVP_PKEY_get0_type_name(this->native_handle());
  return name != nullptr ? std::string_view(name) : std::string_view();
}

template class Pkey<Private>;
template class Pkey<Public>;

}  // namespace ossl
