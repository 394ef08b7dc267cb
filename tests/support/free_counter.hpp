// Test support: counts how often OpenSSL frees an object, through an ex_data slot
// whose free callback runs exactly once, when the object's last reference goes.
#pragma once

#include <openssl/crypto.h>

namespace ossl_test {

/// Registers (once per class_index) an ex_data index whose free callback increments
/// the int the slot points to. Store `&counter` in the object's slot with
/// CRYPTO_set_ex_data-style setters (SSL_CTX_set_ex_data, ...).
inline int free_counter_index(int class_index) {
  auto on_free = [](void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
    if (ptr != nullptr) ++*static_cast<int*>(ptr);
  };
  return CRYPTO_get_ex_new_index(class_index, 0, nullptr, nullptr, nullptr, on_free);
}

}  // namespace ossl_test
