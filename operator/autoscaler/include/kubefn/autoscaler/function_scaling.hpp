// A Function's spec.scaling as the decision code's ScalingSpec: one mapping for the operator's
// autoscaler and kubefn up's.
#pragma once

#include <chrono>

#include "kubefn/autoscaler/types.hpp"
#include "kubefn/controller/function_spec.hpp"

namespace kubefn::autoscaler {

// target: spec.scaling.target, else 70% of the function's concurrency (at least 1); the stable
// window: spec.scaling.stableWindow, else `default_stable_window`; the keep-alive's price of a
// cold start: spec.scaling.coldStartCost, else kDefaultColdStartCost.
ScalingSpec scaling_of(const controller::FunctionSpec& spec,
                       Duration default_stable_window = std::chrono::seconds(60));

}  // namespace kubefn::autoscaler
