// /healthz, /readyz and /metrics of the operator over plain HTTP/1.1 (one request per
// connection; scrapes and probes need no more).
#pragma once

#include <prometheus/registry.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace kubefn::operator_cmd {

class HealthServer {
 public:
  // Binds address:port (0 picks one) before returning; throws std::runtime_error on failure.
  HealthServer(const std::string& address, std::uint16_t port, prometheus::Registry& registry,
               std::function<bool()> ready);
  ~HealthServer();
  std::uint16_t port() const { return port_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::uint16_t port_ = 0;
};

}  // namespace kubefn::operator_cmd
