#include "alloc_counter.hpp"

#include <openssl/crypto.h>

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<std::uint64_t> g_openssl{0};
std::atomic<std::uint64_t> g_cxx{0};

void* counting_malloc(std::size_t n, const char*, int) {
  g_openssl.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n);
}
void* counting_realloc(void* p, std::size_t n, const char*, int) {
  g_openssl.fetch_add(1, std::memory_order_relaxed);
  return std::realloc(p, n);
}
void counting_free(void* p, const char*, int) {
  std::free(p);
}

void* counted_new(std::size_t n) {
  g_cxx.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
#if defined(__cpp_exceptions)
  throw std::bad_alloc();
#else
  std::abort();
#endif
}
}  // namespace

void* operator new(std::size_t n) {
  return counted_new(n);
}
void* operator new[](std::size_t n) {
  return counted_new(n);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}

namespace bench::alloc {

bool install_openssl_hooks() {
  return CRYPTO_set_mem_functions(counting_malloc, counting_realloc, counting_free) == 1;
}

Counts now() {
  return {g_openssl.load(std::memory_order_relaxed), g_cxx.load(std::memory_order_relaxed)};
}

}  // namespace bench::alloc
