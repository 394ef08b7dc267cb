// Test support: a session store error callback that records what it is told.
#pragma once

#include <ossl/session_store.hpp>

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace ossl_test {

/// The lines a session store's error callback was given, filled from the handshake's
/// thread and read by the test's.
class StoreErrorLog {
 public:
  /// A callback that appends each error's text (ErrorStack::to_string()).
  ossl::SessionStoreErrorCallback callback() {
    return [this](const ossl::ErrorStack& e) {
      const std::lock_guard lock(mutex_);
      lines_.push_back(e.to_string());
    };
  }
  /// True when a line contains `what`.
  bool any_contains(std::string_view what) const {
    const std::lock_guard lock(mutex_);
    for (const std::string& l : lines_) {
      if (l.find(what) != std::string::npos) return true;
    }
    return false;
  }
  /// Every line, one per line (for failure messages).
  std::string all() const {
    const std::lock_guard lock(mutex_);
    std::string out;
    for (const std::string& l : lines_)
      out += l + "\n";
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

}  // namespace ossl_test
