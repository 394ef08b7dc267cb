// ossl: Bio, a move-only owner of an OpenSSL BIO (memory, BIO pair half, socket).
#pragma once

#include <ossl/detail/handle.hpp>
#include <ossl/result.hpp>

#include <openssl/bio.h>

#include <cstddef>
#include <span>
#include <string_view>
#include <utility>

namespace ossl {

namespace detail {
/// How Handle frees a BIO.
template <>
struct HandleTraits<BIO> {
  // BIO_free_all: a Bio may own a chain (e.g. a filter pushed onto a socket BIO).
  /// Releases one reference (BIO_free_all).
  static void free(BIO* p) noexcept { BIO_free_all(p); }
};
}  // namespace detail

/// Whether a socket Bio closes its file descriptor when freed.
enum class CloseOnFree : bool {
  No = false,  ///< The descriptor stays open (BIO_NOCLOSE); the caller closes it.
  Yes = true,  ///< Freeing the Bio closes the descriptor (BIO_CLOSE).
};

/// Move-only owner of a BIO (chain). Ownership passes to an Ssl with
/// Ssl::set_bio()/set_bio_duplex(); a moved-from Bio is empty and safe to destroy.
class OSSL_API Bio : public detail::Owner<Bio, BIO> {
 public:
  /// The type name that error messages start with ("Name::method: ...").
  static constexpr const char* kName = "Bio";

  /// An empty Bio (operator bool is false; methods return an "empty Bio" error).
  Bio() noexcept = default;
  ///@{
  /// Takes over `other`'s BIO (freeing the one held before); `other` is left empty.
  Bio(Bio&&) noexcept = default;
  Bio& operator=(Bio&&) noexcept = default;
  ///@}
  Bio(const Bio&) = delete;
  Bio& operator=(const Bio&) = delete;

  /// Creates an empty, growable memory BIO; returns the drained errors on allocation
  /// failure. (BIO_new(BIO_s_mem()))
  [[nodiscard]] static Result<Bio> new_mem();

  /// Creates a memory BIO holding a copy of `bytes` (so the Bio never dangles); returns
  /// an error on allocation failure. (BIO_new + BIO_write)
  [[nodiscard]] static Result<Bio> from_bytes(std::span<const std::byte> bytes);
  /// Overload of from_bytes() for text.
  [[nodiscard]] static Result<Bio> from_bytes(std::string_view text);

  /// Creates two linked in-memory BIOs: bytes written to one are read from the other.
  /// Each half buffers at most `first_buffer` / `second_buffer` bytes it has been
  /// written (0 picks OpenSSL's default of 17 KiB). Both halves are owned by the caller,
  /// typically handed to a client and a server Ssl. Returns an error on allocation
  /// failure. (BIO_new_bio_pair)
  [[nodiscard]] static Result<std::pair<Bio, Bio>> new_bio_pair(std::size_t first_buffer = 0,
                                                                std::size_t second_buffer = 0);

  /// Wraps a connected socket `fd`; with CloseOnFree::Yes the Bio closes it when freed.
  /// Returns an error for a negative descriptor or on allocation failure.
  /// (BIO_new_socket)
  [[nodiscard]] static Result<Bio> new_socket(int fd, CloseOnFree close);

  /// Reads up to `buf.size()` bytes. Returns the count read; 0 means nothing is
  /// available now (see should_retry()) or end of data (see eof()). A hard failure
  /// returns the drained errors. (BIO_read_ex)
  [[nodiscard]] Result<std::size_t> read(std::span<std::byte> buf);

  /// Writes up to `buf.size()` bytes and returns how many were taken; 0 means the BIO
  /// is full (a pair half) and should_retry() is true. A hard failure (e.g. writing
  /// after shutdown_wr()) returns the drained errors. (BIO_write_ex)
  [[nodiscard]] Result<std::size_t> write(std::span<const std::byte> buf);
  /// Overload of write() for text.
  [[nodiscard]] Result<std::size_t> write(std::string_view text);

  /// Returns true when the last read or write failed only because it would block.
  /// (BIO_should_retry)
  [[nodiscard]] bool should_retry() const noexcept;

  /// Returns true at end of data: an empty read-only memory BIO, or a pair half whose
  /// peer called shutdown_wr() and whose buffer is drained. (BIO_eof)
  [[nodiscard]] bool eof() const noexcept;

  /// Returns the number of bytes waiting to be read. (BIO_ctrl_pending)
  [[nodiscard]] std::size_t pending() const noexcept;

  /// For a BIO pair half: signals end of data to the peer half, whose reads return
  /// 0 with eof() once drained; later writes here fail. Returns an error for other
  /// BIO types. (BIO_shutdown_wr, i.e. BIO_ctrl(BIO_C_SHUTDOWN_WR))
  [[nodiscard]] Result<void> shutdown_wr();

  /// For a memory BIO: returns a view of the bytes it holds, valid until the next
  /// operation on it; empty for other BIO types. (BIO_get_mem_data, i.e.
  /// BIO_ctrl(BIO_CTRL_INFO))
  [[nodiscard]] std::span<const std::byte> mem_contents() const noexcept;

 private:
  friend class detail::Owner<Bio, BIO>;
  explicit Bio(BIO* p) noexcept : Owner(p) {}
};

}  // namespace ossl
