#include <ossl/pkcs12.hpp>

#include "internal.hpp"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <cstring>
#include <memory>
#include <string>

namespace ossl {

namespace {

// Runs `f(const char*)` on a NUL-terminated copy of a secret, wiping the copy after
// (OPENSSL_cleanse: a memset the compiler may not drop). An embedded NUL is an error:
// OpenSSL would silently use only the part before it.
template <class F>
auto with_secret(std::string_view secret, std::string_view what, F&& f) -> decltype(f("")) {
  if (auto nul = secret.find('\0'); nul != std::string_view::npos) {
    return ErrorStack::message(std::string(what) + ": embedded NUL byte in the passphrase");
  }
  std::vector<char> copy(secret.size() + 1, '\0');
  if (!secret.empty()) std::memcpy(copy.data(), secret.data(), secret.size());
  auto result = f(static_cast<const char*>(copy.data()));
  OPENSSL_cleanse(copy.data(), copy.size());
  return result;
}

struct StackFree {
  void operator()(STACK_OF(X509) * sk) const noexcept { ossl_sk_x509_pop_free(sk); }
};
using OwnedStack = std::unique_ptr<STACK_OF(X509), StackFree>;

// Names the cause of a PKCS12_parse failure from the records it queued.
ErrorStack parse_failure(ErrorStack records) {
  const char* why = "could not parse the archive (corrupt or not PKCS#12)";
  if (records.contains(ERR_LIB_PKCS12, PKCS12_R_MAC_VERIFY_FAILURE)) {
    why = "wrong passphrase (the archive's MAC does not verify)";
  } else if (records.contains(ERR_LIB_EVP, ERR_R_UNSUPPORTED) ||
             records.contains(ERR_LIB_EVP, EVP_R_UNSUPPORTED_ALGORITHM) ||
             records.contains(ERR_LIB_EVP, EVP_R_UNSUPPORTED_CIPHER)) {
    why =
        "the archive uses an algorithm no loaded provider offers (RC2-40 and other legacy "
        "ciphers of OpenSSL 1.x and older Windows exports need OpenSSL's legacy provider); "
        "re-export it with AES, or load the \"legacy\" and \"default\" providers";
  }
  ErrorRecord rec;
  rec.library = "ossl";
  rec.reason = why;
  records.push(std::move(rec));
  return std::move(records).with_context("Pkcs12::parse");
}

}  // namespace

Result<Pkcs12> Pkcs12::from_der(std::span<const std::byte> der) {
  auto p12 = detail::d2i_exact<PKCS12>(d2i_PKCS12, PKCS12_free, der, "Pkcs12::from_der");
  if (!p12) return std::move(p12).error();
  return Pkcs12(*p12);
}

Result<Pkcs12> Pkcs12::create(std::string_view passphrase, const Pkey<Private>& key,
                              const X509& cert, std::span<const X509> chain,
                              std::string_view friendly_name) {
  if (!key) return ErrorStack::message("Pkcs12::create: empty key");
  if (!cert) return ErrorStack::message("Pkcs12::create: empty certificate");
  // PKCS12_create does not check the pair; an archive whose key does not match its
  // certificate would fail only when a server tries to use it.
  if (X509_check_private_key(cert.native_handle(), key.native_handle()) != 1) {
    return detail::failure("Pkcs12::create: the key does not match the certificate");
  }
  // The stack borrows the chain's certificates; PKCS12_create copies what it needs.
  STACK_OF(X509)* ca = nullptr;
  if (!chain.empty()) {
    ca = ossl_sk_x509_new_null();
    if (ca == nullptr) return detail::failure("Pkcs12::create");
    for (std::size_t i = 0; i < chain.size(); ++i) {
      if (!chain[i]) {
        ossl_sk_x509_free(ca);
        return ErrorStack::message("Pkcs12::create: empty certificate in the chain at index " +
                                   std::to_string(i));
      }
      if (ossl_sk_x509_push(ca, chain[i].native_handle()) <= 0) {
        ossl_sk_x509_free(ca);
        return detail::failure("Pkcs12::create");
      }
    }
  }
  auto made = with_secret(passphrase, "Pkcs12::create", [&](const char* pass) -> Result<PKCS12*> {
    return detail::with_cstr(
        friendly_name, "Pkcs12::create: friendly name", [&](const char* name) -> Result<PKCS12*> {
          // Zeros pick OpenSSL's defaults (AES-256-CBC, PBKDF2,
          // HMAC-SHA-256 MAC, 2048 iterations in OpenSSL 3).
          return detail::check_ptr(
              PKCS12_create(pass, friendly_name.empty() ? nullptr : name, key.native_handle(),
                            cert.native_handle(), ca, 0, 0, 0, 0, 0),
              "Pkcs12::create");
        });
  });
  ossl_sk_x509_free(ca);  // null-safe; frees the stack, not the borrowed certificates
  if (!made) return std::move(made).error();
  return Pkcs12(*made);
}

Result<ParsedPkcs12> Pkcs12::parse(std::string_view passphrase) const {
  if (!*this) return empty_error("parse");
  detail::clear_error_queue();  // the records that follow must be this call's
  return with_secret(passphrase, "Pkcs12::parse", [&](const char* pass) -> Result<ParsedPkcs12> {
    EVP_PKEY* raw_key = nullptr;
    ::X509* raw_cert = nullptr;
    STACK_OF(X509)* raw_ca = nullptr;
    // On failure PKCS12_parse frees whatever it had set and leaves all three null.
    // An empty passphrase makes it try both "no passphrase" and "" (they differ in
    // PKCS#12's key derivation).
    if (PKCS12_parse(native_handle(), pass, &raw_key, &raw_cert, &raw_ca) != 1) {
      return parse_failure(ErrorStack::drain());
    }
    OwnedStack ca(raw_ca);
    ParsedPkcs12 out;
    // Each pointer is ours (PKCS12_parse hands over one reference of each).
    if (raw_key != nullptr) out.key = *Pkey<Private>::adopt(raw_key);
    if (raw_cert != nullptr) {
      detail::cache_extensions(raw_cert);
      out.cert = *X509::adopt(raw_cert);
    }
    if (ca) {
      const int n = ossl_sk_x509_num(ca.get());
      out.chain.reserve(static_cast<std::size_t>(n));
      for (int i = 0; i < n; ++i) {
        ::X509* c = ossl_sk_x509_value(ca.get(), i);
        detail::cache_extensions(c);
        out.chain.push_back(*X509::share(c));  // up-ref: the stack's reference is freed below
      }
    }
    return out;
  });
}

Result<std::vector<std::byte>> Pkcs12::to_der() const {
  if (!*this) return empty_error("to_der");
  return detail::i2d_bytes(i2d_PKCS12, native_handle(), "Pkcs12::to_der");
}

}  // namespace ossl
