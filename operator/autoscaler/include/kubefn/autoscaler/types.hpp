// Time, the scaling spec and the per-second samples the autoscaler decides from.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace kubefn::autoscaler {

// All time is passed in by the caller: the decision code never reads a clock.
using Duration = std::chrono::nanoseconds;
using TimePoint = std::chrono::time_point<std::chrono::steady_clock, Duration>;

enum class Metric { kConcurrency, kRps };
const char* to_string(Metric metric);

// How a function's last replica is kept once calls stop (min replicas 0).
enum class KeepAliveMode {
  kFixed,    // keep the last replica for the scale-to-zero grace period, then go to zero
  kLearned,  // learn keep-alive and pre-warm times from the function's idle-time histogram
};

// The default price of a cold start, in idle replica-seconds (spec.scaling.coldStartCost).
inline constexpr double kDefaultColdStartCost = 45.0;
// The most a cold start may be priced at: a day of one replica.
inline constexpr double kMaxColdStartCost = 86400.0;

// The learned keep-alive policy's knobs (the hybrid histogram policy of Shahrad et al.).
struct KeepAliveSettings {
  KeepAliveMode mode = KeepAliveMode::kLearned;
  // What one avoided cold start is worth, in replica-seconds of an idle replica. A replica is
  // kept (or pre-warmed) through an idle period only while the replica-seconds it is expected
  // to spend stay below this times the cold starts it is expected to spare, by the idle-time
  // histograms; beyond what they show (and before min_samples idle periods), the last replica
  // stays this many seconds (the break-even rule). 0: no replica is kept beyond what the
  // windows and the grace period hold.
  double cold_start_cost = kDefaultColdStartCost;
  // One-minute bins over 4 h decide whether the idle times are regular enough to plan on...
  int bins = 240;
  Duration bin_width = std::chrono::minutes(1);
  // ...and the last `recent` idle times, kept exactly, give the percentiles the plan uses.
  int recent = 64;
  // The keep-alive priced at cold_start_cost gets this margin on top (the next idle time is
  // not exactly a past one) and is at most this idle percentile plus the margin.
  double keep_alive_percentile = 99;
  double keep_alive_margin = 0.10;
  double prewarm_percentile = 5;                     // and comes back at this idle percentile...
  double prewarm_margin = 0.02;                      // ...minus this fraction...
  Duration prewarm_lead = std::chrono::seconds(10);  // ...and this lead for its start
  int min_samples = 5;            // fewer idle periods than this: nothing learned yet
  double min_bin_cv = 2.0;        // bin counts flatter than this: not representative
  double max_out_of_range = 0.5;  // more idle periods past the range: not representative
};

// One function's scaling settings: spec.scaling of the Function plus the window defaults.
struct ScalingSpec {
  int min_replicas = 0;
  int max_replicas = 10;
  Metric metric = Metric::kConcurrency;
  double target = 1.0;  // wanted metric value per replica
  Duration scale_to_zero_grace = std::chrono::seconds(30);

  Duration stable_window = std::chrono::seconds(60);
  double panic_window_percentage = 10.0;  // of the stable window: 6 s
  double panic_threshold = 2.0;           // panic when the panic window wants 200% of ready
  double max_scale_up_rate = 1000.0;      // at most this many times the ready replicas
  double max_scale_down_rate = 2.0;       // at most halve the replicas per tick
  Duration scale_down_delay = Duration::zero();
  // Keep the replicas while the stable load times (1 + this) still needs them all.
  double scale_down_tolerance = 0.1;
  Duration tick = std::chrono::seconds(1);
  // A replica with no sample for longer than this is unknown (not idle).
  Duration stale_after = std::chrono::seconds(3);
  // A queue triggers' backlog figure older than this is gone (counts as 0): a dispatcher that
  // stopped reporting does not hold replicas. Dispatchers measure every 2 s (NATS) to 5 s
  // (Kafka) and stream every second: 30 s is several missed reports of the slowest.
  Duration backlog_stale_after = std::chrono::seconds(30);
  KeepAliveSettings keep_alive;

  Duration panic_window() const;
  // The same spec with out-of-range values replaced by the nearest sensible one (target > 0,
  // max >= max(min, 1), windows at least one second and one tick, rates above 1, a cold
  // start's price within 0..kMaxColdStartCost, the default for NaN, a backlog's staleness
  // at least one tick).
  ScalingSpec normalized() const;
};

// What one replica reports for one second [second, second + 1 s).
struct ReplicaSample {
  std::string replica;  // pod name
  TimePoint second;     // start of the second this sample covers
  double requests = 0;  // calls that arrived at the replica in that second
  double inflight_average = 0;
  double inflight_peak = 0;
  double busy_seconds = 0;  // time with at least one call running
  // One reporter for all the function's replicas (kubefn up's gateway): while it reports, no
  // replica is unknown.
  bool whole_function = false;
};

}  // namespace kubefn::autoscaler
