#include "kubefn/autoscaler/idle_histogram.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace kubefn::autoscaler {

IdleHistogram::IdleHistogram(KeepAliveSettings settings)
    : settings_(settings), bins_(static_cast<std::size_t>(settings.bins > 0 ? settings.bins : 1)) {
  recent_.reserve(static_cast<std::size_t>(std::max(1, settings_.recent)));
}

void IdleHistogram::record(Duration idle) {
  if (idle < Duration::zero()) return;
  const Duration range = settings_.bin_width * static_cast<std::int64_t>(bins_.size());
  const auto idle_s = static_cast<std::uint32_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::min(idle, range)).count());
  const std::size_t cap = static_cast<std::size_t>(std::max(1, settings_.recent));
  if (recent_.size() < cap) {
    recent_.push_back(idle_s);
  } else {
    recent_[next_recent_] = idle_s;
  }
  next_recent_ = (next_recent_ + 1) % cap;
  const std::int64_t bin = idle / settings_.bin_width;
  if (bin >= static_cast<std::int64_t>(bins_.size())) {
    ++out_of_range_;
    return;
  }
  ++bins_[static_cast<std::size_t>(bin)];
  ++in_range_;
}

double IdleHistogram::bin_cv() const {
  if (in_range_ == 0) return 0;
  const double n = static_cast<double>(bins_.size());
  const double mean = static_cast<double>(in_range_) / n;
  double var = 0;
  for (std::uint32_t c : bins_)
    var += (c - mean) * (c - mean);
  return std::sqrt(var / n) / mean;
}

int IdleHistogram::percentile_bin(double percentile) const {
  if (in_range_ == 0) return -1;
  const double wanted = std::max(1.0, std::ceil(percentile / 100.0 * in_range_));
  double cumulative = 0;
  for (std::size_t i = 0; i < bins_.size(); ++i) {
    cumulative += bins_[i];
    if (cumulative >= wanted) return static_cast<int>(i);
  }
  return static_cast<int>(bins_.size()) - 1;
}

Duration IdleHistogram::recent_percentile(double percentile) const {
  if (recent_.empty()) return Duration::zero();
  std::vector<std::uint32_t> sorted = recent_;
  const double n = static_cast<double>(sorted.size());
  const auto rank = static_cast<std::size_t>(std::clamp(std::ceil(percentile / 100.0 * n), 1.0, n));
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(rank - 1),
                   sorted.end());
  return std::chrono::seconds(sorted[rank - 1]);
}

KeepAlivePlan IdleHistogram::plan() const {
  KeepAlivePlan p;
  char buf[160];
  const std::uint64_t n = samples();
  if (n < static_cast<std::uint64_t>(settings_.min_samples)) {
    std::snprintf(buf, sizeof buf, "%llu idle periods seen, %d needed",
                  static_cast<unsigned long long>(n), settings_.min_samples);
    p.why = buf;
    return p;
  }
  const double out = static_cast<double>(out_of_range_) / static_cast<double>(n);
  if (out > settings_.max_out_of_range) {
    std::snprintf(buf, sizeof buf, "%.0f%% of idle periods beyond the histogram", out * 100);
    p.why = buf;
    return p;
  }
  const double cv = bin_cv();
  if (cv < settings_.min_bin_cv) {
    std::snprintf(buf, sizeof buf, "idle times too spread (bin CV %.1f < %.1f)", cv,
                  settings_.min_bin_cv);
    p.why = buf;
    return p;
  }
  // Keep-alive: the high percentile plus a margin. Pre-warm: the low percentile less a margin
  // and a lead for the replica's start.
  const Duration high = recent_percentile(settings_.keep_alive_percentile);
  const Duration low = recent_percentile(settings_.prewarm_percentile);
  p.representative = true;
  using Seconds = std::chrono::duration<double>;
  // Whole seconds; the epsilon keeps 90 s + 10% at 99 s despite rounding.
  p.keep_alive = std::chrono::ceil<std::chrono::seconds>(
      Seconds(high) * (1.0 + settings_.keep_alive_margin) - Seconds(1e-6));
  const Duration prewarm =
      std::chrono::floor<std::chrono::seconds>(Seconds(low) * (1.0 - settings_.prewarm_margin)) -
      settings_.prewarm_lead;
  p.prewarm = std::max(Duration::zero(), prewarm);
  std::snprintf(buf, sizeof buf, "%llu idle periods, bin CV %.1f",
                static_cast<unsigned long long>(n), cv);
  p.why = buf;
  return p;
}

}  // namespace kubefn::autoscaler
