// Counts heap allocations: OpenSSL's (through CRYPTO_set_mem_functions) and the C++
// heap's (through a replaced global operator new). Compile alloc_counter.cpp into the
// executable itself so that its operator new replaces the library's.
#pragma once

#include <cstdint>

namespace bench::alloc {

struct Counts {
  std::uint64_t openssl = 0;  ///< CRYPTO_malloc/realloc calls
  std::uint64_t cxx = 0;      ///< operator new calls
};

/// Routes OpenSSL's allocations through the counter. Must run before OpenSSL allocates
/// anything (first thing in main); returns false if it was too late.
bool install_openssl_hooks();

/// The counts so far (this process, all threads).
Counts now();

}  // namespace bench::alloc
