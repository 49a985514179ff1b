#include "kubefn/autoscaler/function_scaling.hpp"

#include <algorithm>

namespace kubefn::autoscaler {

ScalingSpec scaling_of(const controller::FunctionSpec& spec, Duration default_stable_window) {
  ScalingSpec s;
  s.min_replicas = static_cast<int>(spec.min_replicas);
  s.max_replicas = static_cast<int>(spec.max_replicas);
  s.metric = spec.metric == controller::ScalingMetric::kRps ? Metric::kRps : Metric::kConcurrency;
  s.target = spec.target.value_or(std::max(1.0, 0.7 * static_cast<double>(spec.concurrency)));
  s.scale_to_zero_grace = std::chrono::seconds(spec.scale_to_zero_grace_seconds);
  s.keep_alive.mode = spec.learned_keep_alive ? KeepAliveMode::kLearned : KeepAliveMode::kFixed;
  if (spec.cold_start_cost) s.keep_alive.cold_start_cost = *spec.cold_start_cost;
  s.stable_window = spec.stable_window_seconds ? std::chrono::seconds(*spec.stable_window_seconds)
                                               : default_stable_window;
  return s.normalized();
}

}  // namespace kubefn::autoscaler
