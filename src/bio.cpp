#include <ossl/bio.hpp>
#include <ossl/detail/check.hpp>

#include <openssl/bio.h>

#include <climits>
#include <string>

namespace ossl {

Result<Bio> Bio::new_mem() {
  auto p = detail::check_ptr(BIO_new(BIO_s_mem()), "Bio::new_mem");
  if (!p) return std::move(p).error();
  return Bio(*p);
}

Result<Bio> Bio::from_bytes(std::span<const std::byte> bytes) {
  auto bio = new_mem();
  if (!bio) return bio;
  if (!bytes.empty()) {
    auto n = bio->write(bytes);
    if (!n) return std::move(n).error().with_context("Bio::from_bytes");
  }
  return bio;
}

Result<Bio> Bio::from_bytes(std::string_view text) {
  return from_bytes(std::as_bytes(std::span(text.data(), text.size())));
}

Result<std::pair<Bio, Bio>> Bio::new_bio_pair(std::size_t first_buffer, std::size_t second_buffer) {
  BIO* a = nullptr;
  BIO* b = nullptr;
  // BIO_new_bio_pair returns 1 on success and leaves both null on failure; it owns
  // nothing afterwards: each half is freed on its own (freeing one unlinks the pair).
  if (auto ok = detail::check_positive(BIO_new_bio_pair(&a, first_buffer, &b, second_buffer),
                                       "Bio::new_bio_pair");
      !ok) {
    return std::move(ok).error();
  }
  return std::pair<Bio, Bio>(Bio(a), Bio(b));
}

Result<Bio> Bio::new_socket(int fd, CloseOnFree close) {
  if (fd < 0) {
    return ErrorStack::message("Bio::new_socket: invalid file descriptor " + std::to_string(fd));
  }
  auto p = detail::check_ptr(
      BIO_new_socket(fd, close == CloseOnFree::Yes ? BIO_CLOSE : BIO_NOCLOSE), "Bio::new_socket");
  if (!p) return std::move(p).error();
  return Bio(*p);
}

Result<std::size_t> Bio::read(std::span<std::byte> buf) {
  if (!*this) return empty_error("read");
  if (buf.empty()) return std::size_t{0};
  std::size_t n = 0;
  // BIO_read_ex returns 1 with n > 0 on success and 0 both for "retry later" and
  // for end of data; neither queues an error, so 0 is only an error if one was queued.
  if (BIO_read_ex(native_handle(), buf.data(), buf.size(), &n) == 1) return n;
  if (ERR_peek_error() != 0) return detail::failure("Bio::read");
  return std::size_t{0};
}

Result<std::size_t> Bio::write(std::span<const std::byte> buf) {
  if (!*this) return empty_error("write");
  if (buf.empty()) return std::size_t{0};
  std::size_t n = 0;
  if (BIO_write_ex(native_handle(), buf.data(), buf.size(), &n) == 1) return n;
  if (should_retry()) return std::size_t{0};
  return detail::failure("Bio::write");
}

Result<std::size_t> Bio::write(std::string_view text) {
  return write(std::as_bytes(std::span(text.data(), text.size())));
}

bool Bio::should_retry() const noexcept {
  return *this && BIO_should_retry(native_handle()) != 0;
}

bool Bio::eof() const noexcept {
  return *this && BIO_eof(native_handle()) != 0;
}

std::size_t Bio::pending() const noexcept {
  return *this ? BIO_ctrl_pending(native_handle()) : 0;
}

Result<void> Bio::shutdown_wr() {
  if (!*this) return empty_error("shutdown_wr");
  if (BIO_method_type(native_handle()) != BIO_TYPE_BIO) {
    return ErrorStack::message("Bio::shutdown_wr: not a BIO pair half");
  }
  return detail::check_positive(BIO_ctrl(native_handle(), BIO_C_SHUTDOWN_WR, 0, nullptr),
                                "Bio::shutdown_wr");
}

std::span<const std::byte> Bio::mem_contents() const noexcept {
  if (!*this || BIO_method_type(native_handle()) != BIO_TYPE_MEM) return {};
  char* data = nullptr;
  long len = BIO_ctrl(native_handle(), BIO_CTRL_INFO, 0, &data);
  if (len <= 0 || data == nullptr) return {};
  return {reinterpret_cast<const std::byte*>(data), static_cast<std::size_t>(len)};
}

}  // namespace ossl
