#include <ossl/x509.hpp>

#include "internal.hpp"

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>

#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

namespace ossl {

namespace {

// PEM callback that never supplies a password (and so never prompts on a terminal).
int no_password(char*, int, int, void*) {
  return 0;
}

std::string asn1_text(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<std::size_t>(ASN1_STRING_length(s)));
}

Result<::X509*> read_one_pem(BIO* bio, const char* what) {
  return detail::check_ptr(PEM_read_bio_X509(bio, nullptr, no_password, nullptr), what);
}

}  // namespace

namespace detail {

Result<std::string> name_text(const X509_NAME* name, const char* what) {
  return write_text(
      [name](BIO* bio) {
        // Returns the byte count (0 for an empty name) or -1 on failure.
        return X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0 ? 1 : 0;
      },
      what);
}

Result<std::chrono::system_clock::time_point> asn1_time(const ASN1_TIME* t, const char* what) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return failure(what);
  using namespace std::chrono;
  const sys_days day{year{tm.tm_year + 1900} / month{static_cast<unsigned>(tm.tm_mon + 1)} /
                     std::chrono::day{static_cast<unsigned>(tm.tm_mday)}};
  return system_clock::time_point(day + hours{tm.tm_hour} + minutes{tm.tm_min} +
                                  seconds{tm.tm_sec});
}

std::string utc_text(const ASN1_TIME* t) {
  std::tm tm{};
  ERR_set_mark();
  const bool ok = t != nullptr && ASN1_TIME_to_tm(t, &tm) == 1;
  ERR_pop_to_mark();
  char text[32];
  if (!ok || std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0) return "?";
  return text;
}

std::string subject_text(const ::X509* cert) {
  ERR_set_mark();
  auto name = name_text(X509_get_subject_name(cert), "subject");
  ERR_pop_to_mark();
  return name ? *name : std::string("?");
}

std::vector<std::string> pem_labels(std::span<const std::byte> text) {
  const std::string_view t(reinterpret_cast<const char*>(text.data()), text.size());
  constexpr std::string_view kBegin = "-----BEGIN ";
  std::vector<std::string> out;
  for (std::size_t at = t.find(kBegin); at != std::string_view::npos; at = t.find(kBegin, at + 1)) {
    const std::size_t start = at + kBegin.size();
    const std::size_t end = t.find("-----", start);
    const std::size_t eol = t.find('\n', start);
    if (end == std::string_view::npos || (eol != std::string_view::npos && eol < end)) continue;
    out.emplace_back(t.substr(start, end - start));
  }
  return out;
}

std::string holds_instead(const std::vector<std::string>& labels, std::string_view wanted) {
  if (labels.empty()) {
    return "holds no PEM block (a DER file, or not a certificate or key file?), not " +
           std::string(wanted);
  }
  if (labels.size() == 1) return "holds a " + labels[0] + " block, not " + std::string(wanted);
  std::string text = "holds " + std::to_string(labels.size()) + " PEM blocks (";
  for (std::size_t i = 0; i < labels.size() && i < 4; ++i) {
    if (i != 0) text += ", ";
    text += labels[i];
  }
  text += labels.size() > 4 ? ", ...)" : ")";
  text += ", none ";
  text += wanted;
  return text;
}

}  // namespace detail

Result<X509> X509::from_pem(std::string_view pem) {
  return from_pem(detail::as_bytes(pem));
}

Result<X509> X509::from_pem(std::span<const std::byte> pem) {
  auto bio = detail::input_bio(pem, "X509::from_pem");
  if (!bio) return std::move(bio).error();
  auto cert = read_one_pem(bio->native_handle(), "X509::from_pem: no valid PEM certificate");
  if (!cert) return std::move(cert).error();
  detail::cache_extensions(*cert);
  return X509(*cert);
}

namespace {

// Reads `path` for `what` ("X509::from_pem_file") and checks that it holds a
// certificate block; errors name the path and what it holds instead.
Result<std::vector<std::byte>> read_certificate_file(std::string_view path, const char* what) {
  auto bytes = detail::read_whole_file(path, what);
  if (!bytes) return bytes;
  const std::vector<std::string> labels = detail::pem_labels(*bytes);
  for (const std::string& label : labels) {
    if (label == "CERTIFICATE" || label == "X509 CERTIFICATE") return bytes;
  }
  return ErrorStack::message(detail::file_context(what, path) + " " +
                             detail::holds_instead(labels, "a certificate"));
}

}  // namespace

Result<X509> X509::from_pem_file(std::string_view path) {
  static constexpr const char* what = "X509::from_pem_file";
  auto bytes = read_certificate_file(path, what);
  if (!bytes) return std::move(bytes).error();
  auto cert = from_pem(*bytes);
  if (!cert) return std::move(cert).error().with_context(detail::file_context(what, path));
  return cert;
}

Result<std::vector<X509>> X509::stack_from_pem_file(std::string_view path) {
  static constexpr const char* what = "X509::stack_from_pem_file";
  auto bytes = read_certificate_file(path, what);
  if (!bytes) return std::move(bytes).error();
  auto certs =
      stack_from_pem(std::string_view(reinterpret_cast<const char*>(bytes->data()), bytes->size()));
  if (!certs) return std::move(certs).error().with_context(detail::file_context(what, path));
  return certs;
}

Result<X509> X509::from_der(std::span<const std::byte> der) {
  auto cert = detail::d2i_exact<::X509>(d2i_X509, X509_free, der, "X509::from_der");
  if (!cert) return std::move(cert).error();
  detail::cache_extensions(*cert);
  return X509(*cert);
}

Result<std::vector<X509>> X509::stack_from_pem(std::string_view pem) {
  return detail::read_pem_stack<X509>(
      pem, "X509::stack_from_pem", "certificate",
      [](BIO* bio) { return PEM_read_bio_X509(bio, nullptr, no_password, nullptr); },
      [](::X509* cert) {
        detail::cache_extensions(cert);
        return X509(cert);
      });
}

Result<std::string> X509::to_pem() const {
  if (!*this) return empty_error("to_pem");
  ::X509* x = native_handle();
  return detail::write_text([x](BIO* bio) { return PEM_write_bio_X509(bio, x); }, "X509::to_pem");
}

Result<std::vector<std::byte>> X509::to_der() const {
  if (!*this) return empty_error("to_der");
  return detail::i2d_bytes(i2d_X509, native_handle(), "X509::to_der");
}

Result<std::string> X509::subject_name() const {
  if (!*this) return empty_error("subject_name");
  return detail::name_text(X509_get_subject_name(native_handle()), "X509::subject_name");
}

Result<std::string> X509::issuer_name() const {
  if (!*this) return empty_error("issuer_name");
  return detail::name_text(X509_get_issuer_name(native_handle()), "X509::issuer_name");
}

Result<std::string> X509::common_name() const {
  if (!*this) return empty_error("common_name");
  const X509_NAME* name = X509_get_subject_name(native_handle());
  int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx < 0) return ErrorStack::message("X509::common_name: the subject has no commonName");
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) return detail::failure("X509::common_name");
  std::string out(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

Result<X509::Clock::time_point> X509::not_before() const {
  if (!*this) return empty_error("not_before");
  return detail::asn1_time(X509_get0_notBefore(native_handle()), "X509::not_before");
}

Result<X509::Clock::time_point> X509::not_after() const {
  if (!*this) return empty_error("not_after");
  return detail::asn1_time(X509_get0_notAfter(native_handle()), "X509::not_after");
}

Result<std::array<std::byte, 32>> X509::fingerprint_sha256() const {
  if (!*this) return empty_error("fingerprint_sha256");
  std::array<std::byte, 32> out{};
  unsigned int len = 0;
  if (auto ok =
          detail::check_positive(X509_digest(native_handle(), EVP_sha256(),
                                             reinterpret_cast<unsigned char*>(out.data()), &len),
                                 "X509::fingerprint_sha256");
      !ok) {
    return std::move(ok).error();
  }
  return out;
}

Result<std::string> X509::serial_hex() const {
  if (!*this) return empty_error("serial_hex");
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(native_handle()), nullptr);
  if (bn == nullptr) return detail::failure("X509::serial_hex");
  char* hex = BN_bn2hex(bn);
  BN_free(bn);
  if (hex == nullptr) return detail::failure("X509::serial_hex");
  std::string out(hex);
  OPENSSL_free(hex);
  return out;
}

Result<std::vector<GeneralName>> X509::subject_alt_names() const {
  if (!*this) return empty_error("subject_alt_names");
  int critical = 0;
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(native_handle(), NID_subject_alt_name, &critical, nullptr));
  std::vector<GeneralName> out;
  if (names == nullptr) {
    // critical == -1: no such extension (not an error); otherwise it failed to decode.
    if (critical == -1) return out;
    return detail::failure("X509::subject_alt_names: malformed subjectAltName");
  }
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
    GeneralName entry;
    switch (gn->type) {
      case GEN_DNS:
        entry = {GeneralName::Type::Dns, asn1_text(gn->d.dNSName)};
        break;
      case GEN_EMAIL:
        entry = {GeneralName::Type::Email, asn1_text(gn->d.rfc822Name)};
        break;
      case GEN_URI:
        entry = {GeneralName::Type::Uri, asn1_text(gn->d.uniformResourceIdentifier)};
        break;
      case GEN_IPADD: {
        char text[INET6_ADDRSTRLEN] = {};
        const int len = ASN1_STRING_length(gn->d.iPAddress);
        const unsigned char* raw = ASN1_STRING_get0_data(gn->d.iPAddress);
        const int family = len == 4 ? AF_INET : len == 16 ? AF_INET6 : -1;
        if (family < 0 || inet_ntop(family, raw, text, sizeof text) == nullptr) {
          entry = {GeneralName::Type::Ip, "<malformed IP of " + std::to_string(len) + " bytes>"};
        } else {
          entry = {GeneralName::Type::Ip, text};
        }
        break;
      }
      default:
        entry = {GeneralName::Type::Other, {}};
        break;
    }
    out.push_back(std::move(entry));
  }
  GENERAL_NAMES_free(names);
  return out;
}

Result<Pkey<Public>> X509::public_key() const {
  if (!*this) return empty_error("public_key");
  // X509_get0_pubkey borrows; the copy made by Pkey::public_key() owns its own key.
  EVP_PKEY* key = X509_get0_pubkey(native_handle());
  if (key == nullptr) return detail::failure("X509::public_key");
  auto shared = Pkey<Public>::share(key);
  if (!shared) return shared;
  return shared->public_key();
}

Result<void> X509::check_private_key(const Pkey<Private>& key) const {
  if (!*this) return empty_error("check_private_key");
  if (!key) return ErrorStack::message("X509::check_private_key: empty key");
  return detail::check_positive(X509_check_private_key(native_handle(), key.native_handle()),
                                "X509::check_private_key: the key does not match the certificate");
}

namespace {
// True when OpenSSL flagged the certificate's extensions malformed (a SAN, key usage or
// basic constraints it could not decode). The cache is built when ossl parses a
// certificate, so this reads a flag. (X509_get_extension_flags)
bool malformed_extensions(::X509* cert) noexcept {
  return (X509_get_extension_flags(cert) & EXFLAG_INVALID) != 0;
}
}  // namespace

bool X509::check_host(std::string_view host, HostnameFlags flags) const {
  if (!*this || host.empty() || host.find('\0') != std::string_view::npos) return false;
  if (malformed_extensions(native_handle())) return false;
  // X509_check_host queues the decoder's records for a SAN it cannot read; the answer
  // is false then, and the caller's queue stays as it was.
  ERR_set_mark();
  const bool match =
      X509_check_host(native_handle(), host.data(), host.size(), flags.bits(), nullptr) == 1;
  ERR_pop_to_mark();
  return match;
}

bool X509::check_ip(std::string_view ip) const {
  if (!*this || malformed_extensions(native_handle())) return false;
  // X509_check_ip_asc queues a record for text that is not an address; the answer is
  // false then, and the caller's queue stays as it was.
  ERR_set_mark();
  auto r = detail::with_cstr(ip, "X509::check_ip", [this](const char* s) -> Result<bool> {
    return X509_check_ip_asc(native_handle(), s, 0) == 1;
  });
  ERR_pop_to_mark();
  return r && *r;
}

bool operator==(const X509& a, const X509& b) noexcept {
  if (!a || !b) return !a && !b;
  return X509_cmp(a.native_handle(), b.native_handle()) == 0;
}

}  // namespace ossl
