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
#if defined(__cpp_exceptions)
  CHECK_THROWS_AS(r.value(), Error);
  try {
    (void)r.value();
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("bad digits") != std::string::npos);
  }
#endif
}

TEST_CASE("Result<void> is success by default and carries an error otherwise") {
  Result<void> ok;
  CHECK(ok.has_value());
  CHECK_NOTHROW(ok.value());
  Result<void> bad = ErrorStack::message("nope");
  CHECK_FALSE(bad);
#if defined(__cpp_exceptions)
  CHECK_THROWS_AS(bad.value(), Error);
#endif
}

TEST_CASE("move-only values move out of a result") {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(5);
  std::unique_ptr<int> p = std::move(r).value();
  REQUIRE(p);
  CHECK(*p == 5);
}

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <signal.h>

TEST_CASE("value() on an error: throws Error, or without exceptions aborts printing the error") {
#if defined(__cpp_exceptions)
  Result<int> r = ErrorStack::message("the reason");
  CHECK_THROWS_WITH_AS(r.value(), "ossl: the reason", Error);
#else
  // A death test: the child calls value() on an error; it must abort with the text.
  int out[2];
  REQUIRE(::pipe(out) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::signal(SIGABRT, SIG_DFL);  // not doctest's crash handler: die as a user's program would
    ::dup2(out[1], 2);
    if (std::FILE* null = std::fopen("/dev/null", "w")) ::dup2(::fileno(null), 1);
    Result<int> r = ErrorStack::message("the reason");
    (void)r.value();
    ::_exit(0);  // not reached
  }
  ::close(out[1]);
  std::string text;
  char buf[256];
  for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) > 0;)
    text.append(buf, static_cast<std::size_t>(n));
  ::close(out[0]);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGABRT);
  CHECK(text.find("ossl: Result::value() on an error: ossl: the reason") != std::string::npos);
#endif
}
