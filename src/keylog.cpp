// The key log (NSS format, for Wireshark): SslCtx::danger_set_keylog_callback and
// key_log_file(). Owns the context's key log callback slot.
#include <ossl/keylog.hpp>

#include <ossl/context.hpp>

#include "ctx_state.hpp"
#include "internal.hpp"

#include <openssl/ssl.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>

namespace ossl {

namespace detail {
/// The key log receiver (a snapshot in CtxState::keylog; never changed once stored).
struct KeyLogConfig {
  KeyLogCallback callback;
};
}  // namespace detail

namespace {

// SSL_CTX_keylog_cb_func: OpenSSL calls it once per secret as the handshake derives
// it. The receiver belongs to the connection's context (SSL_get_SSL_CTX, get0); the
// snapshot loaded here is held for the call. Exceptions are swallowed: none may
// unwind through libssl.
void key_log_line(const SSL* ssl, const char* line) {
  const detail::CtxState* state = detail::find_ctx_state(SSL_get_SSL_CTX(ssl));
  const std::shared_ptr<const detail::KeyLogConfig> cfg =
      state != nullptr ? state->keylog.load() : nullptr;
  if (!cfg) return;
#if defined(__cpp_exceptions)
  try {
    cfg->callback(line);
  } catch (...) {
  }
#else
  cfg->callback(line);
#endif
}

}  // namespace

Result<void> SslCtx::danger_set_keylog_callback(KeyLogCallback callback) {
  static constexpr const char* what = "SslCtx::danger_set_keylog_callback";
  if (!*this) return empty_error("danger_set_keylog_callback");
  detail::CtxState* state = detail::ctx_state(native_handle());
  if (state == nullptr) return detail::failure(what);
  if (!callback) {
    // Off: an empty snapshot. A callback already installed stays (OpenSSL reads the
    // field unlocked, so it is never rewritten on a live context); it drops the lines.
    state->keylog.store(nullptr);
    return {};
  }
  auto cfg = std::make_shared<detail::KeyLogConfig>();
  cfg->callback = std::move(callback);
  state->keylog.store(std::move(cfg));
  if (state->install_once(detail::kKeyLogSlot)) {
    SSL_CTX_set_keylog_callback(native_handle(), key_log_line);
  }
  return {};
}

Result<KeyLogCallback> key_log_file(std::string_view path) {
  auto file = detail::with_cstr(path, "key_log_file", [path](const char* p) -> Result<std::FILE*> {
    // open(2) rather than fopen: a new file must not be readable by others.
    const int fd = ::open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      return ErrorStack::message("key_log_file: cannot open \"" + std::string(path) +
                                 "\": " + std::strerror(errno));
    }
    std::FILE* f = ::fdopen(fd, "a");
    if (f == nullptr) {
      const int e = errno;
      ::close(fd);
      return ErrorStack::message("key_log_file: fdopen \"" + std::string(path) +
                                 "\": " + std::strerror(e));
    }
    return f;
  });
  if (!file) return std::move(file).error();
  struct Sink {
    std::mutex mutex;
    std::FILE* file = nullptr;
    explicit Sink(std::FILE* f) : file(f) {}
    Sink(const Sink&) = delete;
    Sink& operator=(const Sink&) = delete;
    ~Sink() { (void)std::fclose(file); }
  };
  auto sink = std::make_shared<Sink>(*file);
  return KeyLogCallback([sink](std::string_view line) {
    const std::lock_guard lock(sink->mutex);
    (void)std::fwrite(line.data(), 1, line.size(), sink->file);
    (void)std::fputc('\n', sink->file);
    (void)std::fflush(sink->file);  // a debugging aid must not lose lines on a crash
  });
}

}  // namespace ossl
