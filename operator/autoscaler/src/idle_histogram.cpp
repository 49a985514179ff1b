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

void IdleHistogram::retune(const KeepAliveSettings& settings) {
  const int bins = settings_.bins, recent = settings_.recent;
  const Duration width = settings_.bin_width;
  settings_ = settings;
  settings_.bins = bins;
  settings_.recent = recent;
  settings_.bin_width = width;
}

Duration IdleHistogram::priced_keep_alive(Duration from, double* gain) const {
  if (gain != nullptr) *gain = 0;
  if (recent_.empty()) return from;
  std::vector<double> x(recent_.begin(), recent_.end());
  std::sort(x.begin(), x.end());
  // below[i]: the sum of the i smallest idle times.
  std::vector<double> below(x.size() + 1, 0.0);
  for (std::size_t i = 0; i < x.size(); ++i)
    below[i + 1] = below[i] + x[i];
  using Seconds = std::chrono::duration<double>;
  const double f = Seconds(from).count();
  const double c = settings_.cold_start_cost;
  const std::size_t first = static_cast<std::size_t>(std::lower_bound(x.begin(), x.end(), f) -
                                                     x.begin());  // the first idle time >= from
  // Holding the replica until just past the j-th idle time (x_j + 1 s) catches the calls that
  // end the idle times from `from` to x_j, a cold start spared each, and spends the time up to
  // each of those calls and x_j + 1 - from on every longer idle time.
  double best = 0;
  std::size_t best_j = x.size();
  for (std::size_t j = first; j < x.size(); ++j) {
    if (j + 1 < x.size() && x[j + 1] == x[j]) continue;  // the last of equal idle times
    const double caught = static_cast<double>(j + 1 - first);
    const double held = (below[j + 1] - below[first]) - caught * f +
                        static_cast<double>(x.size() - j - 1) * (x[j] + 1 - f);
    const double value = c * caught - held;
    if (value > best + 1e-9) {
      best = value;
      best_j = j;
    }
  }
  if (gain != nullptr) *gain = best;
  if (best_j == x.size()) return from;
  // The margin on top (the next idle time is not exactly a past one), in whole seconds (the
  // epsilon keeps 90 s + 10% at 99 s despite rounding), at most the keep-alive percentile's.
  const double m = settings_.keep_alive_margin;
  auto padded = [m](double idle) { return std::max(idle + 1, std::ceil(idle * (1 + m) - 1e-6)); };
  const double high = Seconds(recent_percentile(settings_.keep_alive_percentile)).count();
  const double k = std::max(x[best_j] + 1, std::min(padded(x[best_j]), padded(high)));
  return std::max(from, std::chrono::duration_cast<Duration>(Seconds(k)));
}

KeepAlivePlan IdleHistogram::plan(Duration grace) const {
  KeepAlivePlan p;
  char buf[200];
  const std::uint64_t n = samples();
  if (n < static_cast<std::uint64_t>(settings_.min_samples)) {
    std::snprintf(buf, sizeof buf, "%llu idle periods seen, %d needed",
                  static_cast<unsigned long long>(n), settings_.min_samples);
    p.why = buf;
    return p;
  }
  grace = std::max(grace, Duration::zero());
  p.learned = true;
  const double out = static_cast<double>(out_of_range_) / static_cast<double>(n);
  const double cv = bin_cv();
  std::string regular;
  if (out > settings_.max_out_of_range) {
    std::snprintf(buf, sizeof buf, "%.0f%% of idle periods beyond the histogram", out * 100);
    regular = buf;
  } else if (cv < settings_.min_bin_cv) {
    std::snprintf(buf, sizeof buf, "idle times too spread for a pre-warm (bin CV %.1f < %.1f)", cv,
                  settings_.min_bin_cv);
    regular = buf;
  } else {
    p.representative = true;
  }
  const char* prewarm_note = "";
  if (p.representative) {
    // Pre-warm: the low percentile less a margin and a lead for the replica's start; the
    // window from there is kept only when it is worth its price.
    using Seconds = std::chrono::duration<double>;
    const Duration low = recent_percentile(settings_.prewarm_percentile);
    const Duration prewarm =
        std::chrono::floor<std::chrono::seconds>(Seconds(low) * (1.0 - settings_.prewarm_margin)) -
        settings_.prewarm_lead;
    if (prewarm > grace) {
      double gain = 0;
      const Duration until = priced_keep_alive(prewarm, &gain);
      if (gain > 0) {
        p.prewarm = prewarm;
        p.keep_alive = until;
      } else {
        prewarm_note = ", a pre-warm not worth its price";
      }
    }
  }
  if (p.prewarm == Duration::zero()) {
    // No pre-warm: from the grace period on, the keep-alive the idle times price, and at least
    // the break-even keep-alive (as long as one cold start is worth): beyond the longest idle
    // time seen, nothing is known, and that spends at most twice what knowing would.
    using Seconds = std::chrono::duration<double>;
    const Duration break_even =
        std::chrono::duration_cast<Duration>(Seconds(settings_.cold_start_cost));
    p.keep_alive = std::max({priced_keep_alive(grace), break_even, grace});
  }
  std::snprintf(buf, sizeof buf, "%llu idle periods, bin CV %.1f, %g replica-s a cold start",
                static_cast<unsigned long long>(n), cv, settings_.cold_start_cost);
  p.why = buf;
  if (!regular.empty()) p.why += "; " + regular;
  p.why += prewarm_note;
  return p;
}

}  // namespace kubefn::autoscaler
