#include <ossl/version.hpp>  // first: proves the header is self-contained

#include <doctest/doctest.h>

#include <string>

TEST_CASE("version() agrees with the version macros and the build's project version") {
  const std::string expected = std::to_string(OSSL_VERSION_MAJOR) + "." +
                               std::to_string(OSSL_VERSION_MINOR) + "." +
                               std::to_string(OSSL_VERSION_PATCH);
  CHECK(ossl::version() == expected);
  CHECK(ossl::version() == OSSL_TEST_PROJECT_VERSION);
}
