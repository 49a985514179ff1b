// Exponential backoff with jitter, so that events failing together do not come back together.
#pragma once

#include <chrono>

namespace kubefn::delivery {

struct Backoff {
  std::chrono::milliseconds initial{1000};
  std::chrono::milliseconds max{60000};
};

// The delay before attempt `attempt` + 1, after `attempt` (1-based) failed: the cap is
// min(max, initial * 2^(attempt-1)); `unit` in [0, 1) picks where in [cap/2, cap) it falls
// ("equal jitter": never less than half the cap, so a retry storm still spreads out).
std::chrono::milliseconds backoff_delay(const Backoff& b, int attempt, double unit);

}  // namespace kubefn::delivery
