// Test support: a certificate authority database run by OpenSSL's own `openssl ca` (and
// its OCSP responder, `openssl ocsp`), over a CA of the in-memory test PKI. Revocations,
// CRLs and OCSP answers then come from a tool nobody here wrote.
#pragma once

#include "process.hpp"

#include <ossl/ossl.hpp>
#include <ossl/testing/certs.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace ossl_test {

/// An `openssl ca` database (index.txt, crlnumber, a config) in a temporary directory,
/// for the certificates `ca` issued. Every command is bounded in time and REQUIREd to
/// succeed.
class OpensslCa {
 public:
  explicit OpensslCa(const ossl::testing::TestCa& ca);

  /// Records `cert` as valid (`openssl ca -valid`).
  void add_valid(const ossl::X509& cert);
  /// Revokes `cert` with an RFC 5280 reason name, e.g. "keyCompromise" (`openssl ca
  /// -revoke -crl_reason`); a certificate not yet in the database is added first.
  void revoke(const ossl::X509& cert, const std::string& reason = "keyCompromise");
  /// Generates a CRL valid for `days` (`openssl ca -gencrl -crldays`) and returns its
  /// PEM file's path.
  std::string gencrl(int days = 7);

  /// Writes `cert` (PEM) into the directory and returns its path.
  std::string write_cert(const ossl::X509& cert, const std::string& name);
  /// The CA certificate's and key's paths.
  [[nodiscard]] const std::string& cert_path() const { return ca_cert_; }
  [[nodiscard]] const std::string& key_path() const { return ca_key_; }
  [[nodiscard]] const std::string& index_path() const { return index_; }
  [[nodiscard]] const TempDir& dir() const { return *dir_; }

 private:
  void ca(const std::vector<std::string>& args);

  std::unique_ptr<TempDir> dir_;
  std::string config_;
  std::string ca_cert_;
  std::string ca_key_;
  std::string index_;
  int written_ = 0;
};

}  // namespace ossl_test
