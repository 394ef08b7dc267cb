// Private to src/: the verification policy that owns each context's verify callback
// slot, and the binding of sessions to what they were authenticated for.
#pragma once

#include <ossl/crl.hpp>
#include <ossl/ocsp.hpp>
#include <ossl/result.hpp>
#include <ossl/verify.hpp>

#include <openssl/ssl.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ossl::detail {

/// What ossl checks on a client after OpenSSL's own chain and name checks succeeded (a
/// snapshot in the context's CtxState; replaced whole, never changed in place). The
/// member defaults are OpenSSL's behaviour; the client builder sets ossl's defaults.
struct VerifyPolicy {
  /// A client connection must name the host it expects (builder contexts): a verified
  /// leaf with no host or IP to match fails with X509_V_ERR_APPLICATION_VERIFICATION.
  bool require_host = false;
  /// False: host matching never falls back to the subject CN, whatever flags the
  /// connection set (X509_CHECK_FLAG_NEVER_CHECK_SUBJECT is added for the verification).
  bool match_subject_cn = true;
  /// True: a leaf with basicConstraints CA:TRUE is refused.
  bool refuse_ca_leaf = false;
  /// When not empty, some certificate of the verified chain must have one of these keys.
  std::vector<SpkiPin> pins;
  /// The caller's check, run after the pins.
  VerifyHook hook;
  /// What to do with a stapled OCSP response (src/ocsp.cpp, after the handshake's
  /// certificate checks). Must-staple certificates are honoured in every policy.
  OcspPolicy ocsp = OcspPolicy::Off;
  /// CRLs offered to every verification ahead of the trust store's (OpenSSL uses a
  /// valid one of these first), and the same as a stack for X509_STORE_CTX_set0_crls,
  /// built by set_verify_policy() (it borrows the references `crls` holds).
  std::vector<X509Crl> crls;
  std::shared_ptr<STACK_OF(X509_CRL)> crl_stack;
  /// Set by set_verify_policy(): sessions are bound to the generation they were
  /// verified under.
  std::uint64_t generation = 0;
};

/// Computes the SHA-256 digest of `cert`'s DER SubjectPublicKeyInfo into `out`; false
/// (an error queued) on failure. (i2d_X509_PUBKEY, EVP_Digest)
[[nodiscard]] bool spki_sha256(::X509* cert, std::array<std::byte, 32>& out) noexcept;

/// Returns the first DNS name a verification checks, or its IP address as text; empty
/// when it checks neither. Leaves the caller's error queue as it was.
/// (X509_VERIFY_PARAM_get0_host, X509_VERIFY_PARAM_get1_ip_asc)
[[nodiscard]] std::string expected_host(X509_VERIFY_PARAM* param);

/// Returns the reason ossl's verification recorded when it refused the connection's
/// peer, or null. Shared: the connection keeps its own reference.
[[nodiscard]] std::shared_ptr<const std::string> verify_reason(const SSL* ssl) noexcept;

/// Makes ossl the owner of the context's verify slot and certificate verification slot:
/// installs the trampoline (keeping the mode as it is) and the callback that runs
/// X509_verify_cert() and then ossl's checks. Attaches the CtxState if missing. Returns
/// the queued error when the state cannot be attached. (SSL_CTX_set_verify with
/// SSL_CTX_get_verify_mode, SSL_CTX_set_cert_verify_callback)
[[nodiscard]] Result<void> own_verify_slot(SSL_CTX* ctx, const char* what);

/// Returns true when the context's verify callback is ossl's trampoline.
[[nodiscard]] bool owns_verify_slot(const SSL_CTX* ctx) noexcept;

/// Replaces the context's verification policy (a new snapshot); handshakes in flight
/// finish with the one they loaded. The context must own its verify slot.
[[nodiscard]] Result<void> set_verify_policy(SSL_CTX* ctx, VerifyPolicy policy, const char* what);

/// Replaces the CRLs of the context's policy (a new snapshot, copied from the current
/// one or from the defaults when there is none; serialised with other such updates).
[[nodiscard]] Result<void> set_policy_crls(SSL_CTX* ctx, std::vector<X509Crl> crls,
                                           const char* what);

/// Returns true when the connection's verify callback is still ossl's trampoline (the
/// caller did not take verification over with a callback of its own).
[[nodiscard]] bool connection_uses_policy(const SSL* ssl) noexcept;

/// Refuses the peer after the chain was verified (a later check, such as the stapled
/// OCSP response, failed): unbinds the session, sets the connection's verify result to
/// `code`, queues a record with `reason` and keeps it for Ssl::verify_result().
void refuse_after_verification(SSL* ssl, long code, std::string reason);

/// Why a check refused the peer: an X509_V_* code and ossl's reason (X509_V_OK: passed).
struct Refusal {
  long code = X509_V_OK;
  std::string reason;
};

/// Checks the OCSP response the server stapled on `ssl` (or its absence) against
/// `policy` and the verified `chain` (leaf first): presence (Required, must-staple),
/// signer, certificate, validity window, status. Defined in src/ocsp.cpp.
[[nodiscard]] Refusal check_stapled_ocsp(SSL* ssl, const VerifyPolicy& policy,
                                         STACK_OF(X509) * chain);

/// Makes a client context ask for stapled OCSP responses and check them under its
/// policy's OcspPolicy (installs ossl's status callback once). Defined in src/ocsp.cpp.
/// (SSL_CTX_set_tlsext_status_cb, SSL_CTX_set_tlsext_status_type)
[[nodiscard]] Result<void> enable_ocsp_client(SSL_CTX* ctx, const char* what);

/// Checks that `session` was authenticated for what `ssl` would verify now: made by a
/// connection of the same context (this process), with the same verification mode,
/// host names or IP and host flags. On success the connection's session id context is
/// set to the session's binding, which OpenSSL's client compares when the server
/// resumes. Errors say which part differs, or that the session carries no binding
/// (made by a context whose verify slot ossl does not own, in another process, or its
/// verification failed).
[[nodiscard]] Result<void> check_session_binding(SSL* ssl, const SSL_SESSION* session,
                                                 const char* what);

/// A SHA-256 digest.
using Sha256 = std::array<unsigned char, 32>;

/// The SHA-256 digests of the certificates and of the CRLs a trust store holds, each
/// list sorted. A snapshot: stores with lookup directories gain certificates as
/// verifications load them. (X509_STORE_get1_objects on 3.3+, else get0; X509_digest,
/// X509_CRL_digest)
struct StoreDigests {
  std::vector<Sha256> certs;
  std::vector<Sha256> crls;
};
[[nodiscard]] Result<StoreDigests> store_digests(X509_STORE* store, const char* what);

/// Returns a SHA-256 over everything a client context's verification depends on, the
/// same in any process for contexts configured alike: the verify mode and parameters
/// (depth, flags, host flags, authentication level), the security level, ossl's policy
/// (host rule, CN and CA-leaf switches, pins, CRLs, OCSP policy, and `hook_label` for a
/// verification hook, which cannot be fingerprinted: a context with a hook and an empty
/// label is refused), and the trust (the store's certificates and CRLs; for the system's
/// trust locations, their names, sizes and modification times plus what the context's
/// setters added). Fails when ossl does not own the context's verification.
[[nodiscard]] Result<Sha256> verification_fingerprint(SSL_CTX* ctx, std::string_view hook_label,
                                                      const char* what);

/// Binds `session` to what `ssl` verifies now (its context, current policy generation,
/// mode, host and host flags), as a handshake verified by `ssl` would have: for a
/// session read back from storage whose verification fingerprint matched.
/// (SSL_SESSION_set1_id_context)
[[nodiscard]] Result<void> bind_session(SSL* ssl, SSL_SESSION* session, const char* what);

/// Called before a handshake whose connection was offered a session through
/// Ssl::set_session(), with the thread's error queue empty: when the host, mode or
/// flags changed since, the session is withdrawn (SSL_set_session(ssl, nullptr)) so
/// that a full, verified handshake runs. Leaves the queue empty.
void recheck_offered_session(SSL* ssl) noexcept;

}  // namespace ossl::detail
