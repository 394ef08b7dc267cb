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
#include <vector>

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

  /// Starts `openssl ocsp` as a responder over this database on 127.0.0.1, signing with
  /// `signer` (null: the CA itself), and waits until it listens. Stopped by the
  /// destructor (or a later call), even when a test fails.
  void start_responder(const ossl::testing::Identity* signer = nullptr);
  /// Asks the responder about `cert` with `openssl ocsp -url` (not verifying the
  /// answer: that is the client's job under test) and returns the DER response.
  std::vector<std::byte> fetch(const ossl::X509& cert);

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
  std::unique_ptr<Process> responder_;
  std::uint16_t port_ = 0;
  std::string config_;
  std::string ca_cert_;
  std::string ca_key_;
  std::string index_;
  int written_ = 0;
};

}  // namespace ossl_test
