// ossl: TLS 1.3 early data (0-RTT): what a client learns about the early data it sent,
// and what a server's read_early_data() returns. The calls are Ssl::write_early_data(),
// Ssl::read_early_data(), Ssl::early_data_status() (<ossl/ssl.hpp>) and, on a server
// context, SslCtx::set_max_early_data() (builder: early_data()). src/early_data.cpp
// implements them.
//
// Early data is sent before the handshake authenticates anything and may be replayed
// by whoever recorded it: a server accepts it only when told to (a size limit of its
// own choosing), every ticket it accepts early data under is single-use (RFC 8446
// section 8.1), and it can only ever read early data through read_early_data(), which
// says that it is early; Ssl::read() never returns it.
#pragma once

#include <cstddef>

namespace ossl {

/// What became of a connection's early data. (SSL_get_early_data_status)
enum class EarlyDataStatus {
  NotSent,   ///< None was sent (client) or offered (server), or the handshake is not done.
  Rejected,  ///< The server refused it: the client must send it again, after the handshake.
  Accepted,  ///< The server accepted it (and read it through read_early_data()).
};

/// What one Ssl::read_early_data() call returned.
struct EarlyDataRead {
  /// Bytes of early data put at the start of the buffer (0 when `finished`).
  std::size_t size = 0;
  /// The client's early data is over, or there was none, or it was rejected: go on with
  /// do_handshake()/accept(), then read() for what the client sends after the handshake.
  bool finished = false;
};

/// Returns "not sent", "rejected" or "accepted".
[[nodiscard]] constexpr const char* to_string(EarlyDataStatus status) noexcept {
  switch (status) {
    case EarlyDataStatus::NotSent:
      return "not sent";
    case EarlyDataStatus::Rejected:
      return "rejected";
    case EarlyDataStatus::Accepted:
      return "accepted";
  }
  return "?";
}

}  // namespace ossl
