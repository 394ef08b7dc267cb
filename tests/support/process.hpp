// Test support: child processes that are always bounded in time and always stopped.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ossl_test {

/// A child process with stdout+stderr captured in a log file. The destructor stops it
/// (SIGTERM to its process group, SIGKILL after 3 s) and reaps it, even when a test fails.
class Process {
 public:
  /// Starts argv[0] (searched in PATH) with `stdin_data` on its standard input.
  Process(std::vector<std::string> argv, std::string stdin_data = {});
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();

  /// Waits up to `timeout` for the process to exit; returns its exit status, or -1 if
  /// it had to be killed (timeout) or died of a signal.
  int wait(std::chrono::milliseconds timeout);
  /// Stops the process now (SIGTERM, then SIGKILL) and reaps it.
  void stop();
  /// Everything it printed so far.
  [[nodiscard]] std::string output() const;
  /// Waits until its output contains `text`; false after `timeout` or if it exited.
  bool wait_for_output(const std::string& text, std::chrono::milliseconds timeout);
  [[nodiscard]] const std::string& command() const { return command_; }
  /// Its process id (-1 once reaped).
  [[nodiscard]] int pid() const { return pid_; }

 private:
  int pid_ = -1;
  int status_ = -1;
  std::string log_path_;
  std::string command_;
};

/// Runs a command to completion within `timeout` and returns {exit status, output}.
struct RunResult {
  int status;
  std::string output;
};
RunResult run(std::vector<std::string> argv, std::chrono::milliseconds timeout,
              std::string stdin_data = {});

/// The path this test binary was started as (argv[0]), for running it again in a child.
const std::string& self_path();

/// Returns a TCP port on 127.0.0.1 that was free a moment ago.
std::uint16_t free_port();
/// Waits until something accepts TCP connections on 127.0.0.1:`port`.
bool wait_for_port(std::uint16_t port, std::chrono::milliseconds timeout);
/// A fresh temporary directory, removed with its files by the destructor.
class TempDir {
 public:
  TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  [[nodiscard]] std::string path(const std::string& name) const { return dir_ + "/" + name; }
  [[nodiscard]] const std::string& dir() const { return dir_; }
  /// Writes `bytes` to the file `name` in the directory (replacing it) and returns its
  /// path; aborts the test run when it cannot.
  std::string write(const std::string& name, std::string_view bytes) const;

 private:
  std::string dir_;
};

}  // namespace ossl_test
