// Session ticket keys (TicketKey, SslCtx::set_ticket_keys) and the context's ticket key
// callback slot, which this file owns. The callback encrypts new tickets with the first
// key of the context's current list (a snapshot: replaced whole by set_ticket_keys()
// while handshakes run) and decrypts a ticket with the key its name names.
#include <ossl/ticket_keys.hpp>

#include <ossl/context.hpp>

#include "ctx_state.hpp"
#include "internal.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ossl {

namespace detail {

/// The keys a server context's tickets use (a snapshot in CtxState::ticket_keys).
struct TicketKeyConfig {
  std::vector<TicketKey> keys;  // the encrypting key first
};

}  // namespace detail

TicketKey::~TicketKey() {
  OPENSSL_cleanse(bytes_.data(), bytes_.size());
}

bool operator==(const TicketKey& a, const TicketKey& b) noexcept {
  return a.size_ == b.size_ && CRYPTO_memcmp(a.bytes_.data(), b.bytes_.data(), a.size_) == 0;
}

Result<TicketKey> TicketKey::generate() {
  TicketKey key;
  key.size_ = kSize;
  if (RAND_priv_bytes(reinterpret_cast<unsigned char*>(key.bytes_.data()),
                      static_cast<int>(kSize)) != 1) {
    return detail::failure("TicketKey::generate");
  }
  return key;
}

Result<TicketKey> TicketKey::from_bytes(std::span<const std::byte> bytes) {
  if (bytes.size() != kSize && bytes.size() != kSmallSize) {
    return ErrorStack::message(
        "TicketKey::from_bytes: a ticket key is 80 bytes (AES-256) or 48 "
        "bytes (AES-128), as nginx reads them; got " +
        std::to_string(bytes.size()));
  }
  TicketKey key;
  key.size_ = bytes.size();
  std::copy(bytes.begin(), bytes.end(), key.bytes_.begin());
  return key;
}

Result<TicketKey> TicketKey::load_file(std::string_view path) {
  auto bytes = detail::read_whole_file(path, "TicketKey::load_file");
  if (!bytes) return std::move(bytes).error();
  auto key = from_bytes(*bytes);
  OPENSSL_cleanse(bytes->data(), bytes->size());
  if (!key) {
    return ErrorStack::message("TicketKey::load_file: \"" + std::string(path) + "\" holds " +
                               std::to_string(bytes->size()) +
                               " bytes; a ticket key file holds exactly 80 (or 48)");
  }
  return key;
}

Result<void> TicketKey::write_file(std::string_view path) const {
  return detail::with_cstr(path, "TicketKey::write_file", [&](const char* p) -> Result<void> {
    const std::string shown(path);
    // A new file with no permissions for others; an existing one is replaced whole.
    const int fd = ::open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
      return ErrorStack::message("TicketKey::write_file: cannot open \"" + shown +
                                 "\": " + std::strerror(errno));
    }
    (void)::fchmod(fd, 0600);
    std::size_t done = 0;
    while (done < size_) {
      const ssize_t n = ::write(fd, bytes_.data() + done, size_ - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const int e = errno;
        ::close(fd);
        return ErrorStack::message("TicketKey::write_file: writing \"" + shown +
                                   "\": " + std::strerror(e));
      }
      done += static_cast<std::size_t>(n);
    }
    if (::close(fd) != 0) {
      return ErrorStack::message("TicketKey::write_file: closing \"" + shown +
                                 "\": " + std::strerror(errno));
    }
    return {};
  });
}

std::string TicketKey::name_hex() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(32);
  for (const std::byte b : name()) {
    const auto v = std::to_integer<unsigned>(b);
    out += kHex[v >> 4];
    out += kHex[v & 15];
  }
  return out;
}

namespace detail {
namespace {

// Sets up the cipher and MAC contexts with `key` for one ticket: AES-256-CBC or
// AES-128-CBC and HMAC-SHA256, as nginx does for its 80- and 48-byte keys. Returns
// false when OpenSSL refuses (the callback then reports an error).
bool init_ticket_crypto(const TicketKey& key, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                        EVP_MAC_CTX* mac, bool encrypt) {
  const auto* raw = reinterpret_cast<const unsigned char*>(key.bytes().data());
  const bool big = key.aes256();
  const std::size_t secret = big ? 32 : 16;
  const unsigned char* hmac_key = raw + 16;
  const unsigned char* aes_key = raw + 16 + secret;
  const EVP_CIPHER* aes = big ? EVP_aes_256_cbc() : EVP_aes_128_cbc();
  const int ok = encrypt ? EVP_EncryptInit_ex(cipher, aes, nullptr, aes_key, iv)
                         : EVP_DecryptInit_ex(cipher, aes, nullptr, aes_key, iv);
  if (ok != 1) return false;
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, const_cast<unsigned char*>(hmac_key),
                                        secret),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end(),
  };
  return EVP_MAC_CTX_set_params(mac, params) == 1;
}

// SSL_CTX_set_tlsext_ticket_key_evp_cb's callback. Encrypting (enc == 1): names the
// first key, draws a fresh IV, returns 1 (or 0: no ticket, when there are no keys).
// Decrypting: finds the key by name; 0 when none has it (OpenSSL then makes a full
// handshake and a new ticket), 1 for the first key, 2 for an older one (accepted, and
// a new ticket under the first key is sent) and for any key in TLS 1.3 (whose tickets
// are single-use). -1 on an OpenSSL failure.
int ticket_key_callback(SSL* ssl, unsigned char key_name[16], unsigned char* iv,
                        EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int enc) {
  const CtxState* state = find_ctx_state(SSL_get_SSL_CTX(ssl));
  const std::shared_ptr<const TicketKeyConfig> cfg =
      state != nullptr ? state->ticket_keys.load() : nullptr;
  if (!cfg || cfg->keys.empty()) return 0;
  if (enc == 1) {
    const TicketKey& key = cfg->keys.front();
    const int iv_len =
        EVP_CIPHER_get_iv_length(key.aes256() ? EVP_aes_256_cbc() : EVP_aes_128_cbc());
    if (iv_len <= 0 || RAND_bytes(iv, iv_len) != 1) return -1;
    std::memcpy(key_name, key.name().data(), 16);
    return init_ticket_crypto(key, iv, cipher, mac, true) ? 1 : -1;
  }
  for (std::size_t i = 0; i < cfg->keys.size(); ++i) {
    const TicketKey& key = cfg->keys[i];
    if (CRYPTO_memcmp(key_name, key.name().data(), 16) != 0) continue;
    if (!init_ticket_crypto(key, iv, cipher, mac, false)) return -1;
    // TLS 1.3: always renew. A TLS 1.3 server sends new tickets after a resumption only
    // when the ticket is renewed, and clients use each ticket once (RFC 8446 C.4): 1
    // would leave a client every other connection without a ticket.
    return i == 0 && SSL_version(ssl) != TLS1_3_VERSION ? 1 : 2;
  }
  return 0;
}

}  // namespace
}  // namespace detail

Result<void> SslCtx::set_ticket_keys(std::vector<TicketKey> keys) {
  static constexpr const char* what = "SslCtx::set_ticket_keys";
  if (!*this) return empty_error("set_ticket_keys");
  if (keys.empty()) {
    return ErrorStack::message(std::string(what) +
                               ": no keys (give at least one; the first encrypts new tickets)");
  }
  for (std::size_t i = 0; i < keys.size(); ++i) {
    for (std::size_t j = i + 1; j < keys.size(); ++j) {
      if (CRYPTO_memcmp(keys[i].name().data(), keys[j].name().data(), 16) == 0) {
        return ErrorStack::message(std::string(what) + ": keys " + std::to_string(i + 1) + " and " +
                                   std::to_string(j + 1) + " share the name " + keys[i].name_hex() +
                                   "; a ticket could not tell them apart");
      }
    }
  }
  detail::CtxState* state = detail::ctx_state(native_handle());
  if (state == nullptr) return detail::failure(what);
  if (state->session_store.load()) {
    return ErrorStack::message(std::string(what) +
                               ": the context resumes through a session store "
                               "(set_session_store); a context resumes through ticket keys or a "
                               "session store, not both");
  }
  if (SSL_CTX_get_max_early_data(native_handle()) > 0 && !state->early_data_replay_allowed.load()) {
    return ErrorStack::message(
        std::string(what) +
        ": the context takes early data (set_max_early_data), and tickets under shared keys "
        "are accepted by every server with the keys as often as they live: early data under "
        "them could be replayed. Share sessions through a session store instead (single-use "
        "tickets), or accept replays with danger_allow_early_data_replay()");
  }
  auto cfg = std::make_shared<detail::TicketKeyConfig>();
  cfg->keys = std::move(keys);
  state->ticket_keys.store(std::move(cfg));
  if (state->install_once(detail::kTicketKeySlot)) {
    if (SSL_CTX_set_tlsext_ticket_key_evp_cb(native_handle(), detail::ticket_key_callback) != 1) {
      return detail::failure(what);
    }
  }
  return {};
}

}  // namespace ossl
