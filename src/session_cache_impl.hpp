// Private to src/: the inside of a ClientSessionCache, shared by src/session_cache.cpp
// (the new-session callback and new_ssl_for_host's lookup) and src/session_cache_file.cpp
// (saving and loading).
#pragma once

#include <ossl/session_cache.hpp>

#include <cstdint>
#include <deque>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace ossl {

/// Peers in a list, most recently used first, found through an index by key; each with
/// its sessions, newest first. Every member runs with `mutex` held unless it says so.
struct ClientSessionCache::Impl {
  struct Peer {
    std::uint64_t context = 0;
    std::uint16_t port = 0;
    std::string host;
    std::string key;
    std::deque<SslSession> sessions;  // newest first
  };
  mutable std::mutex mutex;
  std::list<Peer> peers;  // most recently used first
  std::unordered_map<std::string, std::list<Peer>::iterator> index;
  std::size_t size = 0;
  Stats stats;

  // True when `s` may no longer be offered: OpenSSL marked it not resumable (its
  // connection was freed without close_notify, so it may have been cut) or it expired.
  static bool expired(const SslSession& s, SslSession::Clock::time_point now) {
    return !s.is_resumable() || s.time() + s.timeout() <= now;
  }

  static std::string key_of(std::uint64_t context, std::string_view host, std::uint16_t port) {
    std::string key = std::to_string(context);
    key += '/';
    key += std::to_string(port);
    key += '/';
    key += host;
    return key;
  }

  // Drops the least recently used peer.
  void evict_last() {
    Peer& last = peers.back();
    size -= last.sessions.size();
    stats.evicted += last.sessions.size();
    index.erase(last.key);
    peers.pop_back();
  }

  void erase(std::list<Peer>::iterator it) {
    size -= it->sessions.size();
    index.erase(it->key);
    peers.erase(it);
  }

  // Files `session` under (context, host, port) as the peer's newest (the peer becomes
  // the most recently used); drops the peer's oldest past `max_per_peer` and the least
  // recently used peer past `max_peers`. Takes the lock.
  void put(std::uint64_t context, std::string_view host, std::uint16_t port, SslSession session,
           std::size_t max_peers, std::size_t max_per_peer) {
    std::string key = key_of(context, host, port);
    const std::lock_guard lock(mutex);
    auto found = index.find(key);
    if (found == index.end()) {
      if (peers.size() >= max_peers) evict_last();
      peers.push_front(Peer{context, port, std::string(host), key, {}});
      found = index.emplace(std::move(key), peers.begin()).first;
    } else {
      peers.splice(peers.begin(), peers, found->second);  // now the most recent
    }
    std::deque<SslSession>& list = found->second->sessions;
    list.push_front(std::move(session));
    ++size;
    ++stats.stored;
    while (list.size() > max_per_peer) {
      list.pop_back();
      --size;
      ++stats.evicted;
    }
  }
};

}  // namespace ossl
