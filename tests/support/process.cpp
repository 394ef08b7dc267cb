#include "process.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

namespace ossl_test {

namespace {
// Test support cannot go on without these system calls; the suites also build without
// exceptions, so the failure is reported and the test binary stops (a failed run).
[[noreturn]] void fatal(const char* what) {
  std::fprintf(stderr, "test support: %s: %s\n", what, std::strerror(errno));
  std::abort();
}
}  // namespace

using namespace std::chrono_literals;

Process::Process(std::vector<std::string> argv, std::string stdin_data) {
  char tmpl[] = "/tmp/ossl-proc-XXXXXX";
  const int log = ::mkstemp(tmpl);
  if (log < 0) fatal("mkstemp");
  log_path_ = tmpl;
  for (const auto& a : argv)
    command_ += (command_.empty() ? "" : " ") + a;
  int in[2];
  if (::pipe(in) != 0) fatal("pipe");
  pid_ = ::fork();
  if (pid_ < 0) fatal("fork");
  if (pid_ == 0) {
    ::setpgid(0, 0);  // its own group, so stop() reaches its children too
    ::dup2(in[0], 0);
    ::dup2(log, 1);
    ::dup2(log, 2);
    ::close(in[0]);
    ::close(in[1]);
    ::close(log);
    std::vector<char*> args;
    for (auto& a : argv)
      args.push_back(a.data());
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::setpgid(pid_, pid_);
  ::close(in[0]);
  ::close(log);
  ::signal(SIGPIPE, SIG_IGN);
  std::size_t done = 0;
  while (done < stdin_data.size()) {
    const ssize_t n = ::write(in[1], stdin_data.data() + done, stdin_data.size() - done);
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  ::close(in[1]);
}

Process::~Process() {
  stop();
  ::unlink(log_path_.c_str());
}

int Process::wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (pid_ > 0) {
    int st = 0;
    const pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      stop();
      return -1;
    }
    std::this_thread::sleep_for(10ms);
  }
  return status_;
}

void Process::stop() {
  if (pid_ <= 0) return;
  ::kill(-pid_, SIGTERM);
  for (int i = 0; i < 300; ++i) {  // 3 s
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      status_ = -1;
      return;
    }
    std::this_thread::sleep_for(10ms);
  }
  ::kill(-pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
  status_ = -1;
}

std::string Process::output() const {
  std::ifstream in(log_path_);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool Process::wait_for_output(const std::string& text, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (output().find(text) != std::string::npos) return true;
    if (pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return output().find(text) != std::string::npos;
    }
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

RunResult run(std::vector<std::string> argv, std::chrono::milliseconds timeout,
              std::string stdin_data) {
  Process p(std::move(argv), std::move(stdin_data));
  const int status = p.wait(timeout);
  return {status, p.output()};
}

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool wait_for_port(std::uint16_t port, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (ok) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

TempDir::TempDir() {
  char tmpl[] = "/tmp/ossl-interop-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) fatal("mkdtemp");
  dir_ = tmpl;
}

std::string TempDir::write(const std::string& name, std::string_view bytes) const {
  const std::string file = path(name);
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) fatal(("writing " + file).c_str());
  return file;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

}  // namespace ossl_test
