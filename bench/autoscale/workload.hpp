// Workloads for the autoscaling simulator: Azure Functions 2019 trace rows (per-minute counts
// and duration percentiles) and synthetic shapes, expanded into seeded arrivals.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace kubefn::bench {

// Service times drawn from duration percentiles (0, 1, 25, 50, 75, 99, 100), in seconds,
// interpolated linearly between them.
struct ServiceTimes {
  double p[7] = {0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1};
  double sample(std::mt19937_64& rng) const;
  double mean() const;
};

struct FunctionLoad {
  std::string name;
  ServiceTimes service;
  std::vector<int> per_minute;   // Azure rows: invocations in each minute
  std::vector<double> arrivals;  // synthetic: arrival times in seconds, sorted
  std::uint64_t seed = 1;

  // Arrival times (seconds from the start) and service times, deterministic for the seed.
  void expand(std::vector<double>* at, std::vector<double>* service_s) const;
  double length_s() const;
};

struct Workload {
  std::string name;
  std::string source;  // "synthetic, seed N" or the trace folder's name
  std::vector<FunctionLoad> functions;
  // The step shape: when load goes up tenfold and how many replicas the new load needs.
  std::optional<double> step_at_s;
  int step_needed_replicas = 0;
};

// Reads <dir>/invocations.csv and <dir>/durations.csv. On failure returns nothing and says why.
std::optional<Workload> load_azure(const std::string& dir, const std::string& name,
                                   std::string* error);

// The synthetic shapes for one seed, each named `<shape>@<seed>`. The shapes kubefn was tuned
// on (step-10x, burst, diurnal, sparse) draw their arrivals from the seed (seed 1: the
// arrivals of the first version of this simulator); the others (wave, onoff, heavy-tail,
// timer-noisy) draw their parameters from it too, so each seed is a shape not seen before.
std::vector<Workload> synthetic_workloads(std::uint64_t seed);
// The shape names, in the order synthetic_workloads returns them.
std::vector<std::string> synthetic_shape_names();

}  // namespace kubefn::bench
