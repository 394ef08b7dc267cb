// Private to src/: serialisation plumbing shared by the object families.
#pragma once

#include <ossl/bio.hpp>
#include <ossl/detail/check.hpp>
#include <ossl/result.hpp>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <climits>
#include <cstddef>
#include <source_location>
#include <span>
#include <string>
#include <string_view>
#include <vector>

// OpenSSL's sk_X509_* macros cast to plain `X509*`, which inside namespace ossl names
// ossl::X509. These two helpers expand the macros at global scope, where it is ::X509.
inline int ossl_sk_x509_num(const STACK_OF(X509) * sk) noexcept {
  return sk_X509_num(sk);
}
inline X509* ossl_sk_x509_value(const STACK_OF(X509) * sk, int i) noexcept {
  return sk_X509_value(sk, i);
}
inline STACK_OF(X509) * ossl_sk_x509_new_null() noexcept {
  return sk_X509_new_null();
}
// Pushes `cert` without taking a reference: the stack borrows it. 0 on failure.
inline int ossl_sk_x509_push(STACK_OF(X509) * sk, X509* cert) noexcept {
  return sk_X509_push(sk, cert);
}
// Frees the stack only, not the certificates it borrowed.
inline void ossl_sk_x509_free(STACK_OF(X509) * sk) noexcept {
  sk_X509_free(sk);
}
// Frees the stack and releases one reference of every certificate on it.
inline void ossl_sk_x509_pop_free(STACK_OF(X509) * sk) noexcept {
  sk_X509_pop_free(sk, X509_free);
}

namespace ossl::detail {

/// Queues a record of ossl's own on the thread's OpenSSL error queue (where a callback
/// inside libssl must report through it): library `lib`, reason `reason`, `text` as its
/// data when given, `function` naming the ossl operation ("certificate check"), and the
/// source file relative to the project ("src/verify.cpp"). ERR_raise would record
/// "(unknown function)" (OpenSSL's OPENSSL_FUNC needs C99's __STDC_VERSION__, which
/// C++ does not define) and the build directory's path to the file.
/// (ERR_new, ERR_set_debug, ERR_set_error)
void raise_error(int lib, int reason, const char* function, const char* text = nullptr,
                 std::source_location where = std::source_location::current()) noexcept;

/// Returns the part of a source path from the project's "src/" or "include/" on
/// ("../main/src/verify.cpp" -> "src/verify.cpp"); the whole path when it has neither.
[[nodiscard]] const char* project_path(const char* file) noexcept;

/// Returns true when `host` is a textual IPv4 or IPv6 address (false for anything else,
/// including text with an embedded NUL). The caller's error queue is left as it was:
/// a2i_IPADDRESS queues a record for non-IP text, which is popped. (a2i_IPADDRESS)
inline bool is_ip_literal(std::string_view host) {
  // Text with a character no IPv4 or IPv6 literal has (most DNS names: any letter past
  // 'f') is answered here, without asking OpenSSL.
  for (const char c : host) {
    const bool ip_char = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                         (c >= 'A' && c <= 'F') || c == '.' || c == ':';
    if (!ip_char) return false;
  }
  if (host.empty()) return false;
  ERR_set_mark();
  // with_cstr: a NUL-terminated copy (on the stack for short names).
  auto parsed = with_cstr(host, "ip", [](const char* s) -> Result<bool> {
    ASN1_OCTET_STRING* ip = a2i_IPADDRESS(s);
    ASN1_OCTET_STRING_free(ip);  // null-safe
    return ip != nullptr;
  });
  ERR_pop_to_mark();
  return parsed && *parsed;
}

/// Builds a certificate's extension cache now. OpenSSL 3.0 builds it lazily on first use
/// with a check-then-lock that lets two threads rewrite it while a third reads it (a
/// data race ThreadSanitizer reports when first handshakes run on several threads).
/// Every certificate ossl parses or hands to a context gets its cache built here, while
/// only one thread sees it. A malformed extension is recorded in the cache (verification
/// reports it later); the record OpenSSL queues for it then is popped, so the caller's
/// queue stays as it was. (X509_check_purpose with purpose -1 only caches)
inline void cache_extensions(::X509* cert) noexcept {
  if (cert == nullptr) return;
  ERR_set_mark();
  (void)X509_check_purpose(cert, -1, 0);
  ERR_pop_to_mark();
}

/// cache_extensions() for every certificate of a trust store.
/// (X509_STORE_get1_objects where OpenSSL has it, 3.3 and later: a snapshot taken under
/// the store's lock, with references; X509_STORE_get0_objects, deprecated in 4.0, before)
inline void cache_store_extensions(X509_STORE* store) noexcept {
  if (store == nullptr) return;
#if OPENSSL_VERSION_NUMBER >= 0x30300000L
  STACK_OF(X509_OBJECT)* objects = X509_STORE_get1_objects(store);  // get1: ours to free
  if (objects == nullptr) return;  // allocation failed: the caches stay lazy
#else
  STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(store);  // get0
#endif
  for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
    cache_extensions(X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objects, i)));
  }
#if OPENSSL_VERSION_NUMBER >= 0x30300000L
  sk_X509_OBJECT_pop_free(objects, X509_OBJECT_free);
#endif
}

inline std::span<const std::byte> as_bytes(std::string_view s) noexcept {
  return std::as_bytes(std::span(s.data(), s.size()));
}

/// A read-only memory BIO over `in` (no copy: valid while `in` is). Returns an error
/// naming `what` for empty input or input over INT_MAX bytes (BIO lengths are int).
inline Result<Bio> input_bio(std::span<const std::byte> in, std::string_view what) {
  if (in.empty()) return ErrorStack::message(std::string(what) + ": empty input");
  if (in.size() > static_cast<std::size_t>(INT_MAX)) {
    return ErrorStack::message(std::string(what) + ": input larger than INT_MAX bytes");
  }
  // BIO_new_mem_buf does not copy; the BIO is freed before `in` goes out of scope.
  auto p = check_ptr(BIO_new_mem_buf(in.data(), static_cast<int>(in.size())), what);
  if (!p) return std::move(p).error();
  return Bio::adopt(*p);
}

/// Runs `write(BIO*)` (an OpenSSL writer returning 1 on success) into a fresh memory
/// BIO and returns what it wrote as a string.
template <class F>
Result<std::string> write_text(F&& write, std::string_view what) {
  auto bio = Bio::new_mem();
  if (!bio) return std::move(bio).error().with_context(what);
  if (auto ok = check_positive(write(bio->native_handle()), what); !ok) {
    return std::move(ok).error();
  }
  auto bytes = bio->mem_contents();
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

/// Same as write_text() but returns bytes.
template <class F>
Result<std::vector<std::byte>> write_bytes(F&& write, std::string_view what) {
  auto bio = Bio::new_mem();
  if (!bio) return std::move(bio).error().with_context(what);
  if (auto ok = check_positive(write(bio->native_handle()), what); !ok) {
    return std::move(ok).error();
  }
  auto bytes = bio->mem_contents();
  return std::vector<std::byte>(bytes.begin(), bytes.end());
}

/// Serialises `obj` with an OpenSSL i2d function (length query, then write).
template <class I2d, class T>
Result<std::vector<std::byte>> i2d_bytes(I2d i2d, const T* obj, std::string_view what) {
  int len = i2d(obj, nullptr);
  if (len <= 0) return failure(what);
  std::vector<std::byte> out(static_cast<std::size_t>(len));
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  if (i2d(obj, &p) != len) return failure(what);
  return out;
}

/// Parses exactly one DER object from `in` with an OpenSSL d2i function; trailing
/// bytes after the object are an error (the object is freed with `free`), never
/// silently ignored.
template <class T, class D2i, class Free>
Result<T*> d2i_exact(D2i d2i, Free free, std::span<const std::byte> in, std::string_view what) {
  if (in.empty()) return ErrorStack::message(std::string(what) + ": empty input");
  if (in.size() > static_cast<std::size_t>(LONG_MAX)) {
    return ErrorStack::message(std::string(what) + ": input too large");
  }
  const auto* start = reinterpret_cast<const unsigned char*>(in.data());
  const unsigned char* p = start;
  T* obj = d2i(nullptr, &p, static_cast<long>(in.size()));
  if (obj == nullptr) return failure(what);
  auto used = static_cast<std::size_t>(p - start);
  if (used != in.size()) {
    free(obj);
    return ErrorStack::message(std::string(what) + ": " + std::to_string(in.size() - used) +
                               " trailing bytes after the DER object");
  }
  return obj;
}

/// Returns `name` as RFC 2253 text, e.g. "CN=localhost,O=ossl"; an error naming `what`.
/// (X509_NAME_print_ex, XN_FLAG_RFC2253) Defined in src/x509.cpp.
[[nodiscard]] Result<std::string> name_text(const X509_NAME* name, const char* what);

/// Converts an ASN1_TIME (UTCTime or GeneralizedTime) to a time point; an error naming
/// `what` for null or unparsable input. (ASN1_TIME_to_tm) Defined in src/x509.cpp.
[[nodiscard]] Result<std::chrono::system_clock::time_point> asn1_time(const ASN1_TIME* t,
                                                                      const char* what);

/// Formats an ASN1_TIME as "2026-11-24 05:10:00 UTC", for messages; "?" when it cannot
/// be read. Leaves the caller's error queue as it was. (ASN1_TIME_to_tm) Defined in
/// src/x509.cpp.
[[nodiscard]] std::string utc_text(const ASN1_TIME* t);

/// Returns `cert`'s subject as RFC 2253 text, for messages; "?" when it cannot be
/// printed. Leaves the caller's error queue as it was. Defined in src/x509.cpp.
[[nodiscard]] std::string subject_text(const ::X509* cert);

/// Returns `what: "path"`, how errors about a file name it. Defined in src/crl.cpp.
[[nodiscard]] std::string file_context(std::string_view what, std::string_view path);

/// Reads a whole file (binary) into memory; errors name the path. (BIO_new_file)
/// Defined in src/crl.cpp.
[[nodiscard]] Result<std::vector<std::byte>> read_whole_file(std::string_view path,
                                                             const char* what);

/// Returns the labels of the PEM blocks in `text`, in order ("CERTIFICATE", "PRIVATE
/// KEY", ...: what follows "-----BEGIN "). Defined in src/x509.cpp.
[[nodiscard]] std::vector<std::string> pem_labels(std::span<const std::byte> text);

/// Says what a file holds when it lacks `wanted` ("a certificate"), from its PEM labels:
/// "holds a PRIVATE KEY block, not a certificate", "holds 2 PEM blocks (CERTIFICATE,
/// CERTIFICATE), not a private key", or "holds no PEM block (DER? ...)". Defined in
/// src/x509.cpp.
[[nodiscard]] std::string holds_instead(const std::vector<std::string>& labels,
                                        std::string_view wanted);

/// Reads every PEM block of one kind from `pem`, in order: `read(bio)` returns the next
/// object (null at the end or on an error) and `take(raw)` wraps it into T. PEM's "no
/// start line" after at least one object is the normal end (its record is popped, never
/// the caller's); otherwise an error names `what` and says "no valid PEM <noun>" or
/// "malformed <noun> #N". (PEM_read_bio_* in a loop)
template <class T, class Read, class Take>
Result<std::vector<T>> read_pem_stack(std::string_view pem, const std::string& what,
                                      const std::string& noun, Read read, Take take) {
  auto bio = input_bio(as_bytes(pem), what);
  if (!bio) return std::move(bio).error();
  std::vector<T> out;
  for (;;) {
    ERR_set_mark();
    if (auto* raw = read(bio->native_handle())) {
      // A parse that succeeded can still have queued records (a CRL whose extensions
      // fail to decode is kept, marked invalid, for verification to refuse): dropped.
      ERR_pop_to_mark();
      out.push_back(take(raw));
      continue;
    }
    const unsigned long last = ERR_peek_last_error();
    if (!out.empty() && ERR_GET_LIB(last) == ERR_LIB_PEM &&
        ERR_GET_REASON(last) == PEM_R_NO_START_LINE) {
      ERR_pop_to_mark();
      return out;
    }
    ERR_clear_last_mark();
    return failure(out.empty()
                       ? what + ": no valid PEM " + noun
                       : what + ": malformed " + noun + " #" + std::to_string(out.size() + 1));
  }
}

}  // namespace ossl::detail
