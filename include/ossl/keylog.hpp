// ossl: the TLS key log (NSS key log format, as Wireshark reads it from SSLKEYLOGFILE):
// the receiver type and a file sink. Contexts take a receiver with
// SslCtx::danger_set_keylog_callback (builder: danger_key_log); src/keylog.cpp owns the
// context's key log callback slot.
#pragma once

#include <ossl/detail/export.hpp>
#include <ossl/result.hpp>

#include <functional>
#include <string_view>

namespace ossl {

/// Receives one line of key log in the NSS key log format ("LABEL <client random>
/// <secret>", hex, no newline), as Wireshark reads from SSLKEYLOGFILE. Called on
/// handshake threads, possibly several at once. An exception it throws is swallowed
/// (that line is lost): it never unwinds into OpenSSL.
using KeyLogCallback = std::function<void(std::string_view line)>;

/// Returns a KeyLogCallback that appends each line to the file at `path` (created if
/// missing, mode 0600 on creation) under a mutex; the file stays open as long as a
/// copy of the callback exists. An unopenable path is an error naming it and errno.
/// Secrets in that file decrypt the recorded traffic: for debugging only.
/// (fopen(path, "a"), fputs, fflush)
[[nodiscard]] OSSL_API Result<KeyLogCallback> key_log_file(std::string_view path);

}  // namespace ossl
