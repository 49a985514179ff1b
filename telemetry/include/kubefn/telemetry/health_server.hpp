// /healthz, /readyz and /metrics of the operator (and of the local platform) over plain HTTP/1.1
// (one request per connection; scrapes and probes need no more).
#pragma once

#include <prometheus/registry.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace kubefn::telemetry {

class HealthServer {
 public:
  // Binds address:port (0 picks one) before returning; throws std::runtime_error on failure.
  // `extra_metrics`, when set, returns exposition text appended to the registry's on /metrics.
  HealthServer(const std::string& address, std::uint16_t port, prometheus::Registry& registry,
               std::function<bool()> ready, std::function<std::string()> extra_metrics = {});
  ~HealthServer();
  std::uint16_t port() const { return port_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::uint16_t port_ = 0;
};

}  // namespace kubefn::telemetry
