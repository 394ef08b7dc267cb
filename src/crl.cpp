#include <ossl/crl.hpp>

#include "internal.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <cstring>

namespace ossl {

namespace detail {

std::string file_context(std::string_view what, std::string_view path) {
  std::string out(what);
  out += ": \"";
  out += path;
  out += '"';
  return out;
}

Result<std::vector<std::byte>> read_whole_file(std::string_view path, const char* what) {
  const std::string where = file_context(what, path);
  return with_cstr(path, where, [&](const char* p) -> Result<std::vector<std::byte>> {
    BIO* bio = BIO_new_file(p, "rb");  // queues the system error (e.g. No such file)
    if (bio == nullptr) return failure(where);
    std::vector<std::byte> out;
    std::byte chunk[4096];
    for (;;) {
      const int n = BIO_read(bio, chunk, sizeof chunk);
      if (n <= 0) break;
      out.insert(out.end(), chunk, chunk + n);
    }
    BIO_free(bio);
    if (out.empty()) return ErrorStack::message(where + ": empty file");
    return out;
  });
}

}  // namespace detail

namespace {

int no_password(char*, int, int, void*) {
  return 0;
}

}  // namespace

Result<X509Crl> X509Crl::from_pem(std::string_view pem) {
  auto bio = detail::input_bio(detail::as_bytes(pem), "X509Crl::from_pem");
  if (!bio) return std::move(bio).error();
  ERR_set_mark();
  ::X509_CRL* crl = PEM_read_bio_X509_CRL(bio->native_handle(), nullptr, no_password, nullptr);
  if (crl == nullptr) {
    ERR_clear_last_mark();
    return detail::failure("X509Crl::from_pem: no valid PEM CRL");
  }
  ERR_pop_to_mark();  // records a successful parse left (see detail::read_pem_stack)
  return X509Crl(crl);
}

Result<X509Crl> X509Crl::from_der(std::span<const std::byte> der) {
  ERR_set_mark();
  auto crl = detail::d2i_exact<::X509_CRL>(d2i_X509_CRL, X509_CRL_free, der, "X509Crl::from_der");
  if (!crl) {
    ERR_clear_last_mark();
    return std::move(crl).error();
  }
  ERR_pop_to_mark();  // records a successful parse left (see detail::read_pem_stack)
  return X509Crl(*crl);
}

Result<std::vector<X509Crl>> X509Crl::stack_from_pem(std::string_view pem) {
  return detail::read_pem_stack<X509Crl>(
      pem, "X509Crl::stack_from_pem", "CRL",
      [](BIO* bio) { return PEM_read_bio_X509_CRL(bio, nullptr, no_password, nullptr); },
      [](::X509_CRL* crl) { return X509Crl(crl); });
}

Result<std::vector<X509Crl>> X509Crl::load_file(std::string_view path) {
  auto bytes = detail::read_whole_file(path, "X509Crl::load_file");
  if (!bytes) return std::move(bytes).error();
  const std::string_view text(reinterpret_cast<const char*>(bytes->data()), bytes->size());
  const std::string where = "X509Crl::load_file: \"" + std::string(path) + "\"";
  if (text.find("-----BEGIN") != std::string_view::npos) {
    auto crls = stack_from_pem(text);
    if (!crls) return std::move(crls).error().with_context(where);
    return crls;
  }
  auto crl = from_der(*bytes);
  if (!crl) return std::move(crl).error().with_context(where + " (neither PEM nor one DER CRL)");
  std::vector<X509Crl> out;
  out.push_back(std::move(*crl));
  return out;
}

Result<std::string> X509Crl::issuer_name() const {
  if (!*this) return empty_error("issuer_name");
  return detail::name_text(X509_CRL_get_issuer(native_handle()), "X509Crl::issuer_name");
}

Result<X509Crl::Clock::time_point> X509Crl::last_update() const {
  if (!*this) return empty_error("last_update");
  return detail::asn1_time(X509_CRL_get0_lastUpdate(native_handle()), "X509Crl::last_update");
}

Result<std::optional<X509Crl::Clock::time_point>> X509Crl::next_update() const {
  if (!*this) return empty_error("next_update");
  const ASN1_TIME* t = X509_CRL_get0_nextUpdate(native_handle());  // get0; null: none
  if (t == nullptr) return std::optional<Clock::time_point>();
  auto at = detail::asn1_time(t, "X509Crl::next_update");
  if (!at) return std::move(at).error();
  return std::optional<Clock::time_point>(*at);
}

bool X509Crl::lists(const X509& cert) const noexcept {
  if (!*this || !cert) return false;
  X509_REVOKED* entry = nullptr;  // get0 into the CRL
  // X509_CRL_get0_by_serial returns 1 for a listed serial (2 for removeFromCRL).
  return X509_CRL_get0_by_serial(native_handle(), &entry,
                                 X509_get0_serialNumber(cert.native_handle())) == 1;
}

Result<std::string> X509Crl::to_pem() const {
  if (!*this) return empty_error("to_pem");
  ::X509_CRL* crl = native_handle();
  return detail::write_text([crl](BIO* bio) { return PEM_write_bio_X509_CRL(bio, crl); },
                            "X509Crl::to_pem");
}

Result<std::vector<std::byte>> X509Crl::to_der() const {
  if (!*this) return empty_error("to_der");
  return detail::i2d_bytes(i2d_X509_CRL, native_handle(), "X509Crl::to_der");
}

}  // namespace ossl
