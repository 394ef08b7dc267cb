#include <ossl/verify.hpp>

#include "ctx_state.hpp"
#include "explain.hpp"
#include "internal.hpp"
#include "siphash.hpp"
#include "verify_policy.hpp"

#include <ossl/detail/check.hpp>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/rand.h>
#include <openssl/x509_vfy.h>

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <ctime>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace ossl {

std::string_view VerifyResult::message() const noexcept {
  if (reason && !reason->empty()) return *reason;
  if (!checked) return "no peer certificate was verified";
  return X509_verify_cert_error_string(code);
}

// -------------------------------------------------------------------------- SpkiPin

Result<SpkiPin> SpkiPin::from_base64(std::string_view text) {
  const std::string_view original = text;
  // The prefix is told by the length: base64 may itself start with '/', so
  // "sha256//AB..." is curl's prefix and 44 characters, or "sha256/" and 45.
  for (std::string_view prefix : {"sha256//", "sha256/"}) {
    if (text.starts_with(prefix) && text.size() == prefix.size() + 44) {
      text.remove_prefix(prefix.size());
      break;
    }
  }
  auto bad = [&](const char* why) {
    return ErrorStack::message("SpkiPin::from_base64: \"" + std::string(original) + "\" " + why);
  };
  // 32 bytes are 43 base64 characters and one '=' of padding.
  if (text.size() != 44) {
    return bad("is not a SHA-256 pin: expected 44 base64 characters (32 bytes)");
  }
  if (text[43] != '=' || text[42] == '=') return bad("is not padded as 32 bytes are ('=' last)");
  for (std::size_t i = 0; i < 43; ++i) {
    const char c = text[i];
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '+' || c == '/';
    if (!ok) return bad("holds a character outside the base64 alphabet");
  }
  unsigned char out[33];  // 44 characters decode to 33 bytes, the last from the padding
  if (EVP_DecodeBlock(out, reinterpret_cast<const unsigned char*>(text.data()), 44) != 33) {
    return bad("is not valid base64");
  }
  SpkiPin pin;
  std::memcpy(pin.digest_.data(), out, pin.digest_.size());
  return pin;
}

Result<SpkiPin> SpkiPin::of(const X509& cert) {
  if (!cert) return ErrorStack::message("SpkiPin::of: empty X509 (moved from or released)");
  SpkiPin pin;
  if (!detail::spki_sha256(cert.native_handle(), pin.digest_))
    return detail::failure("SpkiPin::of");
  return pin;
}

std::string SpkiPin::to_base64() const {
  unsigned char out[45];  // 44 characters and the NUL EVP_EncodeBlock writes
  const int n = EVP_EncodeBlock(out, reinterpret_cast<const unsigned char*>(digest_.data()),
                                static_cast<int>(digest_.size()));
  return std::string(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
}

namespace detail {

bool spki_sha256(::X509* cert, std::array<std::byte, 32>& out) noexcept {
  // get0: the certificate's own SubjectPublicKeyInfo; i2d allocates the DER copy.
  const X509_PUBKEY* spki = X509_get_X509_PUBKEY(cert);
  unsigned char* der = nullptr;
  const int len = spki != nullptr ? i2d_X509_PUBKEY(spki, &der) : -1;
  unsigned int md_len = 0;
  const bool ok = len > 0 && EVP_Digest(der, static_cast<std::size_t>(len),
                                        reinterpret_cast<unsigned char*>(out.data()), &md_len,
                                        EVP_sha256(), nullptr) == 1;
  OPENSSL_free(der);
  return ok && md_len == out.size();
}

namespace {

constexpr const char* kNoHostMessage =
    "the connection names no host to check the server certificate against: create it "
    "with SslCtx::new_ssl_for_host(), call Ssl::set_peer_host(), or give the builder "
    "verify_hostname() (danger_skip_hostname_verification() turns this check off)";

// ------------------------------------------------------------------- refusal reason
//
// ossl's explanation of a refusal is kept beside the connection (an SSL ex_data slot
// holding a shared_ptr<const std::string>, allocated only when a check refuses), so
// that Ssl::verify_result() can give it. SSL_dup() must not share the pointer: the
// dup callback leaves the copy without one.

using Reason = std::shared_ptr<const std::string>;

int reason_index() noexcept {
  static const int index = SSL_get_ex_new_index(
      0, nullptr, nullptr,
      [](CRYPTO_EX_DATA*, const CRYPTO_EX_DATA*, void** from_d, int, long, void*) -> int {
        *from_d = nullptr;  // what the copy will hold: it starts without a reason
        return 1;
      },
      [](void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
        delete static_cast<Reason*>(ptr);
      });
  return index;
}

// Records `text` as the connection's refusal reason (replacing an earlier one). A
// failure to allocate or store it leaves the connection without one: OpenSSL's code
// and the queued record still say what failed.
void set_reason(SSL* ssl, std::string text) {
  const int index = reason_index();
  if (index < 0) return;
  auto* fresh = new Reason(std::make_shared<const std::string>(std::move(text)));
  auto* old = static_cast<Reason*>(SSL_get_ex_data(ssl, index));
  if (SSL_set_ex_data(ssl, index, fresh) != 1) {
    delete fresh;
    return;
  }
  delete old;
}

// ------------------------------------------------------------------ session binding
//
// A client session is bound to what its handshake verified: the context (its trust and
// settings), the generation of its verification policy, the verification mode, the
// host names or IP the leaf was checked against, and the host flags. The binding is two
// keyed hashes (SipHash-2-4 under a random key drawn once per process) kept in the
// session's session id context, a 32-byte field a client session does not otherwise
// use; OpenSSL copies it into every session the connection makes (TLS 1.3 tickets
// included) and serialises it with the session. It costs no allocation. Bytes 0-7
// cover the context, policy, mode and flags; bytes 8-15 also the host, so an error can
// say which of the two differs.

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
// (context id, policy generation, mode, host flags) in one piece; the second then takes
// the identities.
bool binding_tag(SSL* ssl, std::uint64_t generation, Tag& out) noexcept {
  const ProcessKey& key = process_key();
  CtxState* state = ctx_state(SSL_get_SSL_CTX(ssl));
  if (!key.ok || state == nullptr) {
    raise_error(ERR_LIB_SSL, ERR_R_INTERNAL_ERROR, "session binding", "no session binding key");
    return false;
  }
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);  // get0: the connection's own
  std::byte header[32];
  put_u64(header, state->id);
  put_u64(header + 8, generation);
  put_u64(header + 16, static_cast<std::uint64_t>(SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER));
  put_u64(header + 24, X509_VERIFY_PARAM_get_hostflags(param));
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

// Returns the generation of the context's current verification policy (0: none).
std::uint64_t current_generation(SSL* ssl) noexcept {
  const CtxState* state = find_ctx_state(SSL_get_SSL_CTX(ssl));
  const std::shared_ptr<const VerifyPolicy> policy =
      state != nullptr ? state->verify.load() : nullptr;
  return policy ? policy->generation : 0;
}

// Binds the session being established to what was just verified under the policy of
// `generation`. A failure leaves it unbound (not resumable through ossl), which does
// not affect the handshake itself.
void bind(SSL* ssl, std::uint64_t generation) noexcept {
  Tag tag;
  SSL_SESSION* session = SSL_get_session(ssl);  // get0: the session being established
  ERR_set_mark();
  if (session == nullptr || !binding_tag(ssl, generation, tag) ||
      SSL_SESSION_set1_id_context(session, tag.data(), kTagSize) != 1) {
    unbind(ssl);
  }
  ERR_pop_to_mark();
}

}  // namespace

Result<void> bind_session(SSL* ssl, SSL_SESSION* session, const char* what) {
  Tag tag;
  if (!binding_tag(ssl, current_generation(ssl), tag)) return failure(what);
  return check_positive(SSL_SESSION_set1_id_context(session, tag.data(), kTagSize), what);
}

// ------------------------------------------------------------------ fingerprint
//
// What a persisted session is bound to across processes (the binding above is keyed
// per process and per context): a SHA-256 over a labelled, length-prefixed encoding of
// every setting the client's verification reads.

Result<StoreDigests> store_digests(X509_STORE* store, const char* what) {
#if OPENSSL_VERSION_NUMBER >= 0x30300000L
  // get1: a snapshot of the objects, each up-referenced, taken under the store's lock.
  STACK_OF(X509_OBJECT)* objects = X509_STORE_get1_objects(store);
  if (objects == nullptr) return failure(what);
  struct Free {
    void operator()(STACK_OF(X509_OBJECT) * s) const {
      sk_X509_OBJECT_pop_free(s, X509_OBJECT_free);
    }
  };
  const std::unique_ptr<STACK_OF(X509_OBJECT), Free> owned(objects);
#else
  // get0: the store's own list, read under its lock (lookup directories add to it).
  if (X509_STORE_lock(store) != 1) return failure(what);
  struct Unlock {
    void operator()(X509_STORE* s) const { X509_STORE_unlock(s); }
  };
  const std::unique_ptr<X509_STORE, Unlock> locked(store);
  STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(store);
#endif
  StoreDigests out;
  for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
    X509_OBJECT* object = sk_X509_OBJECT_value(objects, i);
    unsigned int len = 0;
    if (::X509* cert = X509_OBJECT_get0_X509(object); cert != nullptr) {
      if (X509_digest(cert, EVP_sha256(), out.certs.emplace_back().data(), &len) != 1) {
        return failure(what);
      }
    } else if (::X509_CRL* crl = X509_OBJECT_get0_X509_CRL(object); crl != nullptr) {
      if (X509_CRL_digest(crl, EVP_sha256(), out.crls.emplace_back().data(), &len) != 1) {
        return failure(what);
      }
    }
  }
  std::sort(out.certs.begin(), out.certs.end());
  std::sort(out.crls.begin(), out.crls.end());
  return out;
}

namespace {

// The input of the fingerprint: numbers as 8 little-endian bytes, byte strings and lists
// prefixed with their length, so no two configurations encode alike.
class FingerprintInput {
 public:
  void number(std::uint64_t v) {
    for (int i = 0; i < 8; ++i)
      bytes_.push_back(static_cast<unsigned char>(v >> (8 * i)));
  }
  void text(std::string_view t) {
    number(t.size());
    bytes_.insert(bytes_.end(), t.begin(), t.end());
  }
  void digests(std::vector<Sha256> list) {
    std::sort(list.begin(), list.end());
    list.erase(std::unique(list.begin(), list.end()), list.end());
    number(list.size());
    for (const Sha256& d : list)
      bytes_.insert(bytes_.end(), d.begin(), d.end());
  }
  // Adds a trust location by name: absent, or its size and modification time (a
  // directory: the same for each entry, by name). Reads no contents: a location that
  // changed gives another fingerprint, which costs a full handshake, never a failure.
  void location(const std::string& path) {
    text(path);
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      number(0);
      return;
    }
    if (!S_ISDIR(st.st_mode)) {
      number(1);
      file_times(st);
      return;
    }
    number(2);
    std::vector<std::string> names;
    if (DIR* dir = ::opendir(path.c_str()); dir != nullptr) {
      while (const dirent* entry = ::readdir(dir)) {
        if (entry->d_name[0] != '.') names.emplace_back(entry->d_name);
      }
      ::closedir(dir);
    }
    std::sort(names.begin(), names.end());
    number(names.size());
    for (const std::string& name : names) {
      text(name);
      std::string file = path;
      file += '/';
      file += name;
      struct stat entry {};
      if (::stat(file.c_str(), &entry) == 0) {  // follows the hash links
        file_times(entry);
      } else {
        number(0);
      }
    }
  }
  [[nodiscard]] Result<Sha256> finish(const char* what) const {
    Sha256 out{};
    unsigned int len = 0;
    if (EVP_Digest(bytes_.data(), bytes_.size(), out.data(), &len, EVP_sha256(), nullptr) != 1) {
      return failure(what);
    }
    return out;
  }

 private:
  void file_times(const struct stat& st) {
    number(static_cast<std::uint64_t>(st.st_size));
    number(static_cast<std::uint64_t>(st.st_mtim.tv_sec));
    number(static_cast<std::uint64_t>(st.st_mtim.tv_nsec));
  }
  std::vector<unsigned char> bytes_;
};

// Returns the trust location named by environment variable `env` (OpenSSL reads it
// first) or the compiled-in `fallback`, split at ':' as OpenSSL splits directories.
std::vector<std::string> locations(const char* env, const char* fallback) {
  const char* value = std::getenv(env);
  const std::string all = value != nullptr ? value : fallback;
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t at = all.find(':', start);
    out.push_back(all.substr(start, at - start));
    if (at == std::string::npos) return out;
    start = at + 1;
  }
}

}  // namespace

Result<Sha256> verification_fingerprint(SSL_CTX* ctx, std::string_view hook_label,
                                        const char* what) {
  CtxState* state = find_ctx_state(ctx);
  if (state == nullptr || !owns_verify_slot(ctx)) {
    return ErrorStack::message(
        std::string(what) +
        ": ossl does not own this context's verification (a context adopted from raw code, "
        "or one whose verify callback was replaced): its sessions carry no binding to persist");
  }
  FingerprintInput in;
  in.text("ossl client session verification v1");
  const X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx);  // get0: the context's
  in.number(static_cast<std::uint64_t>(SSL_CTX_get_verify_mode(ctx)));
  in.number(static_cast<std::uint64_t>(X509_VERIFY_PARAM_get_depth(param)));
  in.number(X509_VERIFY_PARAM_get_flags(param));
  in.number(X509_VERIFY_PARAM_get_inh_flags(param));
  in.number(X509_VERIFY_PARAM_get_hostflags(param));
  in.number(static_cast<std::uint64_t>(X509_VERIFY_PARAM_get_auth_level(param)));
  in.number(static_cast<std::uint64_t>(SSL_CTX_get_security_level(ctx)));

  const std::shared_ptr<const VerifyPolicy> policy = state->verify.load();
  in.number(policy ? 1 : 0);
  if (policy) {
    in.number(policy->require_host);
    in.number(policy->match_subject_cn);
    in.number(policy->refuse_ca_leaf);
    in.number(static_cast<std::uint64_t>(policy->ocsp));
    std::vector<Sha256> pins;
    for (const SpkiPin& pin : policy->pins) {
      std::memcpy(pins.emplace_back().data(), pin.digest().data(), pin.digest().size());
    }
    in.digests(std::move(pins));
    std::vector<Sha256> crls;
    for (const X509Crl& crl : policy->crls) {
      unsigned int len = 0;
      if (X509_CRL_digest(crl.native_handle(), EVP_sha256(), crls.emplace_back().data(), &len) !=
          1) {
        return failure(what);
      }
    }
    in.digests(std::move(crls));
    in.number(policy->hook ? 1 : 0);
    if (policy->hook) {
      if (hook_label.empty()) {
        return ErrorStack::message(
            std::string(what) +
            ": the context verifies peers with a hook, whose checks ossl cannot fingerprint; "
            "give a label naming the hook's version (change it whenever the hook's checks "
            "change), so sessions never outlive the checks they passed");
      }
      in.text(hook_label);
    }
  }

  CtxState::TrustRecord trust;
  {
    const std::lock_guard lock(state->update_mutex);
    trust = state->trust;
  }
  in.number(trust.system ? 1 : 0);
  if (trust.system) {
    for (const std::string& dir :
         locations(X509_get_default_cert_dir_env(), X509_get_default_cert_dir())) {
      in.location(dir);
    }
    for (const std::string& file :
         locations(X509_get_default_cert_file_env(), X509_get_default_cert_file())) {
      in.location(file);
    }
    in.digests(std::move(trust.added));
  } else {
    auto store = store_digests(SSL_CTX_get_cert_store(ctx), what);  // get0: the context's
    if (!store) return std::move(store).error();
    in.digests(std::move(store->certs));
    in.digests(std::move(store->crls));
  }
  return in.finish(what);
}

namespace {

// ------------------------------------------------------------------ the checks
//
// OpenSSL verifies the chain in X509_verify_cert(): building it, extensions and
// purpose, the host or IP, revocation (CRLs), signatures and validity, name
// constraints, policies. ossl's checks run after it returned success, in this order,
// each only when the one before passed: a host was named; the leaf is not a CA; the
// pins; the caller's hook. A refusal sets the store's error (the connection's
// verify_result), queues a record with the reason, keeps the reason for
// Ssl::verify_result(), and unbinds the session.

// Refuses the peer for `reason` with X509_V_* `code`; returns 0 for the callback.
int refuse(SSL* ssl, X509_STORE_CTX* store, int code, const std::string& reason) {
  unbind(ssl);
  X509_STORE_CTX_set_error_depth(store, 0);
  X509_STORE_CTX_set_error(store, code);
  raise_error(ERR_LIB_USER, ERR_R_OPERATION_FAIL, "ossl's certificate checks", reason.c_str());
  set_reason(ssl, reason);
  return 0;
}

// Returns a refusal reason when no certificate of the verified chain (leaf first,
// anchor last) carries a pinned key; empty when one does.
std::string check_pins(const VerifyPolicy& policy, STACK_OF(X509) * chain) {
  const int n = ossl_sk_x509_num(chain);
  std::vector<std::array<std::byte, 32>> digests(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    if (!spki_sha256(ossl_sk_x509_value(chain, i), digests[static_cast<std::size_t>(i)])) {
      return "the public key pin of a chain certificate could not be computed";
    }
    for (const SpkiPin& pin : policy.pins) {
      if (pin.digest() == digests[static_cast<std::size_t>(i)]) return {};
    }
  }
  std::string text = "no certificate of the verified chain has a pinned public key; pinned: ";
  for (std::size_t i = 0; i < policy.pins.size(); ++i) {
    text += (i == 0 ? "sha256/" : ", sha256/") + policy.pins[i].to_base64();
  }
  text += "; the chain has: ";
  for (int i = 0; i < n; ++i) {
    if (i != 0) text += ", ";
    text += subject_text(ossl_sk_x509_value(chain, i)) + " sha256/" +
            SpkiPin::from_digest(digests[static_cast<std::size_t>(i)]).to_base64();
  }
  return text;
}

// Runs the caller's hook over the verified chain; returns its refusal reason, or empty
// when it accepts. An exception from it is a refusal naming the exception.
std::string run_hook(const VerifyHook& hook, STACK_OF(X509) * chain, const std::string& host) {
  std::vector<X509> certs;
  const int n = ossl_sk_x509_num(chain);
  certs.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    ::X509* cert = ossl_sk_x509_value(chain, i);  // get0: the chain's; share adds ours
    certs.push_back(*X509::share(cert));
  }
  const VerifiedPeer peer{certs, host};
#if defined(__cpp_exceptions)
  try {
#endif
    VerifyVerdict verdict = hook(peer);
    if (verdict.accepted()) return {};
    return verdict.reason().empty() ? std::string("rejected by the verification hook")
                                    : "rejected by the verification hook: " + verdict.reason();
#if defined(__cpp_exceptions)
  } catch (const std::exception& e) {
    return std::string("the verification hook threw: ") + e.what();
  } catch (...) {
    return "the verification hook threw an exception that is not a std::exception";
  }
#endif
}

// The checks after OpenSSL's success on a client, in the documented order; returns 1
// (accepted, session bound) or 0 (refused).
int client_checks(SSL* ssl, X509_STORE_CTX* store, const VerifyPolicy* policy) {
  if (policy == nullptr) {
    bind(ssl, 0);
    return 1;
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(store);  // get0: the store's
  std::string host;
  const bool need_host = policy->require_host || policy->hook;
  if (need_host) host = expected_host(param);
  if (policy->require_host && host.empty()) {
    return refuse(ssl, store, X509_V_ERR_APPLICATION_VERIFICATION, kNoHostMessage);
  }
  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(store);  // get0: the verified chain
  ::X509* leaf = ossl_sk_x509_num(chain) > 0 ? ossl_sk_x509_value(chain, 0) : nullptr;
  if (leaf == nullptr) {
    return refuse(ssl, store, X509_V_ERR_UNSPECIFIED, "OpenSSL returned no verified chain");
  }
  if (policy->refuse_ca_leaf && (X509_get_extension_flags(leaf) & EXFLAG_CA) != 0) {
    return refuse(ssl, store, X509_V_ERR_APPLICATION_VERIFICATION,
                  "the server certificate (" + subject_text(leaf) +
                      ") is a CA certificate (basicConstraints CA:TRUE) presented as the "
                      "server's own; browsers and webpki refuse that (the builder's "
                      "danger_accept_ca_as_leaf() accepts it)");
  }
  if (!policy->pins.empty()) {
    if (std::string why = check_pins(*policy, chain); !why.empty()) {
      return refuse(ssl, store, X509_V_ERR_APPLICATION_VERIFICATION, why);
    }
  }
  if (policy->hook) {
    if (std::string why = run_hook(policy->hook, chain, host); !why.empty()) {
      return refuse(ssl, store, X509_V_ERR_APPLICATION_VERIFICATION, why);
    }
  }
  // TLS 1.3 carries the stapled OCSP response in the Certificate message: it is here
  // already (TLS 1.2's comes later and is checked by src/ocsp.cpp's status callback).
  if (SSL_version(ssl) == TLS1_3_VERSION) {
    if (Refusal r = check_stapled_ocsp(ssl, *policy, chain); r.code != X509_V_OK) {
      return refuse(ssl, store, static_cast<int>(r.code), r.reason);
    }
  }
  bind(ssl, policy->generation);
  return 1;
}

// --------------------------------------------------------------------- callbacks
//
// ossl owns two slots of every context it makes. The verify callback (called by
// OpenSSL for each certificate and each error) never accepts what OpenSSL refused and
// unbinds a failed client session. The certificate verification callback replaces
// OpenSSL's call of X509_verify_cert() with: the policy's adjustment of the host flags,
// X509_verify_cert() itself, then ossl's checks on a client. It runs once per full
// handshake (never on resumption), on the thread doing it.

int verify_trampoline(int preverify_ok, X509_STORE_CTX* store) {
  if (preverify_ok == 1) return 1;
  auto* ssl = static_cast<SSL*>(
      X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));  // get0
  if (ssl == nullptr) return 0;
  const bool server = SSL_is_server(ssl) == 1;
  if (!server) unbind(ssl);
    // The failure is explained here, on either side: the certificate at fault and the CRL
    // that revoked it are the store's current ones only during this call.
#if defined(__cpp_exceptions)
  try {
#endif
    if (std::string why = explain_chain_error(store, server); !why.empty()) {
      raise_error(ERR_LIB_USER, ERR_R_OPERATION_FAIL, "certificate verification", why.c_str());
      set_reason(ssl, std::move(why));
    }
#if defined(__cpp_exceptions)
  } catch (...) {  // std::bad_alloc: OpenSSL's code still says what failed
  }
#endif
  return 0;
}

int cert_verify(X509_STORE_CTX* store, void*) {
  auto* ssl = static_cast<SSL*>(
      X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));  // get0
  // A connection whose verify callback was replaced (SSL_set_verify with the caller's
  // own, as asio::ssl::stream::set_verify_callback does) is verified the caller's way:
  // OpenSSL's checks and that callback, not ossl's policy, and its session is unbound.
  if (ssl == nullptr || SSL_is_server(ssl) == 1 ||
      SSL_get_verify_callback(ssl) != verify_trampoline) {
    return X509_verify_cert(store);
  }
  const CtxState* state = find_ctx_state(SSL_get_SSL_CTX(ssl));
  const std::shared_ptr<const VerifyPolicy> policy =
      state != nullptr ? state->verify.load() : nullptr;
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(store);  // get0: this verification's
  const unsigned int flags = X509_VERIFY_PARAM_get_hostflags(param);
  const bool forced =
      policy && !policy->match_subject_cn && (flags & X509_CHECK_FLAG_NEVER_CHECK_SUBJECT) == 0;
  if (forced) X509_VERIFY_PARAM_set_hostflags(param, flags | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
  // The policy's CRLs, read-only, for this verification (the store context borrows the
  // stack; `policy` keeps it alive until X509_verify_cert returns).
  if (policy && policy->crl_stack) X509_STORE_CTX_set0_crls(store, policy->crl_stack.get());
#if defined(__cpp_exceptions)
  try {
#endif
    if (X509_verify_cert(store) != 1) {
      unbind(ssl);
      const int error = X509_STORE_CTX_get_error(store);
      std::string why;
      if (error == X509_V_ERR_HOSTNAME_MISMATCH || error == X509_V_ERR_IP_ADDRESS_MISMATCH) {
        if (forced && error == X509_V_ERR_HOSTNAME_MISMATCH) why = explain_cn_only(store, flags);
        if (why.empty()) why = explain_host_mismatch(store);
      }
      if (!why.empty()) {
        const int depth = X509_STORE_CTX_get_error_depth(store);
        refuse(ssl, store, error, why);
        X509_STORE_CTX_set_error_depth(store, depth);
      }
      return 0;
    }
    return client_checks(ssl, store, policy.get());
#if defined(__cpp_exceptions)
  } catch (...) {  // std::bad_alloc from a message or the hook's chain
    return refuse(ssl, store, X509_V_ERR_OUT_OF_MEM, "out of memory in ossl's verification");
  }
#endif
}

}  // namespace

std::string expected_host(X509_VERIFY_PARAM* param) {
  if (const char* host = X509_VERIFY_PARAM_get0_host(param, 0)) return host;  // get0
  ERR_set_mark();
  char* ip = X509_VERIFY_PARAM_get1_ip_asc(param);  // get1; queues an error when unset
  ERR_pop_to_mark();
  std::string out = ip != nullptr ? ip : "";
  OPENSSL_free(ip);
  return out;
}

bool connection_uses_policy(const SSL* ssl) noexcept {
  return SSL_get_verify_callback(ssl) == verify_trampoline;
}

void refuse_after_verification(SSL* ssl, long code, std::string reason) {
  unbind(ssl);
  SSL_set_verify_result(ssl, code);
  raise_error(ERR_LIB_USER, ERR_R_OPERATION_FAIL, "ossl's certificate checks", reason.c_str());
  set_reason(ssl, std::move(reason));
}

std::shared_ptr<const std::string> verify_reason(const SSL* ssl) noexcept {
  const int index = reason_index();
  if (index < 0) return nullptr;
  const auto* reason = static_cast<const Reason*>(SSL_get_ex_data(ssl, index));
  return reason != nullptr ? *reason : nullptr;
}

Result<void> own_verify_slot(SSL_CTX* ctx, const char* what) {
  if (ctx_state(ctx) == nullptr) return failure(what);
  SSL_CTX_set_verify(ctx, SSL_CTX_get_verify_mode(ctx), verify_trampoline);
  SSL_CTX_set_cert_verify_callback(ctx, cert_verify, nullptr);
  return {};
}

bool owns_verify_slot(const SSL_CTX* ctx) noexcept {
  return SSL_CTX_get_verify_callback(ctx) == verify_trampoline;
}

Result<void> set_verify_policy(SSL_CTX* ctx, VerifyPolicy policy, const char* what) {
  CtxState* state = ctx_state(ctx);
  if (state == nullptr) return failure(what);
  policy.crl_stack.reset();
  if (!policy.crls.empty()) {
    STACK_OF(X509_CRL)* stack = sk_X509_CRL_new_null();
    if (stack == nullptr) return failure(what);
    policy.crl_stack.reset(stack, [](STACK_OF(X509_CRL) * p) { sk_X509_CRL_free(p); });
    for (const X509Crl& crl : policy.crls) {
      if (sk_X509_CRL_push(stack, crl.native_handle()) <= 0) return failure(what);  // borrowed
    }
  }
  // Sessions authenticated under an earlier policy no longer resume: their binding
  // covers the generation.
  policy.generation = state->verify_generation.fetch_add(1, std::memory_order_relaxed) + 1;
  auto snapshot = std::make_shared<const VerifyPolicy>(std::move(policy));
  state->verify.store(std::move(snapshot));
  return {};
}

Result<void> set_policy_crls(SSL_CTX* ctx, std::vector<X509Crl> crls, const char* what) {
  CtxState* state = ctx_state(ctx);
  if (state == nullptr) return failure(what);
  const std::lock_guard lock(state->update_mutex);
  const std::shared_ptr<const VerifyPolicy> current = state->verify.load();
  VerifyPolicy next = current ? *current : VerifyPolicy{};
  next.crls = std::move(crls);
  return set_verify_policy(ctx, std::move(next), what);
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
  if (!binding_tag(ssl, current_generation(ssl), tag)) return failure(what);
  if (CRYPTO_memcmp(bound, tag.data(), 8) != 0) {
    return ErrorStack::message(
        std::string(what) +
        ": the session was authenticated by another context or with other verification "
        "settings (mode, host flags or verification policy); resuming it here would skip "
        "this context's verification");
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
  bool computed = len == kTagSize && binding_tag(ssl, current_generation(ssl), tag);
  // binding_tag queues a record only when it fails (no memory, no random key); the
  // caller emptied the queue just before, so what is there now is only that record.
  if (!computed && ERR_peek_error() != 0) ERR_clear_error();
  if (!computed || CRYPTO_memcmp(bound, tag.data(), kTagSize) != 0) {
    (void)SSL_set_session(ssl, nullptr);  // a full handshake, verified as configured
  }
}

}  // namespace detail
}  // namespace ossl
