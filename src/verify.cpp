#include <ossl/verify.hpp>

#include "ctx_state.hpp"
#include "siphash.hpp"
#include "verify_policy.hpp"

#include <ossl/detail/check.hpp>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509_vfy.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <string>

namespace ossl {

std::string_view VerifyResult::message() const noexcept {
  if (!checked) return "no peer certificate was verified";
  return X509_verify_cert_error_string(code);
}

namespace detail {

namespace {

constexpr const char* kNoHostMessage =
    "the connection names no host to check the server certificate against: create it "
    "with SslCtx::new_ssl_for_host(), call Ssl::set_peer_host(), or give the builder "
    "verify_hostname() (danger_skip_hostname_verification() turns this check off)";

// ------------------------------------------------------------------ session binding
//
// A client session is bound to what its handshake verified: the context (its trust and
// settings), the verification mode, the host names or IP the leaf was checked against,
// and the host flags. The binding is two keyed hashes (SipHash-2-4 under a random key
// drawn once per process) kept in the session's session id context, a 32-byte field a
// client session does not otherwise use; OpenSSL copies it into every session the
// connection makes (TLS 1.3 tickets included) and serialises it with the session. It
// costs no allocation. Bytes 0-7 cover the context, mode and flags; bytes 8-15 also the
// host, so an error can say which of the two differs.

constexpr unsigned int kTagSize = 16;
using Tag = std::array<unsigned char, kTagSize>;

struct ProcessKey {
  std::uint64_t k[4] = {};
  bool ok = false;
};

const ProcessKey& process_key() noexcept {
  static const ProcessKey key = [] {
    ProcessKey pk;
    unsigned char bytes[sizeof pk.k];
    ERR_set_mark();
    pk.ok = RAND_bytes(bytes, sizeof bytes) == 1;
    ERR_pop_to_mark();
    std::memcpy(pk.k, bytes, sizeof bytes);
    OPENSSL_cleanse(bytes, sizeof bytes);
    return pk;
  }();
  return key;
}

// Writes `v` as 8 little-endian bytes at `out`.
void put_u64(std::byte* out, std::uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i)
    out[i] = static_cast<std::byte>(v >> (8 * i));
}

// Absorbs one identity (kind 1: a DNS name, 2: an IP address) as kind, length, bytes.
void absorb_identity(SipHash24& h, std::uint64_t kind, const char* text) noexcept {
  const std::size_t n = std::strlen(text);
  std::byte prefix[16];
  put_u64(prefix, kind);
  put_u64(prefix + 8, n);
  h.update(prefix);
  h.update(std::as_bytes(std::span(text, n)));
}

// Computes the binding of what `ssl` would verify now; false when the context state or
// the random key is unavailable (an error is queued). Both hashes take the same header
// (context id, mode, host flags) in one piece; the second then takes the identities.
bool binding_tag(SSL* ssl, Tag& out) noexcept {
  const ProcessKey& key = process_key();
  CtxState* state = ctx_state(SSL_get_SSL_CTX(ssl));
  if (!key.ok || state == nullptr) {
    ERR_raise_data(ERR_LIB_SSL, ERR_R_INTERNAL_ERROR, "no session binding key");
    return false;
  }
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);  // get0: the connection's own
  std::byte header[24];
  put_u64(header, state->id);
  put_u64(header + 8, static_cast<std::uint64_t>(SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER));
  put_u64(header + 16, X509_VERIFY_PARAM_get_hostflags(param));
  SipHash24 ctx_part(key.k[0], key.k[1]);
  ctx_part.update(header);
  SipHash24 full(key.k[2], key.k[3]);
  full.update(header);
  int hosts = 0;
  for (const char* host; (host = X509_VERIFY_PARAM_get0_host(param, hosts)) != nullptr; ++hosts)
    absorb_identity(full, 1, host);  // get0
  // The IP is read only when no DNS name is set: ossl sets one or the other per
  // connection (Ssl::set_peer_host clears the other kind). get1_ip_asc queues an error
  // when no IP is set, which OpenSSL 3.0 records with two allocations, so it is asked
  // only where an IP is the expected identity; the caller's queue is kept as it was.
  if (hosts == 0) {
    ERR_set_mark();
    char* ip = X509_VERIFY_PARAM_get1_ip_asc(param);  // get1: ours to free
    ERR_pop_to_mark();
    if (ip != nullptr) absorb_identity(full, 2, ip);
    OPENSSL_free(ip);
  }
  const std::uint64_t halves[2] = {ctx_part.finish(), full.finish()};
  std::memcpy(out.data(), halves, sizeof halves);
  return true;
}

// Unbinds the session being established (its verification failed): it never resumes
// anywhere. (SSL_SESSION_set1_id_context with length 0)
void unbind(SSL* ssl) noexcept {
  if (SSL_SESSION* s = SSL_get_session(ssl)) (void)SSL_SESSION_set1_id_context(s, nullptr, 0);
}

// --------------------------------------------------------------------- trampoline
//
// The one verify callback of every context whose slot ossl owns. OpenSSL calls it for
// each certificate it checks, and again for each error; the leaf (depth 0) comes last
// on success. It never accepts what OpenSSL refused (returns preverify_ok when that is
// 0), so no check here can weaken verification. On a client it then applies the
// context's VerifyPolicy and binds the new session to what was verified.
int verify_trampoline(int preverify_ok, X509_STORE_CTX* store) {
  auto* ssl = static_cast<SSL*>(
      X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));  // get0
  if (ssl == nullptr) return preverify_ok;
  if (preverify_ok != 1) {
    if (SSL_is_server(ssl) == 0) unbind(ssl);
    return 0;
  }
  if (X509_STORE_CTX_get_error_depth(store) != 0 || SSL_is_server(ssl) == 1) return 1;

  const CtxState* state = find_ctx_state(SSL_get_SSL_CTX(ssl));
  const std::shared_ptr<const VerifyPolicy> policy =
      state != nullptr ? state->verify.load() : nullptr;
  if (policy && policy->require_host) {
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(store);  // get0: the store's
    bool named = X509_VERIFY_PARAM_get0_host(param, 0) != nullptr;
    if (!named) {
      ERR_set_mark();  // get1_ip_asc queues an error when no IP is set
      char* ip = X509_VERIFY_PARAM_get1_ip_asc(param);
      ERR_pop_to_mark();
      named = ip != nullptr;
      OPENSSL_free(ip);
    }
    if (!named) {
      unbind(ssl);
      X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
      ERR_raise_data(ERR_LIB_USER, ERR_R_OPERATION_FAIL, "%s", kNoHostMessage);
      return 0;
    }
  }
  Tag tag;
  SSL_SESSION* session = SSL_get_session(ssl);  // get0: the session being established
  ERR_set_mark();
  if (session == nullptr || !binding_tag(ssl, tag) ||
      SSL_SESSION_set1_id_context(session, tag.data(), kTagSize) != 1) {
    unbind(ssl);  // not resumable through ossl, but the handshake itself is sound
  }
  ERR_pop_to_mark();
  return 1;
}

}  // namespace

Result<void> own_verify_slot(SSL_CTX* ctx, const char* what) {
  if (ctx_state(ctx) == nullptr) return failure(what);
  SSL_CTX_set_verify(ctx, SSL_CTX_get_verify_mode(ctx), verify_trampoline);
  return {};
}

bool owns_verify_slot(const SSL_CTX* ctx) noexcept {
  return SSL_CTX_get_verify_callback(ctx) == verify_trampoline;
}

Result<void> set_verify_policy(SSL_CTX* ctx, VerifyPolicy policy, const char* what) {
  CtxState* state = ctx_state(ctx);
  if (state == nullptr) return failure(what);
  auto snapshot = std::make_shared<const VerifyPolicy>(policy);
  state->verify.store(std::move(snapshot));
  return {};
}

Result<void> check_session_binding(SSL* ssl, const SSL_SESSION* session, const char* what) {
  unsigned int len = 0;
  const unsigned char* bound = SSL_SESSION_get0_id_context(session, &len);  // get0
  if (len != kTagSize) {
    return ErrorStack::message(
        std::string(what) +
        ": the session carries no record of what it was authenticated for (it was made by "
        "a context whose verification ossl does not own, by another process, or its "
        "verification failed); it cannot be resumed here");
  }
  Tag tag;
  if (!binding_tag(ssl, tag)) return failure(what);
  if (CRYPTO_memcmp(bound, tag.data(), 8) != 0) {
    return ErrorStack::message(
        std::string(what) +
        ": the session was authenticated by another context or with other verification "
        "settings (mode or host flags); resuming it here would skip this context's "
        "verification");
  }
  if (CRYPTO_memcmp(bound + 8, tag.data() + 8, 8) != 0) {
    return ErrorStack::message(
        std::string(what) +
        ": the session was authenticated for another host (or IP) than this connection "
        "names; set the host first (new_ssl_for_host / set_peer_host), then the session");
  }
  // OpenSSL's client compares the connection's session id context with the session's
  // when the server resumes, and fails the handshake on a difference ("attempt to
  // reuse session in different context"): a raw SSL_set_session() of a bound session
  // on a connection ossl did not prepare fails there.
  return check_positive(SSL_set_session_id_context(ssl, tag.data(), kTagSize), what);
}

void recheck_offered_session(SSL* ssl) noexcept {
  if (SSL_in_before(ssl) != 1) return;
  SSL_SESSION* session = SSL_get_session(ssl);  // get0
  if (session == nullptr) return;
  unsigned int len = 0;
  const unsigned char* bound = SSL_SESSION_get0_id_context(session, &len);
  Tag tag;
  bool computed = len == kTagSize && binding_tag(ssl, tag);
  // binding_tag queues a record only when it fails (no memory, no random key); the
  // caller emptied the queue just before, so what is there now is only that record.
  if (!computed && ERR_peek_error() != 0) ERR_clear_error();
  if (!computed || CRYPTO_memcmp(bound, tag.data(), kTagSize) != 0) {
    (void)SSL_set_session(ssl, nullptr);  // a full handshake, verified as configured
  }
}

}  // namespace detail
}  // namespace ossl
