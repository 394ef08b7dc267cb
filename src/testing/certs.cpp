#include <ossl/testing/certs.hpp>

#include "../internal.hpp"

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <memory>
#include <ctime>

namespace ossl::testing {

namespace {

using Clock = std::chrono::system_clock;

// Owns a GENERAL_NAMES stack while it is being filled.
struct GeneralNamesDeleter {
  void operator()(GENERAL_NAMES* p) const noexcept { GENERAL_NAMES_free(p); }
};

bool valid_dns_name(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) || c == '-' || c == '.' || c == '*')) return false;
  }
  return true;
}

Result<void> add_ext(::X509* cert, ::X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) {
    return detail::failure(std::string("testing: extension ") + OBJ_nid2sn(nid) + "=" + value);
  }
  const int ok = X509_add_ext(cert, ext, -1);  // copies the extension
  X509_EXTENSION_free(ext);
  return detail::check_positive(ok, "testing: X509_add_ext");
}

Result<void> add_san(::X509* cert, const std::vector<std::string>& dns,
                     const std::vector<std::string>& ips) {
  if (dns.empty() && ips.empty()) return {};
  std::unique_ptr<GENERAL_NAMES, GeneralNamesDeleter> names(sk_GENERAL_NAME_new_null());
  if (!names) return detail::failure("testing: subjectAltName");
  for (const auto& d : dns) {
    if (!valid_dns_name(d)) {
      return ErrorStack::message("testing: \"" + d + "\" is not a valid DNS name for a SAN");
    }
    GENERAL_NAME* gn = GENERAL_NAME_new();
    ASN1_IA5STRING* ia5 = ASN1_IA5STRING_new();
    if (gn == nullptr || ia5 == nullptr ||
        ASN1_STRING_set(ia5, d.data(), static_cast<int>(d.size())) != 1) {
      GENERAL_NAME_free(gn);
      ASN1_IA5STRING_free(ia5);
      return detail::failure("testing: subjectAltName DNS");
    }
    GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);  // gn owns ia5 now
    if (sk_GENERAL_NAME_push(names.get(), gn) <= 0) {
      GENERAL_NAME_free(gn);
      return detail::failure("testing: subjectAltName DNS");
    }
  }
  for (const auto& ip : ips) {
    auto octets = detail::with_cstr(ip, "testing: IP SAN", [](const char* s) {
      return detail::check_ptr(a2i_IPADDRESS(s), "testing: IP SAN");
    });
    if (!octets) {
      return ErrorStack::message("testing: \"" + ip + "\" is not a valid IP address for a SAN");
    }
    GENERAL_NAME* gn = GENERAL_NAME_new();
    if (gn == nullptr) {
      ASN1_OCTET_STRING_free(*octets);
      return detail::failure("testing: subjectAltName IP");
    }
    GENERAL_NAME_set0_value(gn, GEN_IPADD, *octets);  // gn owns the octets now
    if (sk_GENERAL_NAME_push(names.get(), gn) <= 0) {
      GENERAL_NAME_free(gn);
      return detail::failure("testing: subjectAltName IP");
    }
  }
  // X509_add1_i2d encodes a copy; `names` is still ours to free.
  return detail::check_positive(
      X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT),
      "testing: add subjectAltName");
}

struct CertParams {
  std::string_view common_name;
  const Pkey<Private>* subject_key;
  const X509* issuer_cert;          // null: self-signed
  const Pkey<Private>* issuer_key;  // signs
  bool is_ca;
  Usage usage;
  const std::vector<std::string>* dns;
  const std::vector<std::string>* ips;
  Validity validity;
  std::string_view key_usage;  // empty: the default for the role
  bool leaf_ca = false;        // a leaf (EKU, key usage) that says CA:TRUE anyway
  bool must_staple = false;    // TLS feature status_request
  SignatureDigest digest = SignatureDigest::Sha256;
};

Result<X509> make_cert(const CertParams& p) {
  auto made = X509::adopt(X509_new());
  if (!made) return detail::failure("testing: X509_new");
  X509 cert = std::move(*made);
  ::X509* x = cert.native_handle();

  if (auto ok = detail::check_positive(X509_set_version(x, X509_VERSION_3), "testing: version");
      !ok) {
    return std::move(ok).error();
  }
  BIGNUM* serial = BN_new();
  const bool serial_ok = serial != nullptr &&
                         BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
                         BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) != nullptr;
  BN_free(serial);
  if (!serial_ok) return detail::failure("testing: serial number");

  // A new name set whole (X509_set_subject_name copies it): OpenSSL 4.0 returns the
  // certificate's own name as const, so it is not edited in place.
  std::unique_ptr<X509_NAME, decltype(&X509_NAME_free)> subject_owner(X509_NAME_new(),
                                                                      &X509_NAME_free);
  if (!subject_owner) return detail::failure("testing: subject name");
  X509_NAME* subject = subject_owner.get();
  auto add_name = [&](const char* field, std::string_view value) {
    return detail::with_cstr(value, "testing: subject", [&](const char* s) {
      return detail::check_positive(
          X509_NAME_add_entry_by_txt(subject, field, MBSTRING_UTF8,
                                     reinterpret_cast<const unsigned char*>(s), -1, -1, 0),
          "testing: subject name");
    });
  };
  if (auto ok = add_name("O", "ossl test"); !ok) return std::move(ok).error();
  if (auto ok = add_name("CN", p.common_name); !ok) return std::move(ok).error();
  if (auto ok = detail::check_positive(X509_set_subject_name(x, subject), "testing: subject name");
      !ok) {
    return std::move(ok).error();
  }

  ::X509* issuer = p.issuer_cert != nullptr ? p.issuer_cert->native_handle() : x;
  if (auto ok = detail::check_positive(X509_set_issuer_name(x, X509_get_subject_name(issuer)),
                                       "testing: issuer name");
      !ok) {
    return std::move(ok).error();
  }
  const auto nb = Clock::to_time_t(p.validity.not_before);
  const auto na = Clock::to_time_t(p.validity.not_after);
  if (ASN1_TIME_set(X509_getm_notBefore(x), nb) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(x), na) == nullptr) {
    return detail::failure("testing: validity");
  }
  if (auto ok = detail::check_positive(X509_set_pubkey(x, p.subject_key->native_handle()),
                                       "testing: public key");
      !ok) {
    return std::move(ok).error();
  }

  const std::string ku = !p.key_usage.empty() ? std::string(p.key_usage)
                         : p.is_ca            ? "critical,keyCertSign,cRLSign"
                                              : "critical,digitalSignature,keyEncipherment";
  const char* eku = p.usage == Usage::Server        ? "serverAuth"
                    : p.usage == Usage::Client      ? "clientAuth"
                    : p.usage == Usage::OcspSigning ? "OCSPSigning"
                                                    : "serverAuth,clientAuth";
  const struct {
    int nid;
    const char* value;
    bool wanted;
  } exts[] = {
      {NID_basic_constraints, p.is_ca || p.leaf_ca ? "critical,CA:TRUE" : "critical,CA:FALSE",
       true},
      {NID_key_usage, ku.c_str(), true},
      {NID_ext_key_usage, eku, !p.is_ca},
      {NID_subject_key_identifier, "hash", true},
      {NID_authority_key_identifier, "keyid:always", p.issuer_cert != nullptr},
  };
  for (const auto& e : exts) {
    if (!e.wanted) continue;
    if (auto ok = add_ext(x, issuer, e.nid, e.value); !ok) return std::move(ok).error();
  }
  if (p.must_staple) {
    if (auto ok = add_ext(x, issuer, NID_tlsfeature, "status_request"); !ok) {
      return std::move(ok).error();
    }
  }
  if (p.dns != nullptr && p.ips != nullptr) {
    if (auto ok = add_san(x, *p.dns, *p.ips); !ok) return std::move(ok).error();
  }

  // Ed25519 signs without a separate digest (md must be null); the others use the
  // digest asked for, SHA-256 unless a test wants SHA-1.
  const bool ed = p.issuer_key->type_name() == "ED25519";
  const EVP_MD* md = ed ? nullptr : p.digest == SignatureDigest::Sha1 ? EVP_sha1() : EVP_sha256();
  if (X509_sign(x, p.issuer_key->native_handle(), md) <= 0) {
    return detail::failure("testing: X509_sign");
  }
  detail::cache_extensions(x);  // before the certificate can be shared (internal.hpp)
  return cert;
}

Result<void> write_file(std::string_view path, const std::string& text, mode_t mode) {
  std::string p(path);
  const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return ErrorStack::message("testing: cannot open \"" + p + "\" for writing");
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) {
      ::close(fd);
      return ErrorStack::message("testing: short write to \"" + p + "\"");
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return {};
}

}  // namespace

Validity Validity::days_from_now(int days) {
  const auto now = Clock::now();
  return {now - std::chrono::hours(1), now + std::chrono::hours(24) * days};
}

Validity Validity::expired() {
  const auto now = Clock::now();
  return {now - std::chrono::hours(24 * 31), now - std::chrono::hours(24)};
}

Validity Validity::not_yet_valid() {
  const auto now = Clock::now();
  return {now + std::chrono::hours(24), now + std::chrono::hours(24 * 31)};
}

Result<Pkey<Private>> generate_key(KeyType type) {
  switch (type) {
    case KeyType::EcP256:
      return Pkey<Private>::generate_ec(EcCurve::P256);
    case KeyType::EcP384:
      return Pkey<Private>::generate_ec(EcCurve::P384);
    case KeyType::Ed25519:
      return Pkey<Private>::generate_ed25519();
    case KeyType::Rsa2048:
      return Pkey<Private>::generate_rsa(2048);
    case KeyType::Rsa1024: {
      // Pkey::generate_rsa refuses keys this weak; a test PKI needs one on purpose.
      EVP_PKEY* weak = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(1024));
      if (weak == nullptr) return detail::failure("testing: RSA-1024 key");
      return Pkey<Private>::adopt(weak);
    }
  }
  return ErrorStack::message("testing: unknown key type");
}

Result<TestCa> TestCa::create_root(std::string_view common_name, KeyType key_type) {
  auto key = generate_key(key_type);
  if (!key) return std::move(key).error();
  auto cert = make_cert({common_name,
                         &*key,
                         nullptr,
                         &*key,
                         true,
                         Usage::Server,
                         nullptr,
                         nullptr,
                         Validity::days_from_now(365),
                         {},
                         false,
                         false});
  if (!cert) return std::move(cert).error();
  TestCa ca;
  ca.cert_ = std::move(*cert);
  ca.key_ = std::move(*key);
  return ca;
}

Result<Identity> TestCa::self_signed(const LeafSpec& spec) {
  auto key = generate_key(spec.key_type);
  if (!key) return std::move(key).error();
  auto cert = make_cert({spec.common_name, &*key, nullptr, &*key, false, spec.usage,
                         &spec.dns_names, &spec.ip_addresses, spec.validity, spec.key_usage,
                         spec.ca, spec.must_staple, spec.signature_digest});
  if (!cert) return std::move(cert).error();
  return Identity{std::move(*cert), std::move(*key), {}};
}

Result<TestCa> TestCa::create_intermediate(std::string_view common_name, KeyType key_type) const {
  auto key = generate_key(key_type);
  if (!key) return std::move(key).error();
  auto cert = make_cert({common_name,
                         &*key,
                         &cert_,
                         &key_,
                         true,
                         Usage::Server,
                         nullptr,
                         nullptr,
                         Validity::days_from_now(365),
                         {},
                         false,
                         false});
  if (!cert) return std::move(cert).error();
  TestCa ca;
  ca.cert_ = std::move(*cert);
  ca.key_ = std::move(*key);
  ca.chain_.push_back(ca.cert_);
  ca.chain_.insert(ca.chain_.end(), chain_.begin(), chain_.end());
  return ca;
}

Result<Identity> TestCa::issue(const LeafSpec& spec) const {
  auto key = generate_key(spec.key_type);
  if (!key) return std::move(key).error();
  auto cert = make_cert({spec.common_name, &*key, &cert_, &key_, false, spec.usage, &spec.dns_names,
                         &spec.ip_addresses, spec.validity, spec.key_usage, spec.ca,
                         spec.must_staple, spec.signature_digest});
  if (!cert) return std::move(cert).error();
  return Identity{std::move(*cert), std::move(*key), chain_};
}

Result<X509Crl> TestCa::issue_crl(std::span<const X509> revoked, Validity validity,
                                  int reason) const {
  auto made = X509Crl::adopt(X509_CRL_new());
  if (!made) return detail::failure("testing: X509_CRL_new");
  X509Crl crl = std::move(*made);
  ::X509_CRL* c = crl.native_handle();
  auto time_at = [](Clock::time_point t) { return ASN1_TIME_set(nullptr, Clock::to_time_t(t)); };
  ASN1_TIME* this_update = time_at(validity.not_before);
  ASN1_TIME* next_update = time_at(validity.not_after);
  ASN1_TIME* revoked_at = time_at(Clock::now() - std::chrono::hours(1));
  bool ok = this_update != nullptr && next_update != nullptr && revoked_at != nullptr &&
            X509_CRL_set_version(c, X509_CRL_VERSION_2) == 1 &&
            X509_CRL_set_issuer_name(c, X509_get_subject_name(cert_.native_handle())) == 1 &&
            X509_CRL_set1_lastUpdate(c, this_update) == 1 &&
            X509_CRL_set1_nextUpdate(c, next_update) == 1;
  for (const X509& cert : revoked) {
    if (!ok) break;
    X509_REVOKED* entry = X509_REVOKED_new();
    ASN1_ENUMERATED* code = ASN1_ENUMERATED_new();
    // A copy: OpenSSL 3.0 takes the serial as non-const (and copies it again).
    ASN1_INTEGER* serial = ASN1_INTEGER_dup(X509_get0_serialNumber(cert.native_handle()));
    ok = entry != nullptr && code != nullptr && serial != nullptr &&
         X509_REVOKED_set_serialNumber(entry, serial) == 1 &&
         X509_REVOKED_set_revocationDate(entry, revoked_at) == 1 &&
         ASN1_ENUMERATED_set(code, reason) == 1 &&
         X509_REVOKED_add1_ext_i2d(entry, NID_crl_reason, code, 0, 0) == 1 &&
         X509_CRL_add0_revoked(c, entry) == 1;  // takes the entry on success
    ASN1_ENUMERATED_free(code);
    ASN1_INTEGER_free(serial);
    if (!ok) X509_REVOKED_free(entry);
  }
  ASN1_TIME_free(this_update);
  ASN1_TIME_free(next_update);
  ASN1_TIME_free(revoked_at);
  if (!ok || X509_CRL_sort(c) != 1) return detail::failure("testing: building the CRL");
  const bool ed = key_.type_name() == "ED25519";
  if (X509_CRL_sign(c, key_.native_handle(), ed ? nullptr : EVP_sha256()) <= 0) {
    return detail::failure("testing: X509_CRL_sign");
  }
  return crl;
}

Result<std::vector<std::byte>> TestCa::issue_ocsp_response(const X509& cert, OcspStatus status,
                                                           Validity validity,
                                                           const Identity* signer) const {
  OCSP_BASICRESP* basic = OCSP_BASICRESP_new();
  OCSP_CERTID* id = OCSP_cert_to_id(nullptr, cert.native_handle(), cert_.native_handle());
  auto time_at = [](Clock::time_point t) {
    return ASN1_GENERALIZEDTIME_set(nullptr, Clock::to_time_t(t));
  };
  ASN1_GENERALIZEDTIME* this_update = time_at(validity.not_before);
  ASN1_GENERALIZEDTIME* next_update = time_at(validity.not_after);
  ASN1_GENERALIZEDTIME* revoked_at = time_at(Clock::now() - std::chrono::hours(1));
  const int code = status == OcspStatus::Good      ? V_OCSP_CERTSTATUS_GOOD
                   : status == OcspStatus::Revoked ? V_OCSP_CERTSTATUS_REVOKED
                                                   : V_OCSP_CERTSTATUS_UNKNOWN;
  const X509& sign_cert = signer != nullptr ? signer->cert : cert_;
  const Pkey<Private>& sign_key = signer != nullptr ? signer->key : key_;
  const bool ed = sign_key.type_name() == "ED25519";
  OCSP_RESPONSE* response = nullptr;
  const bool ok =
      basic != nullptr && id != nullptr && this_update != nullptr && next_update != nullptr &&
      revoked_at != nullptr &&
      OCSP_basic_add1_status(
          basic, id, code,
          code == V_OCSP_CERTSTATUS_REVOKED ? OCSP_REVOKED_STATUS_KEYCOMPROMISE : -1,
          code == V_OCSP_CERTSTATUS_REVOKED ? revoked_at : nullptr, this_update,
          next_update) != nullptr &&
      OCSP_basic_sign(basic, sign_cert.native_handle(), sign_key.native_handle(),
                      ed ? nullptr : EVP_sha256(), nullptr, 0) == 1 &&
      (response = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, basic)) != nullptr;
  OCSP_CERTID_free(id);
  ASN1_GENERALIZEDTIME_free(this_update);
  ASN1_GENERALIZEDTIME_free(next_update);
  ASN1_GENERALIZEDTIME_free(revoked_at);
  OCSP_BASICRESP_free(basic);
  if (!ok) {
    OCSP_RESPONSE_free(response);
    return detail::failure("testing: building the OCSP response");
  }
  auto der = detail::i2d_bytes(i2d_OCSP_RESPONSE, response, "testing: i2d_OCSP_RESPONSE");
  OCSP_RESPONSE_free(response);
  return der;
}

Result<void> Identity::write_pem(std::string_view cert_path, std::string_view key_path) const {
  auto pem = cert.to_pem();
  if (!pem) return std::move(pem).error();
  std::string bundle = std::move(*pem);
  for (const auto& c : chain) {
    auto more = c.to_pem();
    if (!more) return std::move(more).error();
    bundle += *more;
  }
  auto key_pem = key.to_pem();
  if (!key_pem) return std::move(key_pem).error();
  if (auto ok = write_file(cert_path, bundle, 0644); !ok) return ok;
  return write_file(key_path, *key_pem, 0600);
}

}  // namespace ossl::testing
