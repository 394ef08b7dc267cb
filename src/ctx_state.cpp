#include "ctx_state.hpp"
#include "internal.hpp"

#include <openssl/err.h>

#include <mutex>
#include <new>

namespace ossl::detail {

namespace {

// The ex_data index whose free callback deletes the CtxState when the context is freed.
int state_index() noexcept {
  static const int index = SSL_CTX_get_ex_new_index(
      0, nullptr, nullptr, nullptr, [](void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
        delete static_cast<CtxState*>(ptr);
      });
  return index;
}

std::atomic<std::uint64_t> next_id{1};
std::mutex attach_mutex;

}  // namespace

CtxState* find_ctx_state(const SSL_CTX* ctx) noexcept {
  const int index = state_index();
  return index < 0 ? nullptr : static_cast<CtxState*>(SSL_CTX_get_ex_data(ctx, index));
}

CtxState* ctx_state(SSL_CTX* ctx) noexcept {
  if (CtxState* s = find_ctx_state(ctx)) return s;
  const int index = state_index();
  if (index < 0) return nullptr;
  const std::lock_guard lock(attach_mutex);
  if (CtxState* s = find_ctx_state(ctx)) return s;  // attached by another thread meanwhile
  auto* state = new (std::nothrow) CtxState(next_id.fetch_add(1, std::memory_order_relaxed));
  if (state == nullptr) {
    raise_error(ERR_LIB_SSL, ERR_R_MALLOC_FAILURE, "attaching ossl's context state");
    return nullptr;
  }
  if (SSL_CTX_set_ex_data(ctx, index, state) != 1) {
    delete state;
    return nullptr;
  }
  return state;
}

}  // namespace ossl::detail
