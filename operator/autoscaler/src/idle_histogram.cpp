#include "kubefn/autoscaler/idle_histogram.hpp"

#include <cmath>
#include <cstdio>

namespace kubefn::autoscaler {

IdleHistogram::IdleHistogram(KeepAliveSettings settings)
    : settings_(settings), bins_(static_cast<std::size_t>(settings.bins > 0 ? settings.bins : 1)) {}

void IdleHistogram::record(Duration idle) {
  if (idle < Duration::zero()) return;
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
  const int high = percentile_bin(settings_.keep_alive_percentile);
  const int low = percentile_bin(settings_.prewarm_percentile);
  const double width = static_cast<double>(settings_.bin_width.count());
  p.representative = true;
  p.keep_alive = Duration(
      static_cast<Duration::rep>((high + 1) * width * (1.0 + settings_.keep_alive_margin)));
  p.keep_alive_edge = Duration(static_cast<Duration::rep>((high + 1) * width));
  p.prewarm = Duration(static_cast<Duration::rep>(low * width * (1.0 - settings_.prewarm_margin)));
  std::snprintf(buf, sizeof buf, "%llu idle periods, bin CV %.1f",
                static_cast<unsigned long long>(n), cv);
  p.why = buf;
  return p;
}

}  // namespace kubefn::autoscaler
