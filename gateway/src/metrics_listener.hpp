// The metrics listener: GET /metrics on a port of its own, never on the public one.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <string>

#include "kubefn/kube/status.hpp"
#include "metrics.hpp"

namespace kubefn::gateway {

// Serves the gateway's metrics (and whatever else their registry holds), one request per
// connection, each cut after `exchange_timeout`.
//
// Threading: runs on the event loop it was given; listen() and close() on that loop's thread
// or before it runs.
class MetricsListener {
 public:
  MetricsListener(boost::asio::io_context& io, const GatewayMetrics& metrics,
                  std::chrono::milliseconds exchange_timeout)
      : metrics_(metrics), timeout_(exchange_timeout), acceptor_(io) {}

  // Binds `address`:`port` (0 picks) and starts accepting.
  kube::Status listen(const std::string& address, int port);
  std::uint16_t port() const { return port_; }
  void close();

 private:
  void accept();

  const GatewayMetrics& metrics_;
  const std::chrono::milliseconds timeout_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
};

}  // namespace kubefn::gateway
