// ossl: ALPN (RFC 7301): the wire format (protocol names, each prefixed by its length
// in one byte, the whole list at most 65535 bytes) and the types of server-side
// selection (SslCtx::set_alpn_server_protocols / set_alpn_select_callback,
// implemented in src/alpn_select.cpp).
#pragma once

#include <ossl/detail/export.hpp>
#include <ossl/result.hpp>

#include <cstddef>
#include <functional>
#include <optional>
#include <initializer_list>
#include <span>
#include <string_view>
#include <vector>

namespace ossl {

/// What a server does when the client offers ALPN but shares no protocol with it.
enum class AlpnMismatch {
  Fail,      ///< Fail the handshake with the no_application_protocol alert (RFC 7301).
  Continue,  ///< Complete the handshake without ALPN.
};

/// A server's ALPN choice: given the protocols the client offered (in its order),
/// returns one of them, or nullopt for "none acceptable". It may run on several
/// handshake threads at once. An exception it throws fails the handshake (the
/// internal_error alert); it never unwinds into OpenSSL.
using AlpnSelector =
    std::function<std::optional<std::string_view>(std::span<const std::string_view> offered)>;

/// Encodes protocol names into the wire format. Empty names, names over 255 bytes,
/// an empty list and lists over 65535 encoded bytes are errors naming the offender.
[[nodiscard]] OSSL_API Result<std::vector<std::byte>> alpn_encode(
    std::span<const std::string_view> names);
/// Overload for a braced list: alpn_encode({"h2", "http/1.1"}).
[[nodiscard]] OSSL_API Result<std::vector<std::byte>> alpn_encode(
    std::initializer_list<std::string_view> names);

/// Validates a wire-format list and returns views of its names (valid while `wire`
/// is). A zero length prefix, a prefix that runs past the end, an empty list or one
/// over 65535 bytes is an error giving the offset.
[[nodiscard]] OSSL_API Result<std::vector<std::string_view>> alpn_decode(
    std::span<const std::byte> wire);

}  // namespace ossl
