#include "openssl_ca.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>

namespace ossl_test {

namespace {

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  REQUIRE(out.good());
}

}  // namespace

OpensslCa::OpensslCa(const ossl::testing::TestCa& ca) : dir_(std::make_unique<TempDir>()) {
  ca_cert_ = dir_->path("ca.pem");
  ca_key_ = dir_->path("ca.key");
  index_ = dir_->path("index.txt");
  config_ = dir_->path("ca.cnf");
  REQUIRE(
      ossl::testing::Identity{ca.cert(), ca.key(), {}}.write_pem(ca_cert_, ca_key_).has_value());
  write_text(index_, "");
  write_text(dir_->path("crlnumber"), "01\n");
  write_text(config_,
             "[ca]\n"
             "default_ca = test_ca\n"
             "[test_ca]\n"
             "dir = " +
                 dir_->dir() +
                 "\n"
                 "database = $dir/index.txt\n"
                 "new_certs_dir = $dir\n"
                 "certificate = " +
                 ca_cert_ +
                 "\n"
                 "private_key = " +
                 ca_key_ +
                 "\n"
                 "crlnumber = $dir/crlnumber\n"
                 "default_md = sha256\n"
                 "default_crl_days = 7\n"
                 "default_days = 30\n"
                 "unique_subject = no\n"
                 "policy = any\n"
                 "[any]\n"
                 "commonName = supplied\n");
}

void OpensslCa::ca(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"openssl", "ca", "-config", config_, "-batch"};
  argv.insert(argv.end(), args.begin(), args.end());
  const RunResult r = run(argv, std::chrono::seconds(30));
  INFO(r.output);
  REQUIRE(r.status == 0);
}

std::string OpensslCa::write_cert(const ossl::X509& cert, const std::string& name) {
  const std::string path = dir_->path(name);
  write_text(path, cert.to_pem().value());
  return path;
}

void OpensslCa::add_valid(const ossl::X509& cert) {
  ca({"-valid", write_cert(cert, "valid" + std::to_string(++written_) + ".pem")});
}

void OpensslCa::revoke(const ossl::X509& cert, const std::string& reason) {
  ca({"-revoke", write_cert(cert, "revoked" + std::to_string(++written_) + ".pem"), "-crl_reason",
      reason});
}

std::string OpensslCa::gencrl(int days) {
  const std::string path = dir_->path("crl" + std::to_string(++written_) + ".pem");
  ca({"-gencrl", "-crldays", std::to_string(days), "-out", path});
  return path;
}

void OpensslCa::start_responder(const ossl::testing::Identity* signer) {
  responder_.reset();
  std::string rcert = ca_cert_, rkey = ca_key_;
  if (signer != nullptr) {
    rcert = dir_->path("responder.pem");
    rkey = dir_->path("responder.key");
    REQUIRE(
        ossl::testing::Identity{signer->cert, signer->key, {}}.write_pem(rcert, rkey).has_value());
  }
  port_ = free_port();
  responder_ = std::make_unique<Process>(std::vector<std::string>{
      // OpenSSL 3.0's -port takes a number only (the responder listens on every
      // interface); the tests reach it on 127.0.0.1.
      "openssl", "ocsp", "-index", index_, "-port", std::to_string(port_), "-rsigner", rcert,
      "-rkey", rkey, "-CA", ca_cert_, "-ndays", "1"});
  // Its own announcement, not a probe connection: OpenSSL 3.0's responder waits for a
  // request on every connection it accepts, and a probe that sends none wedges it.
  REQUIRE_MESSAGE(
      responder_->wait_for_output("waiting for OCSP client connections", std::chrono::seconds(10)),
      responder_->output());
}

std::vector<std::byte> OpensslCa::fetch(const ossl::X509& cert) {
  REQUIRE(responder_ != nullptr);
  const std::string cert_path = write_cert(cert, "query" + std::to_string(++written_) + ".pem");
  const std::string out = dir_->path("response" + std::to_string(written_) + ".der");
  const RunResult r =
      run({"openssl", "ocsp", "-issuer", ca_cert_, "-cert", cert_path, "-url",
           "http://127.0.0.1:" + std::to_string(port_), "-respout", out, "-noverify"},
          std::chrono::seconds(30));
  INFO(r.output);
  REQUIRE(r.status == 0);
  std::ifstream in(out, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE_FALSE(bytes.empty());
  std::vector<std::byte> der(bytes.size());
  std::memcpy(der.data(), bytes.data(), bytes.size());
  return der;
}

}  // namespace ossl_test
