#pragma once

#include <chrono>
#include <random>

#include "kubefn/kube/clock.hpp"

namespace kubefn::kube {

// Exponential backoff with jitter: attempt n waits a random time in
// [delay/2, delay] where delay = min(initial * 2^n, max).
struct Backoff {
  Clock::Duration initial = std::chrono::milliseconds(100);
  Clock::Duration max = std::chrono::seconds(5);

  Clock::Duration delay(int attempt, std::mt19937_64& random) const;
};

struct RetryPolicy {
  int max_attempts = 5;  // including the first
  Backoff backoff;
  // Upper bound on a server's Retry-After we are willing to honour.
  std::chrono::seconds max_retry_after{30};
};

}  // namespace kubefn::kube
