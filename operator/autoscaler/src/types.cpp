#include "kubefn/autoscaler/types.hpp"

#include <algorithm>
#include <cmath>

namespace kubefn::autoscaler {

const char* to_string(Metric metric) {
  return metric == Metric::kRps ? "rps" : "concurrency";
}

Duration ScalingSpec::panic_window() const {
  const double ns = static_cast<double>(stable_window.count()) * panic_window_percentage / 100.0;
  return std::max(Duration(static_cast<Duration::rep>(ns)), Duration(std::chrono::seconds(1)));
}

ScalingSpec ScalingSpec::normalized() const {
  ScalingSpec s = *this;
  using std::chrono::seconds;
  s.min_replicas = std::max(0, s.min_replicas);
  s.max_replicas = std::max({s.max_replicas, s.min_replicas, 1});
  if (!(s.target > 0)) s.target = 1.0;
  if (s.tick < seconds(1)) s.tick = seconds(1);
  if (s.stable_window < seconds(1)) s.stable_window = seconds(1);
  s.stable_window = std::max(s.stable_window, s.tick);
  if (!(s.panic_window_percentage > 0)) s.panic_window_percentage = 10.0;
  s.panic_window_percentage = std::min(s.panic_window_percentage, 100.0);
  if (!(s.panic_threshold > 1.0)) s.panic_threshold = 2.0;
  if (!(s.max_scale_up_rate > 1.0)) s.max_scale_up_rate = 1000.0;
  if (!(s.max_scale_down_rate > 1.0)) s.max_scale_down_rate = 2.0;
  if (s.scale_down_delay < Duration::zero()) s.scale_down_delay = Duration::zero();
  if (s.scale_to_zero_grace < Duration::zero()) s.scale_to_zero_grace = Duration::zero();
  if (s.stale_after < s.tick) s.stale_after = s.tick;
  if (s.backlog_stale_after < s.tick) s.backlog_stale_after = s.tick;
  KeepAliveSettings& k = s.keep_alive;
  k.bins = std::max(1, k.bins);
  k.recent = std::max(1, k.recent);
  if (k.prewarm_lead < Duration::zero()) k.prewarm_lead = Duration::zero();
  if (k.bin_width < seconds(1)) k.bin_width = seconds(1);
  k.keep_alive_percentile = std::clamp(k.keep_alive_percentile, 0.0, 100.0);
  k.prewarm_percentile = std::clamp(k.prewarm_percentile, 0.0, k.keep_alive_percentile);
  k.keep_alive_margin = std::max(0.0, k.keep_alive_margin);
  k.prewarm_margin = std::clamp(k.prewarm_margin, 0.0, 1.0);
  k.min_samples = std::max(1, k.min_samples);
  if (std::isnan(k.cold_start_cost)) k.cold_start_cost = kDefaultColdStartCost;
  k.cold_start_cost = std::clamp(k.cold_start_cost, 0.0, kMaxColdStartCost);
  return s;
}

}  // namespace kubefn::autoscaler
