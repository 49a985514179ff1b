#include "metrics.hpp"

#include <prometheus/text_serializer.h>

namespace kubefn::gateway {

GatewayMetrics::GatewayMetrics(prometheus::Registry* registry) {
  if (registry == nullptr) {
    own_ = std::make_shared<prometheus::Registry>();
    registry = own_.get();
  }
  registry_ = registry;
  requests_ = &prometheus::BuildCounter()
                   .Name("kubefn_gateway_requests_total")
                   .Help("Requests answered by the gateway, by function and status code")
                   .Register(*registry);
  inflight_ = &prometheus::BuildGauge()
                   .Name("kubefn_gateway_inflight_requests")
                   .Help("Requests being forwarded to a replica now")
                   .Register(*registry)
                   .Add({});
  queued_ = &prometheus::BuildGauge()
                 .Name("kubefn_gateway_queued_requests")
                 .Help("Requests waiting for capacity or for a first ready replica now")
                 .Register(*registry)
                 .Add({});
  buffered_ = &prometheus::BuildGauge()
                   .Name("kubefn_gateway_buffered_bytes")
                   .Help("Bytes of request and response buffers the gateway holds now")
                   .Register(*registry)
                   .Add({});
  connections_ = &prometheus::BuildGauge()
                      .Name("kubefn_gateway_connections")
                      .Help("Client connections open now")
                      .Register(*registry)
                      .Add({});
  late_calls_ = &prometheus::BuildGauge()
                     .Name("kubefn_gateway_late_calls")
                     .Help(
                         "Calls answered 504 whose replica still works on them (they keep "
                         "their concurrency slot)")
                     .Register(*registry)
                     .Add({});
  rejected_connections_ = &prometheus::BuildCounter()
                               .Name("kubefn_gateway_rejected_connections_total")
                               .Help("Client connections closed at accept: max_connections open")
                               .Register(*registry)
                               .Add({});
  buffer_rejections_ = &prometheus::BuildCounter()
                            .Name("kubefn_gateway_buffer_rejections_total")
                            .Help("Requests answered 503 because max_buffered_bytes was reached")
                            .Register(*registry)
                            .Add({});
  responses_too_large_ = &prometheus::BuildCounter()
                              .Name("kubefn_gateway_responses_too_large_total")
                              .Help("Function responses over the size limit (answered 502)")
                              .Register(*registry)
                              .Add({});
  activation_probes_ = &prometheus::BuildCounter()
                            .Name("kubefn_gateway_activation_probes_total")
                            .Help(
                                "The gateway's readiness probes of not-yet-ready replicas while "
                                "calls wait for a first one, by function and result "
                                "(ready, not_ready, error)")
                            .Register(*registry);
  const prometheus::Histogram::BucketBoundaries overhead_buckets = {
      0.000005, 0.00001, 0.00002, 0.00005, 0.0001, 0.0002, 0.0005,
      0.001,    0.002,   0.005,   0.01,    0.05,   0.1};
  overhead_ = &prometheus::BuildHistogram()
                   .Name("kubefn_gateway_overhead_seconds")
                   .Help(
                       "Time a request spent in the gateway, excluding waiting for the "
                       "replica and for capacity")
                   .Register(*registry)
                   .Add({}, overhead_buckets);
  const prometheus::Histogram::BucketBoundaries upstream_buckets = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
  upstream_ = &prometheus::BuildHistogram()
                   .Name("kubefn_gateway_upstream_duration_seconds")
                   .Help("From sending a request to a replica to its whole response")
                   .Register(*registry)
                   .Add({}, upstream_buckets);
  process_ = std::make_shared<telemetry::ProcessCollector>();
}

void GatewayMetrics::count(FunctionState* state, std::string_view ns, std::string_view name,
                           int code) {
  if (code < 0 || code >= 600) code = 0;
  auto& slot = state != nullptr ? state->by_code[static_cast<std::size_t>(code)]
                                : unrouted_[static_cast<std::size_t>(code)];
  prometheus::Counter* c = slot.load(std::memory_order_acquire);
  if (c == nullptr) {
    // Add() returns the existing series for the same labels, so a race is harmless.
    c = &requests_->Add({{"namespace", std::string(state != nullptr ? ns : "")},
                         {"function", std::string(state != nullptr ? name : "")},
                         {"code", std::to_string(code)}});
    slot.store(c, std::memory_order_release);
  }
  c->Increment();
}

prometheus::Counter& GatewayMetrics::activation_probes(std::string_view ns, std::string_view name,
                                                       std::string_view result) {
  // Add() returns the existing series for the same labels.
  return activation_probes_->Add({{"namespace", std::string(ns)},
                                  {"function", std::string(name)},
                                  {"result", std::string(result)}});
}

std::string GatewayMetrics::serialize() const {
  auto families = registry_->Collect();
  for (auto& f : process_->Collect())
    families.push_back(std::move(f));
  if (meter_ != nullptr) {
    for (auto& f : meter_->Collect())
      families.push_back(std::move(f));
  }
  prometheus::TextSerializer serializer;
  return serializer.Serialize(families);
}

}  // namespace kubefn::gateway
