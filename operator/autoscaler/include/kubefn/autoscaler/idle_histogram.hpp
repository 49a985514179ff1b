// A per-function histogram of idle times, and the keep-alive / pre-warm plan learned from it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kubefn/autoscaler/types.hpp"

namespace kubefn::autoscaler {

// What the histogram says about the function's next call, measured from the end of its last
// activity.
struct KeepAlivePlan {
  // Enough idle periods were seen to price the keep-alive (false: use the fixed keep-alive).
  bool learned = false;
  // The idle times are regular enough to plan a pre-warm on.
  bool representative = false;
  std::string why;  // what was learned (or why not), for the decision's reason
  // Keep one replica until this idle time has passed: the idle time that is worth its price
  // (see IdleHistogram::priced_keep_alive), at least the grace period...
  Duration keep_alive = Duration::zero();
  // ...and, when this is above zero, hold none until this idle time (a low percentile minus a
  // margin): the next call is not expected earlier, so the replica is pre-warmed for it. Only
  // when the pre-warmed window is itself worth its price.
  Duration prewarm = Duration::zero();
};

// Idle times in fixed-width bins over a bounded range (longer idle times are only counted),
// plus the most recent ones exactly: the bins say whether the idle times are regular, the
// recent values say when the next call is due, to the second rather than to the bin.
class IdleHistogram {
 public:
  explicit IdleHistogram(KeepAliveSettings settings = {});

  void record(Duration idle);

  std::uint64_t samples() const { return in_range_ + out_of_range_; }
  std::uint64_t out_of_range() const { return out_of_range_; }
  const std::vector<std::uint32_t>& bins() const { return bins_; }
  const KeepAliveSettings& settings() const { return settings_; }

  // Coefficient of variation of the bin counts: high when idle times cluster in a few bins.
  double bin_cv() const;
  // The bin holding the given percentile (0-100) of the in-range idle times; -1 when empty.
  int percentile_bin(double percentile) const;
  // The given percentile (0-100, nearest rank) of the recent idle times, capped at the range;
  // zero when there are none.
  Duration recent_percentile(double percentile) const;

  // The idle time K >= `from` up to which holding one replica is worth it at the settings'
  // cold_start_cost c: over the recent idle times x, the K (just past one of them) that
  // maximises
  //   c x #{x : from <= x < K}  -  sum over x of (min(x, K) - from, if positive),
  // the cold starts a replica held from `from` to K spares, priced, less the replica-seconds it
  // spends; then the keep-alive margin on top, at most the keep-alive percentile plus the
  // margin. `from` when no K gains anything; `gain` (if given) gets the best value, in
  // replica-seconds summed over the recent idle times.
  Duration priced_keep_alive(Duration from, double* gain = nullptr) const;

  // What to do after the function's next call. `grace`: the replica is held at least this
  // long anyway (the scale-to-zero grace period), so the price is weighed from there.
  KeepAlivePlan plan(Duration grace = Duration::zero()) const;
  // New planning settings (percentiles, margins, the price). The bins and the recent ring keep
  // their sizes: a change of those needs a new histogram.
  void retune(const KeepAliveSettings& settings);

 private:
  KeepAliveSettings settings_;
  std::vector<std::uint32_t> bins_;
  std::vector<std::uint32_t> recent_;  // seconds, a ring of settings_.recent values
  std::size_t next_recent_ = 0;
  std::uint64_t in_range_ = 0;
  std::uint64_t out_of_range_ = 0;
};

}  // namespace kubefn::autoscaler
