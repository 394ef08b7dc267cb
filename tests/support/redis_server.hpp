// Test support: a real redis-server (Debian's), on 127.0.0.1 with its own port, config
// and directory, stopped by the destructor even when a test fails.
#pragma once

#include "process.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace ossl_test {

/// A redis-server of the test's own: no persistence, bounded memory, listening only on
/// 127.0.0.1:port(). start() REQUIREs that it answers within 10 s.
class RedisServer {
 public:
  /// Starts one on a free port, with `password` required when not empty.
  explicit RedisServer(std::string password = {});
  /// Starts one on `port` (to bring a stopped server back on the same address).
  RedisServer(std::uint16_t port, std::string password);
  [[nodiscard]] std::uint16_t port() const { return port_; }
  /// "redis://127.0.0.1:PORT" (with ":PASSWORD@" when one is set).
  [[nodiscard]] std::string url() const;
  /// Stops it now (SIGTERM, then SIGKILL) and reaps it: the port refuses connections.
  void stop();
  /// Everything it logged.
  [[nodiscard]] std::string output() const { return process_ ? process_->output() : ""; }

 private:
  void start();
  std::uint16_t port_;
  std::string password_;
  TempDir dir_;
  std::unique_ptr<Process> process_;
};

}  // namespace ossl_test
