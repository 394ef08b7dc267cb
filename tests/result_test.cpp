#include <ossl/result.hpp>  // first: proves the header is self-contained

#include <doctest/doctest.h>

#include <memory>
#include <string>

using namespace ossl;

namespace {
Result<int> parse(bool ok) {
  if (ok) return 42;
  return ErrorStack::message("parse: bad digits");
}
}  // namespace

TEST_CASE("a value result exposes the std::expected names") {
  Result<int> r = parse(true);
  CHECK(r.has_value());
  CHECK(static_cast<bool>(r));
  CHECK(*r == 42);
  CHECK(r.value() == 42);
  CHECK(r.value_or(7) == 42);
  Result<std::string> s = std::string("abc");
  CHECK(s->size() == 3);
}

TEST_CASE("an error result holds the error; value() throws Error with it") {
  Result<int> r = parse(false);
  CHECK_FALSE(r.has_value());
  CHECK(r.value_or(7) == 7);
  CHECK(r.error().to_string().find("parse: bad digits") != std::string::npos);
  CHECK_THROWS_AS(r.value(), Error);
  try {
    (void)r.value();
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("bad digits") != std::string::npos);
  }
}

TEST_CASE("Result<void> is success by default and carries an error otherwise") {
  Result<void> ok;
  CHECK(ok.has_value());
  CHECK_NOTHROW(ok.value());
  Result<void> bad = ErrorStack::message("nope");
  CHECK_FALSE(bad);
  CHECK_THROWS_AS(bad.value(), Error);
}

TEST_CASE("move-only values move out of a result") {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(5);
  std::unique_ptr<int> p = std::move(r).value();
  REQUIRE(p);
  CHECK(*p == 5);
}
