#include <ossl/bio.hpp>  // first: proves the header is self-contained

#include <doctest/doctest.h>
#include <openssl/err.h>

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <type_traits>

using namespace ossl;
using namespace std::literals;

static_assert(!std::is_copy_constructible_v<Bio> && !std::is_copy_assignable_v<Bio>);
static_assert(std::is_nothrow_move_constructible_v<Bio>);

namespace {
std::string read_text(Bio& bio, std::size_t max = 256) {
  std::string out(max, '\0');
  auto n = bio.read(std::as_writable_bytes(std::span(out.data(), out.size()))).value();
  out.resize(n);
  return out;
}
}  // namespace

TEST_CASE("a memory BIO holds what is written, and from_bytes copies its input") {
  auto bio = Bio::new_mem().value();
  CHECK(bio.write("hello"sv).value() == 5);
  CHECK(bio.pending() == 5);
  auto view = bio.mem_contents();
  CHECK(std::string_view(reinterpret_cast<const char*>(view.data()), view.size()) == "hello");
  CHECK(read_text(bio) == "hello");
  std::string source = "copied";
  auto copy = Bio::from_bytes(source).value();
  source.assign("XXXXXX");
  CHECK(read_text(copy) == "copied");
}

TEST_CASE("a BIO pair carries bytes both ways and honours its buffer sizes") {
  auto [a, b] = Bio::new_bio_pair(8, 16).value();
  CHECK(a.write("0123456789"sv).value() == 8);  // a buffers at most 8 bytes
  CHECK(a.write("89"sv).value() == 0);
  CHECK(a.should_retry());
  CHECK(read_text(b) == "01234567");
  CHECK(b.write("pong"sv).value() == 4);
  CHECK(read_text(a) == "pong");
  char one[1];
  auto n = a.read(std::as_writable_bytes(std::span(one)));  // nothing waiting
  CHECK(n.value() == 0);
  CHECK(a.should_retry());
  CHECK_FALSE(a.eof());
}

TEST_CASE("shutdown_wr on a pair half signals end of data to the other half") {
  auto [a, b] = Bio::new_bio_pair().value();
  CHECK(a.write("last"sv).value() == 4);
  REQUIRE(a.shutdown_wr().has_value());
  CHECK(read_text(b) == "last");
  CHECK(read_text(b).empty());
  CHECK(b.eof());
  CHECK_FALSE(b.should_retry());
  auto after = a.write("more"sv);
  CHECK_FALSE(after.has_value());  // writing after shutdown_wr is an error
  CHECK(ERR_peek_error() == 0);

  auto mem = Bio::new_mem().value();
  auto wrong = mem.shutdown_wr();
  REQUIRE_FALSE(wrong.has_value());
  CHECK(wrong.error().to_string().find("not a BIO pair half") != std::string::npos);
}

TEST_CASE("a socket BIO reads and writes its descriptor and closes it only when asked") {
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  {
    auto owner = Bio::new_socket(fds[0], CloseOnFree::Yes).value();
    auto borrower = Bio::new_socket(fds[1], CloseOnFree::No).value();
    CHECK(owner.write("over the socket"sv).value() == 15);
    CHECK(read_text(borrower) == "over the socket");
  }
  errno = 0;
  CHECK(::close(fds[0]) == -1);  // already closed by its owning Bio
  CHECK(errno == EBADF);
  CHECK(::close(fds[1]) == 0);  // still open: CloseOnFree::No
  auto bad = Bio::new_socket(-1, CloseOnFree::No);
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().to_string().find("invalid file descriptor -1") != std::string::npos);
}

TEST_CASE("a moved-from Bio is empty; calls on it are errors, not crashes") {
  auto bio = Bio::new_mem().value();
  Bio other = std::move(bio);
  CHECK(other);
  CHECK_FALSE(bio);
  auto r = bio.write("x"sv);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().to_string().find("Bio::write: empty Bio") != std::string::npos);
  CHECK(bio.pending() == 0);
  CHECK_FALSE(bio.eof());
  CHECK(bio.mem_contents().empty());
  BIO* raw = other.release();
  CHECK_FALSE(other);
  auto back = Bio::adopt(raw);
  REQUIRE(back.has_value());
  auto null = Bio::adopt(nullptr);
  REQUIRE_FALSE(null.has_value());
  CHECK(null.error().to_string().find("Bio::adopt: null pointer") != std::string::npos);
  CHECK(ERR_peek_error() == 0);
}
