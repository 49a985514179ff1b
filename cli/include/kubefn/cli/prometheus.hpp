// Prometheus text exposition parsing and quantiles from histogram buckets.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kubefn::cli {

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// Every sample line of a text exposition; comments, blank and malformed lines are skipped.
std::vector<Sample> parse_prometheus(std::string_view text);

struct Bucket {
  double le = 0;     // upper bound; +Inf allowed
  double count = 0;  // cumulative
};

// The q-quantile (0..1) of a histogram from cumulative buckets, interpolating linearly inside
// the bucket like PromQL's histogram_quantile; nullopt when there are no observations.
std::optional<double> histogram_quantile(double q, std::vector<Bucket> buckets);

// Parses a Prometheus float ("1.5", "+Inf", "NaN").
std::optional<double> parse_prometheus_value(std::string_view text);

}  // namespace kubefn::cli
