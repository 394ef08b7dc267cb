// ossl private machinery: symbol visibility. The shared library is built with hidden
// visibility by default (-fvisibility=hidden); OSSL_API marks the public API, which is
// all that libossl.so exports.
#pragma once

/// Marks a class or function as part of libossl's exported API (default visibility).
#if defined(__GNUC__) || defined(__clang__)
#define OSSL_API __attribute__((visibility("default")))
#else
#define OSSL_API
#endif
