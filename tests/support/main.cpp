// The doctest runner shared by every test binary. It records the binary's own path for
// tests that run it again in a child process (under valgrind, /proc/self/exe would be
// valgrind's launcher, argv[0] is the test binary).
#define DOCTEST_CONFIG_IMPLEMENT
#include "process.hpp"

#include <doctest/doctest.h>

#include <string>

namespace ossl_test {
namespace {
std::string self;
}  // namespace
const std::string& self_path() {
  return self;
}
}  // namespace ossl_test

int main(int argc, char** argv) {
  ossl_test::self = argc > 0 ? argv[0] : "/proc/self/exe";
  doctest::Context context(argc, argv);
  return context.run();
}
