#include <ossl/alpn.hpp>

#include <string>

namespace ossl {

namespace {
constexpr std::size_t kMaxName = 255;
constexpr std::size_t kMaxList = 65535;
}  // namespace

Result<std::vector<std::byte>> alpn_encode(std::span<const std::string_view> names) {
  if (names.empty()) return ErrorStack::message("alpn_encode: empty protocol list");
  std::vector<std::byte> wire;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const std::string_view name = names[i];
    if (name.empty()) {
      return ErrorStack::message("alpn_encode: protocol #" + std::to_string(i + 1) + " is empty");
    }
    if (name.size() > kMaxName) {
      return ErrorStack::message("alpn_encode: protocol #" + std::to_string(i + 1) + " is " +
                                 std::to_string(name.size()) + " bytes (at most 255)");
    }
    wire.push_back(static_cast<std::byte>(name.size()));
    for (char c : name)
      wire.push_back(static_cast<std::byte>(c));
  }
  if (wire.size() > kMaxList) {
    return ErrorStack::message("alpn_encode: the list encodes to " + std::to_string(wire.size()) +
                               " bytes (at most 65535)");
  }
  return wire;
}

Result<std::vector<std::byte>> alpn_encode(std::initializer_list<std::string_view> names) {
  return alpn_encode(std::span<const std::string_view>(names.begin(), names.size()));
}

Result<std::vector<std::string_view>> alpn_decode(std::span<const std::byte> wire) {
  if (wire.empty()) return ErrorStack::message("alpn_decode: empty protocol list");
  if (wire.size() > kMaxList) {
    return ErrorStack::message("alpn_decode: list of " + std::to_string(wire.size()) +
                               " bytes (at most 65535)");
  }
  std::vector<std::string_view> names;
  std::size_t at = 0;
  while (at < wire.size()) {
    const auto len = static_cast<std::size_t>(wire[at]);
    if (len == 0) {
      return ErrorStack::message("alpn_decode: zero length prefix at offset " + std::to_string(at));
    }
    if (at + 1 + len > wire.size()) {
      return ErrorStack::message("alpn_decode: length prefix " + std::to_string(len) +
                                 " at offset " + std::to_string(at) + " runs past the end (" +
                                 std::to_string(wire.size()) + " bytes)");
    }
    names.emplace_back(reinterpret_cast<const char*>(wire.data() + at + 1), len);
    at += 1 + len;
  }
  return names;
}

}  // namespace ossl
