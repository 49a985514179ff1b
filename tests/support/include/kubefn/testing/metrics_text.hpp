#pragma once

#include <optional>
#include <string>

namespace kubefn::testing {

// The value of one sample in Prometheus text format, by its exact series text, e.g.
// `function_calls_total{method="GET"}`; nullopt when absent.
std::optional<double> metric_value(const std::string& text, const std::string& series);

}  // namespace kubefn::testing
