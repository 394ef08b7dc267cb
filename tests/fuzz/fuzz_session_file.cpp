// Saved client session caches: ClientSessionCache::import_sessions() over any bytes,
// then offering what it loaded. The fingerprint field is overwritten with this
// process's own (the PKI is generated per process), so inputs get past it to the
// per-session checks; the cache is emptied after each input.
#include "common.hpp"

#include <algorithm>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::CachedClient& c = fuzz::cached_client();
  static const std::vector<std::byte> empty = c.cache->export_sessions(c.ctx).value();
  constexpr std::size_t kPrint = 24;  // after the 24-byte header line; 32 bytes
  std::vector<std::byte> input(fuzz::bytes(data, size).begin(), fuzz::bytes(data, size).end());
  if (input.size() >= kPrint + 32) {
    std::copy_n(empty.begin() + kPrint, 32, input.begin() + kPrint);
  }
  auto report = c.cache->import_sessions(c.ctx, input);
  if (report) {
    fuzz::require(!report->verification_changed || report->loaded == 0);
    fuzz::require(c.cache->size() <= c.cache->max_peers() * c.cache->max_sessions_per_peer());
    auto ssl = c.ctx.new_ssl_for_host("localhost", 443);  // offers a loaded session, if any
    fuzz::require(ssl.has_value());
  }
  c.cache->clear();
  fuzz::require(ERR_peek_error() == 0);
  return 0;
}
