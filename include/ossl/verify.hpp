// ossl: verification beyond the chain. VerifyResult, the outcome of certificate
// verification on a connection; SpkiPin, a public key pin; VerifyHook, the caller's own
// check. The verification policy behind them (the callbacks ossl installs on every
// context it makes, the order of the checks, the builder's defaults and the binding of
// sessions to what they were authenticated for) is described in docs/verification.md.
#pragma once

#include <ossl/detail/export.hpp>
#include <ossl/result.hpp>
#include <ossl/x509.hpp>

#include <openssl/x509_vfy.h>

#include <array>
#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace ossl {

/// The certificate verification result of a connection: OpenSSL's X509_V_* code, and
/// whether there was a peer certificate to verify at all. Before the handshake, and on
/// a server whose client sent no certificate, nothing was verified: ok() is false and
/// message() says so, although OpenSSL's code reads X509_V_OK then.
struct OSSL_API VerifyResult {
  long code = X509_V_OK;  ///< The X509_V_* code (SSL_get_verify_result).
  /// True when a peer certificate was checked, so that `code` is the outcome: the peer
  /// presented one (or the resumed session holds one), or its verification failed.
  /// (SSL_get0_peer_certificate, SSL_get_verify_result)
  bool checked = false;
  /// ossl's own explanation when one of its checks refused the certificate after
  /// OpenSSL's (a pin mismatch, the verification hook's reason, a CA certificate
  /// presented as the leaf, a host named only in the subject CN); null otherwise.
  /// Shared with the connection, so a copy costs no allocation.
  std::shared_ptr<const std::string> reason;
  /// Returns true when a peer certificate was verified and passed (X509_V_OK).
  [[nodiscard]] bool ok() const noexcept { return checked && code == X509_V_OK; }
  /// Returns ossl's reason when it has one, else OpenSSL's text for the code, e.g.
  /// "hostname mismatch", or "no peer certificate was verified" when there was none.
  /// The text lives as long as this result. (X509_verify_cert_error_string)
  [[nodiscard]] std::string_view message() const noexcept;
};

/// A public key pin: the SHA-256 digest of a certificate's DER SubjectPublicKeyInfo, the
/// form of RFC 7469's pin-sha256 (and of curl's --pinnedpubkey "sha256//..."). A pin
/// names a key, not a certificate, so it survives the certificate's renewal with the same
/// key. Copyable, compared by value.
class OSSL_API SpkiPin {
 public:
  /// Parses a pin in base64 (44 characters, as `openssl x509 -pubkey | openssl pkey
  /// -pubin -outform der | openssl dgst -sha256 -binary | base64` prints it), optionally
  /// prefixed with "sha256/" or "sha256//". Errors name the text and what is wrong
  /// with it (length, alphabet, padding). (EVP_DecodeBlock)
  [[nodiscard]] static Result<SpkiPin> from_base64(std::string_view text);
  /// Computes the pin of `cert`'s public key. (X509_get_X509_PUBKEY, i2d_X509_PUBKEY,
  /// EVP_Digest with SHA-256)
  [[nodiscard]] static Result<SpkiPin> of(const X509& cert);
  /// Makes a pin from its 32 digest bytes.
  [[nodiscard]] static SpkiPin from_digest(const std::array<std::byte, 32>& digest) noexcept {
    SpkiPin pin;
    pin.digest_ = digest;
    return pin;
  }
  /// Returns the pin as 44 characters of base64, without a prefix. (EVP_EncodeBlock)
  [[nodiscard]] std::string to_base64() const;
  /// Returns the 32 digest bytes.
  [[nodiscard]] const std::array<std::byte, 32>& digest() const noexcept { return digest_; }
  /// Returns true when both pin the same key.
  friend bool operator==(const SpkiPin&, const SpkiPin&) = default;

 private:
  std::array<std::byte, 32> digest_{};
};

/// What a VerifyHook sees: the chain OpenSSL verified and the name it was verified for.
/// Both are views valid only during the hook's call.
struct VerifiedPeer {
  /// The verified chain, leaf first, the trust anchor last (X509_STORE_CTX_get0_chain).
  std::span<const X509> chain;
  /// The DNS name or IP address (text) the leaf was matched against; empty when the
  /// connection named none (allowed only with danger_skip_hostname_verification()).
  std::string_view host;
};

/// What a VerifyHook decides: accept, or reject with a reason that becomes part of the
/// handshake's error and of Ssl::verify_result().message().
class OSSL_API VerifyVerdict {
 public:
  /// The peer passes this check.
  [[nodiscard]] static VerifyVerdict accept() noexcept { return VerifyVerdict(); }
  /// The peer fails, because of `reason` (an empty reason is reported as "rejected by
  /// the verification hook").
  [[nodiscard]] static VerifyVerdict reject(std::string reason) {
    VerifyVerdict v;
    v.accepted_ = false;
    v.reason_ = std::move(reason);
    return v;
  }
  /// Returns true for accept().
  [[nodiscard]] bool accepted() const noexcept { return accepted_; }
  /// Returns the reason given to reject() (empty for accept()).
  [[nodiscard]] const std::string& reason() const noexcept { return reason_; }

 private:
  VerifyVerdict() = default;
  bool accepted_ = true;
  std::string reason_;
};

/// A check of the caller's own, run once per handshake on a client after every check of
/// OpenSSL's and ossl's passed (chain, name, revocation, pins), never when one failed:
/// it can refuse a peer, never accept one OpenSSL refused. It runs on the thread doing
/// the handshake, concurrently for concurrent handshakes, and must not block for long.
/// An exception it throws is caught and rejects the peer, naming the exception.
using VerifyHook = std::function<VerifyVerdict(const VerifiedPeer&)>;

/// How much of the chain a client checks against the CRLs it was given.
enum class CrlCheck {
  Leaf,   ///< The server's certificate only. (X509_V_FLAG_CRL_CHECK)
  Chain,  ///< Every certificate of the chain. (X509_V_FLAG_CRL_CHECK | CRL_CHECK_ALL)
};

}  // namespace ossl
