#include "redis_server.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <fstream>
#include <thread>

namespace ossl_test {

RedisServer::RedisServer(std::string password) : RedisServer(free_port(), std::move(password)) {}

RedisServer::RedisServer(std::uint16_t port, std::string password)
    : port_(port), password_(std::move(password)) {
  start();
}

void RedisServer::start() {
  const std::string conf = dir_.path("redis.conf");
  {
    std::ofstream out(conf);
    out << "bind 127.0.0.1\n"
        << "port " << port_ << "\n"
        << "dir " << dir_.dir() << "\n"
        << "save \"\"\n"
        << "appendonly no\n"
        << "daemonize no\n"
        << "protected-mode yes\n"
        << "maxmemory 32mb\n"
        << "maxmemory-policy volatile-lru\n"
        << "loglevel notice\n";
    if (!password_.empty()) out << "requirepass " << password_ << "\n";
  }
  process_ = std::make_unique<Process>(std::vector<std::string>{"redis-server", conf});
  const bool up = wait_for_port(port_, std::chrono::seconds(10));
  INFO("redis-server output: ", process_->output());
  REQUIRE_MESSAGE(up, "redis-server (Debian package redis-server) did not start on port ", port_);
}

std::string RedisServer::url() const {
  return "redis://" + (password_.empty() ? "" : ":" + password_ + "@") +
         "127.0.0.1:" + std::to_string(port_);
}

void RedisServer::stop() {
  if (process_) process_->stop();
}

}  // namespace ossl_test
