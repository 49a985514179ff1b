// The per-function scaling decision: Knative-style stable and panic windows over per-second
// samples, the gateway's queue as the signal at zero, the queue triggers' backlog, and a
// learned keep-alive and pre-warm.
//
// Deterministic: the result depends only on the samples and the times passed in. No threads,
// no clock reads; one instance per function, driven by one caller.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kubefn/autoscaler/idle_histogram.hpp"
#include "kubefn/autoscaler/types.hpp"

namespace kubefn::autoscaler {

struct Decision {
  int desired = 0;           // replicas the function should have now
  int current = 0;           // replicas it had when asked
  bool panic = false;        // in panic mode (never scales down)
  double stable_value = 0;   // observed metric (whole function) averaged over the stable window
  double panic_value = 0;    // ... and over the panic window
  double queued = 0;         // requests waiting at the gateway, last second
  double backlog = 0;        // events pending in the queue triggers (0: none, or stale)
  int unknown_replicas = 0;  // replicas that stopped reporting (counted, never as idle)
  std::optional<TimePoint> scale_to_zero_at;  // when the last replica goes if calls stay away
  std::optional<TimePoint> prewarm_at;        // when a replica is brought back before a call
  int recurring_peak = 0;    // replicas held or pre-warmed for a peak that recurs (0: none)
  KeepAlivePlan keep_alive;  // what the idle-time histogram says
  std::string reason;        // one line for status and events: metric, window, panic, keep-alive
};

class Autoscaler {
 public:
  // `now` is the time the function's autoscaler starts (its windows start empty there).
  Autoscaler(ScalingSpec spec, TimePoint now);

  // A changed spec keeps the samples and the learned histogram.
  void set_spec(ScalingSpec spec);
  const ScalingSpec& spec() const { return spec_; }

  // One replica's figures for one second. Samples older than the stable window are ignored.
  void record(const ReplicaSample& sample);
  // Requests waiting at the gateway for this function at `time` (the largest value reported
  // within a second is kept).
  void record_queued(TimePoint time, double queued);
  // The events pending in the function's queue triggers (NATS backlog, Kafka lag; summed over
  // its triggers by the caller) as measured at `time`. The latest call replaces the earlier
  // figure; one older than spec.backlog_stale_after at a decision counts as 0. The backlog
  // asks for ceil(pending / target) replicas (at most maxReplicas), and while it is above 0
  // the function is active (never scaled to zero). A function at zero gets its replicas at
  // the next decide(): the caller decides at once when it sees the first pending event.
  void record_backlog(TimePoint time, double pending);
  // The replica is gone (deleted by a scale-down): stop carrying its figures. Samples that
  // still arrive for it afterwards (a last report in flight) are ignored.
  void forget_replica(const std::string& replica);

  // The decision for `now`, given the replicas the function has (ready or starting).
  // Call every tick.
  Decision decide(TimePoint now, int current_replicas);

  // The gateway queued a request: decides at once, so a function at zero gets a replica
  // without waiting for the next tick.
  Decision poke(TimePoint now, int current_replicas, double queued);

  const IdleHistogram& idle_histogram() const { return histogram_; }
  // The idle histogram of the k-th replica (k >= 2): the gaps between the seconds whose load
  // (over the panic window) asked for at least k replicas. Null when it never asked for k.
  const IdleHistogram* replica_histogram(int k) const;
  bool in_panic() const { return panic_; }

 private:
  struct Values {
    double requests = 0;
    double inflight_average = 0;
    double inflight_peak = 0;
  };
  // What is kept of a replica: its newest second, carried forward while it is silent.
  struct ReplicaSeries {
    std::int64_t last_second = 0;
    double last_value = 0;  // its metric in that second
    bool whole_function = false;
  };

  std::int64_t second_of(TimePoint t) const;
  TimePoint time_of(std::int64_t second) const;
  double metric_of(const Values& v) const;
  void note_activity(std::int64_t second);
  // Feeds the per-replica histograms: the load asked for `wanted` replicas at `second`.
  void note_needs(std::int64_t second, int wanted);
  // Replicas to hold or pre-warm for peaks that recur at regular intervals, at `now_second`.
  int recurring_peak(std::int64_t now_second, int current) const;
  void trim(std::int64_t now_second);
  // Averages of the whole function's metric over the last `window` seconds before now_second.
  void averages(std::int64_t now_second, double* stable, double* panic, int* unknown,
                double* queued_last) const;

  ScalingSpec spec_;
  TimePoint origin_;  // second 0
  std::map<std::string, ReplicaSeries> replicas_;
  std::map<std::string, std::int64_t> forgotten_;  // name -> its newest second when forgotten
  // The function's metric per second, summed over replicas as samples arrive: history stays
  // when a replica goes.
  std::map<std::int64_t, double> totals_;
  std::map<std::int64_t, double> queued_;  // by second
  double backlog_ = 0;                     // the queue triggers' pending events...
  std::optional<TimePoint> backlog_at_;    // ...as measured then (none: never reported)
  // Queued calls that replicas still starting will take, by second: not load for more.
  std::map<std::int64_t, double> absorbed_;
  std::deque<std::pair<std::int64_t, int>> asked_;  // (second, replicas added) by decisions
  IdleHistogram histogram_;
  std::optional<KeepAlivePlan> plan_;        // histogram_'s plan, until it or the spec changes
  std::optional<std::int64_t> last_active_;  // newest second with a call, in flight or queued
  // The k-th replica's idle times (index k - 2), like the function's own: a peak needing k
  // replicas that comes back regularly gets them pre-warmed, as a rare call gets its first.
  struct Peak {
    IdleHistogram histogram;
    std::optional<std::int64_t> last_needed;
    KeepAlivePlan plan;  // recomputed when an idle period is recorded
    // How long the k-th replica is kept after the load last asked for it: its idle times'
    // priced keep-alive (zero: not kept beyond what the windows want).
    Duration hold = Duration::zero();
  };
  std::vector<Peak> peaks_;
  std::int64_t first_second_ = 0;  // windows do not reach before this

  bool panic_ = false;
  std::int64_t panic_since_ = 0;  // last second the panic condition held
  int max_panic_pods_ = 0;
  std::deque<std::pair<std::int64_t, int>> recent_desired_;  // for the scale-down delay
};

}  // namespace kubefn::autoscaler
