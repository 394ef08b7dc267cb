#include "openssl_ca.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <fstream>

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

}  // namespace ossl_test
