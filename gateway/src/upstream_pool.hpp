// Keep-alive connections to the replicas: one pool per replica, per event loop.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstddef>
#include <memory>
#include <unordered_map>
#include <vector>

#include "buffer_budget.hpp"
#include "kubefn/gateway/route_table.hpp"
#include "kubefn/http/response_parser.hpp"

namespace kubefn::gateway {

// Idle connections kept per replica and event loop; one more is closed instead.
constexpr std::size_t kMaxIdlePerEndpoint = 256;

// A keep-alive connection to one replica and the buffer its responses are read into.
struct Upstream {
  explicit Upstream(boost::asio::io_context& io) : sock(io) {}
  boost::asio::ip::tcp::socket sock;
  std::vector<char> buf;
  std::size_t len = 0;  // bytes of buf received
  // Taken from a pool: a request that fails on it before its first byte was written may be
  // tried again (the replica closed it while it was idle).
  bool reused = false;
};

// The idle connections to one replica, and where it is.
struct Pool {
  std::shared_ptr<EndpointLoad> load;
  boost::asio::ip::tcp::endpoint address;
  bool address_ok = false;  // the replica's host is an IP address (or localhost)
  std::vector<std::unique_ptr<Upstream>> idle;
};

// Whether the connection `resp` was read from can carry another call: the response is whole,
// the replica keeps the connection open, and nothing arrived past the response (bytes nobody
// asked for would be taken as the next call's answer).
inline bool reusable_after(const http::HttpResponseParser& resp, const Upstream& up) {
  return resp.keep_alive() && resp.consumed() == up.len;
}

// One event loop's idle connections to the replicas, by replica (EndpointLoad).
//
// Threading: not thread-safe; a worker's own, used on its event loop's thread only. An idle
// connection's buffer is counted in the buffer budget as the gateway's; take_idle() hands that
// count to the taker, give_back() takes it again.
class UpstreamPool {
 public:
  explicit UpstreamPool(BufferBudget& budget,
                        std::size_t max_idle_per_endpoint = kMaxIdlePerEndpoint)
      : budget_(budget), max_idle_(max_idle_per_endpoint) {}
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;

  // The replica's pool, made on first use (its address resolved once: "localhost" is
  // 127.0.0.1, a host that is no IP address leaves address_ok false).
  Pool& pool_for(const std::shared_ptr<EndpointLoad>& load);

  // An idle connection of `pool` the replica has not closed, marked reused and counted as the
  // caller's from here; null when none is left. Connections found closed, reset or with bytes
  // nobody asked for are closed on the way, before any byte of a request is written to them,
  // so trying the next one (or a new connection) is always safe.
  std::unique_ptr<Upstream> take_idle(Pool& pool);

  // A connection after a whole response (see reusable_after): pooled again with the initial
  // buffer only, unless its replica is no longer listed (or has no pool here), its pool is
  // full or the gateway is draining; then it is closed.
  void give_back(std::unique_ptr<Upstream> up, const EndpointLoad* key, bool draining);

  // Closes and forgets the pools of replicas no longer listed (EndpointLoad::removed).
  void prune();
  // Closes every idle connection; the pools stay (drain).
  void close_idle();
  // Closes every idle connection and forgets every pool (stop).
  void clear();

  std::size_t pool_count() const { return pools_.size(); }
  // Idle connections to the replica `key`; 0 without a pool.
  std::size_t idle_count(const EndpointLoad* key) const;

 private:
  void close_idle(Pool& pool);

  BufferBudget& budget_;
  const std::size_t max_idle_;
  std::unordered_map<const EndpointLoad*, Pool> pools_;
};

}  // namespace kubefn::gateway
