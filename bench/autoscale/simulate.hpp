// Replays one function's calls through a policy with a modelled cold start.
#pragma once

#include <cstdint>
#include <vector>

#include "policies.hpp"

namespace kubefn::bench {

struct RunFigures {
  std::uint64_t calls = 0;
  std::uint64_t cold_starts = 0;  // calls served by a replica that became ready after they came
  double replica_seconds = 0;     // replicas existing (starting, ready or draining) over time
  double busy_seconds = 0;        // the replica-seconds the calls needed
  std::vector<std::uint64_t> wait_ms;  // histogram of waits (queue + cold start), 1 ms bins
  double step_decision_s = -1;         // step shape: from the step to a decision >= needed

  void add(const RunFigures& o);
  double wait_percentile_s(double p) const;
};

struct Replay {
  const std::vector<double>* arrivals = nullptr;  // seconds, sorted
  const std::vector<double>* service = nullptr;   // seconds, per call
  double cold_start_s = 1.0;
  double end_s = 0;  // replay until here (after the last call)
  double step_at_s = -1;
  int step_needed = 0;
};

RunFigures simulate(const Replay& replay, Policy& policy);

}  // namespace kubefn::bench
