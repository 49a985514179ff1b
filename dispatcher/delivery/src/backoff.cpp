#include "kubefn/delivery/backoff.hpp"

#include <algorithm>

namespace kubefn::delivery {

std::chrono::milliseconds backoff_delay(const Backoff& b, int attempt, double unit) {
  const auto initial = std::max<std::int64_t>(1, b.initial.count());
  const auto max = std::max<std::int64_t>(initial, b.max.count());
  std::int64_t cap = initial;
  for (int i = 1; i < attempt && cap < max; ++i)
    cap *= 2;
  cap = std::min(cap, max);
  unit = std::clamp(unit, 0.0, 1.0);
  const auto half = cap / 2;
  return std::chrono::milliseconds(
      half + static_cast<std::int64_t>(static_cast<double>(cap - half) * unit));
}

}  // namespace kubefn::delivery
