// The gateway's Prometheus metrics.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <memory>
#include <string>

#include "kubefn/gateway/route_table.hpp"
#include "kubefn/telemetry/process_collector.hpp"

namespace kubefn::gateway {

class GatewayMetrics {
 public:
  // Registers on `registry`, or on a registry of its own when null.
  explicit GatewayMetrics(prometheus::Registry* registry);

  // requests_total{namespace,function,code}; `state` caches the series (null: unrouted,
  // counted with empty namespace and function labels).
  void count(FunctionState* state, std::string_view ns, std::string_view name, int code);
  void observe_overhead(double seconds) { overhead_->Observe(seconds); }
  void observe_upstream(double seconds) { upstream_->Observe(seconds); }
  prometheus::Gauge& inflight() { return *inflight_; }
  prometheus::Gauge& queued() { return *queued_; }
  // Bytes of request and response buffers held now, across the gateway.
  prometheus::Gauge& buffered() { return *buffered_; }
  prometheus::Gauge& connections() { return *connections_; }
  // Calls answered 504 whose replica is still working on them.
  prometheus::Gauge& late_calls() { return *late_calls_; }
  prometheus::Counter& rejected_connections() { return *rejected_connections_; }
  prometheus::Counter& buffer_rejections() { return *buffer_rejections_; }
  prometheus::Counter& responses_too_large() { return *responses_too_large_; }
  // activation_probes_total{namespace,function,result}: the gateway's own GET /readyz to a
  // function's not-yet-ready endpoints while calls wait for a first replica.
  prometheus::Counter& activation_probes(std::string_view ns, std::string_view name,
                                         std::string_view result);

  // The meter whose families serialize() includes (the gateway's calls).
  void serve_meter(const prometheus::Collectable* meter) { meter_ = meter; }

  // Prometheus text of every family plus process_* and the meter's.
  std::string serialize() const;

 private:
  std::shared_ptr<prometheus::Registry> own_;
  prometheus::Registry* registry_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Gauge* inflight_;
  prometheus::Gauge* queued_;
  prometheus::Gauge* buffered_;
  prometheus::Gauge* connections_;
  prometheus::Gauge* late_calls_;
  prometheus::Counter* rejected_connections_;
  prometheus::Counter* buffer_rejections_;
  prometheus::Counter* responses_too_large_;
  prometheus::Family<prometheus::Counter>* activation_probes_;
  prometheus::Histogram* overhead_;
  prometheus::Histogram* upstream_;
  std::array<std::atomic<prometheus::Counter*>, 600> unrouted_{};
  std::shared_ptr<telemetry::ProcessCollector> process_;
  const prometheus::Collectable* meter_ = nullptr;
};

}  // namespace kubefn::gateway
