#include "metrics.hpp"

#include <prometheus/text_serializer.h>

#include <sstream>

#include "kubefn/telemetry/process_collector.hpp"

namespace kubefn::runtime {
namespace {

constexpr std::array<std::string_view, 8> kMethodNames = {"GET",   "HEAD",   "POST",    "PUT",
                                                          "PATCH", "DELETE", "OPTIONS", "OTHER"};

// Finer than the client libraries' defaults: kubefn functions answer in microseconds.
const prometheus::Histogram::BucketBoundaries& duration_buckets() {
  static const prometheus::Histogram::BucketBoundaries b = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
      0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30,    60};
  return b;
}

}  // namespace

std::size_t RuntimeMetrics::method_index(std::string_view method) {
  for (std::size_t i = 0; i + 1 < kMethodNames.size(); ++i) {
    if (kMethodNames[i] == method) return i;
  }
  return kMethodNames.size() - 1;
}

RuntimeMetrics::RuntimeMetrics(BusyClock::NowNs now)
    : registry_(std::make_shared<prometheus::Registry>()), busy_(now) {
  auto& calls = prometheus::BuildCounter()
                    .Name("function_calls_total")
                    .Help("Number of calls to user function")
                    .Register(*registry_);
  auto& failures = prometheus::BuildCounter()
                       .Name("function_failures_total")
                       .Help("Number of exceptions in user function")
                       .Register(*registry_);
  auto& duration = prometheus::BuildHistogram()
                       .Name("function_duration_seconds")
                       .Help("Duration of user function in seconds")
                       .Register(*registry_);
  for (std::size_t i = 0; i < kMethods; ++i) {
    prometheus::Labels labels{{"method", std::string(kMethodNames[i])}};
    calls_[i] = &calls.Add(labels);
    failures_[i] = &failures.Add(labels);
    duration_[i] = &duration.Add(labels, duration_buckets());
  }
  auto& responses = prometheus::BuildCounter()
                        .Name("kubefn_runtime_responses_total")
                        .Help("Responses to function calls by status class")
                        .Register(*registry_);
  for (std::size_t i = 0; i < responses_.size(); ++i) {
    responses_[i] = &responses.Add({{"code", std::to_string(i + 1) + "xx"}});
  }
  inflight_ = &prometheus::BuildGauge()
                   .Name("kubefn_runtime_inflight_requests")
                   .Help("Function calls being served now")
                   .Register(*registry_)
                   .Add({});
  queued_ = &prometheus::BuildGauge()
                 .Name("kubefn_runtime_queued_requests")
                 .Help("Function calls waiting for a free handler thread")
                 .Register(*registry_)
                 .Add({});
  buffered_ = &prometheus::BuildGauge()
                   .Name("kubefn_runtime_connection_buffer_bytes")
                   .Help("Bytes held by the buffers of open connections")
                   .Register(*registry_)
                   .Add({});
  busy_seconds_ = &prometheus::BuildCounter()
                       .Name("kubefn_runtime_busy_seconds_total")
                       .Help("Wall-clock seconds spent running the handler, summed over calls")
                       .Register(*registry_)
                       .Add({});
  rejected_ = &prometheus::BuildCounter()
                   .Name("kubefn_runtime_rejected_requests_total")
                   .Help("Requests answered by the runtime without calling the handler")
                   .Register(*registry_);
  process_ = std::make_shared<telemetry::ProcessCollector>();
}

void RuntimeMetrics::record_call(std::string_view method, double seconds, bool failed, int status) {
  std::size_t i = method_index(method);
  calls_[i]->Increment();
  if (failed) failures_[i]->Increment();
  duration_[i]->Observe(seconds);
  int cls = status / 100;
  if (cls >= 1 && cls <= 5) responses_[static_cast<std::size_t>(cls - 1)]->Increment();
}

void RuntimeMetrics::record_rejected(int status) {
  rejected_->Add({{"code", std::to_string(status)}}).Increment();
}

std::string RuntimeMetrics::serialize() const {
  prometheus::TextSerializer serializer;
  std::ostringstream out;
  auto families = registry_->Collect();
  for (auto& f : process_->Collect())
    families.push_back(std::move(f));
  serializer.Serialize(out, families);
  return out.str();
}

}  // namespace kubefn::runtime
