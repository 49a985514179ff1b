// The operator's end of the kubefn.v1.Stats stream: a gRPC server that takes the per-second
// samples replicas, gateways and dispatchers send and hands them, as plain values, to a
// StatsSink.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kubefn/kube/status.hpp"

namespace kubefn::autoscaler {

// One replica's second, as its runtime reported it.
struct ReplicaReport {
  std::string ns, function, replica;
  std::int64_t second_start_unix_ms = 0;
  double requests = 0;
  double inflight_average = 0;
  double inflight_peak = 0;
  double busy_seconds = 0;
  // For metering (the autoscaler does not read them):
  double busy_union_seconds = 0;
  double cpu_seconds = 0;
  double rss_bytes = 0;
};

// One function's second at a gateway.
struct GatewayReport {
  std::string gateway;
  std::string ns, function;
  std::int64_t second_start_unix_ms = 0;
  double requests = 0;
  double inflight = 0;
  double peak_inflight = 0;
  double queued = 0;
  int ready_endpoints = 0;
};

// What one dispatcher measured of its queue triggers' backlogs (NATS: not delivered plus not
// acknowledged; Kafka: the consumer group's lag), all of them in each report: a trigger that
// is not in it is no longer run by that dispatcher. Dispatcher replicas share one consumer
// per trigger, so they report the same backlog.
struct DispatcherReport {
  struct Trigger {
    std::string ns, function, trigger;
    double pending = 0;
  };
  std::string dispatcher;
  std::int64_t second_start_unix_ms = 0;  // when the figures were taken
  std::vector<Trigger> triggers;
};

// Called from the server's threads, possibly concurrently: implementations lock.
class StatsSink {
 public:
  virtual ~StatsSink() = default;
  virtual void on_replica(const ReplicaReport& report) = 0;
  virtual void on_gateway(const GatewayReport& report) = 0;
  virtual void on_dispatcher(const DispatcherReport&) {}
};

class StatsServer {
 public:
  // port 0 picks a free one (read it back with port() after start()).
  StatsServer(StatsSink& sink, std::string bind_address, std::uint16_t port);
  ~StatsServer();  // stops
  StatsServer(const StatsServer&) = delete;
  StatsServer& operator=(const StatsServer&) = delete;

  kube::Status start();
  // Ends every open stream and waits for the server's threads.
  void stop();
  std::uint16_t port() const;
  std::uint64_t samples() const;  // samples taken so far
  std::uint64_t streams() const;  // streams opened so far

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kubefn::autoscaler
