// `kubefn top`: per-function load from two scrapes of the gateway's /metrics.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kubefn/cli/prometheus.hpp"

namespace kubefn::cli {

struct FunctionLoad {
  std::string ns;
  std::string name;
  double rps = 0;
  double error_rps = 0;  // 5xx answers per second
  double inflight = 0;
  std::optional<double> p50;  // seconds
  std::optional<double> p99;
};

// Loads from two scrapes `seconds` apart, by function, plus the whole gateway as the entry with
// empty namespace and name (first, when any gateway series was present). Quantiles come from the
// buckets observed between the scrapes, or from all of them when nothing was observed in between.
std::vector<FunctionLoad> compute_top(const std::vector<Sample>& before,
                                      const std::vector<Sample>& after, double seconds);

// "12.5ms", "1.20s", "-".
std::string format_seconds(std::optional<double> seconds);

}  // namespace kubefn::cli
