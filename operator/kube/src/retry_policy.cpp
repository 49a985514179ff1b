#include "kubefn/kube/retry_policy.hpp"

#include <algorithm>

namespace kubefn::kube {

Clock::Duration Backoff::delay(int attempt, std::mt19937_64& random) const {
  Clock::Duration base = initial;
  for (int i = 0; i < attempt && base < max; ++i)
    base *= 2;
  base = std::min(base, max);
  const auto ticks = base.count();
  std::uniform_int_distribution<Clock::Duration::rep> jitter(ticks / 2, ticks);
  return Clock::Duration(jitter(random));
}

}  // namespace kubefn::kube
