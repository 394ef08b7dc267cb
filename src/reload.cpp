#include <ossl/reload.hpp>

#include <openssl/ssl.h>

#include <string>
#include <utility>

namespace ossl {

ReloadableCtx::ReloadableCtx(SslCtx initial) noexcept : ctx_(std::move(initial)) {}

SslCtx ReloadableCtx::current() const {
  const std::lock_guard lock(mutex_);
  return ctx_;  // SSL_CTX_up_ref
}

Result<Ssl> ReloadableCtx::new_ssl() const {
  // SSL_new outside the lock: it copies the context's settings, which takes a while,
  // and the reference taken here keeps the context alive meanwhile.
  const SslCtx ctx = current();
  if (!ctx) {
    return ErrorStack::message("ReloadableCtx::new_ssl: no context to make a connection from "
                               "(the one given was empty; replace() gives one)");
  }
  return ctx.new_ssl();
}

Result<std::uint64_t> ReloadableCtx::replace(SslCtx next) {
  if (!next) {
    return ErrorStack::message("ReloadableCtx::replace: an empty SslCtx; generation " +
                               std::to_string(generation()) + " stays");
  }
  std::uint64_t generation = 0;
  {
    const std::lock_guard lock(mutex_);
    // A client context cannot serve, nor a server context connect: the methods a context
    // was made with (TLS_server_method, TLS_client_method, TLS_method for both) must match.
    if (ctx_ && SSL_CTX_get_ssl_method(ctx_.native_handle()) !=
                    SSL_CTX_get_ssl_method(next.native_handle())) {
      return ErrorStack::message(
          "ReloadableCtx::replace: the new context is for another role than the current "
          "one (made with another of new_server(), new_client(), create()); generation " +
          std::to_string(generation_) + " stays");
    }
    std::swap(ctx_, next);
    generation = ++generation_;
  }
  // `next` now holds the previous context: its reference is dropped here, outside the
  // lock; connections made from it keep it alive until they end.
  return generation;
}

std::uint64_t ReloadableCtx::generation() const noexcept {
  const std::lock_guard lock(mutex_);
  return generation_;
}

}  // namespace ossl
