#include "kubefn/autoscaler/autoscaler.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace kubefn::autoscaler {
namespace {

using std::chrono::seconds;

int ceil_div(double value, double target) {
  if (value <= 0) return 0;
  const double q = value / target;
  return static_cast<int>(std::min(std::ceil(q - 1e-9), 1e9));
}

// Recurring peaks are pre-warmed only when their window (low to high idle percentile) is at
// most this fraction of the low one.
constexpr double kPeakSpread = 0.5;

long long whole_seconds(Duration d) {
  return static_cast<long long>(std::chrono::duration_cast<seconds>(d).count());
}

}  // namespace

Autoscaler::Autoscaler(ScalingSpec spec, TimePoint now)
    : spec_(spec.normalized()), origin_(now), histogram_(spec_.keep_alive) {}

void Autoscaler::set_spec(ScalingSpec spec) {
  const KeepAliveSettings before = spec_.keep_alive;
  spec_ = spec.normalized();
  plan_.reset();
  const KeepAliveSettings& after = spec_.keep_alive;
  if (after.bins != before.bins || after.bin_width != before.bin_width ||
      after.recent != before.recent) {
    histogram_ = IdleHistogram(after);  // the old bins mean something else now
    peaks_.clear();
    return;
  }
  // The same bins: what was learned stays, planned with the new settings (e.g. the price).
  histogram_.retune(after);
  for (Peak& p : peaks_) {
    p.histogram.retune(after);
    p.plan = p.histogram.plan(spec_.scale_to_zero_grace);
    p.hold = p.plan.learned ? p.histogram.priced_keep_alive(Duration::zero()) : Duration::zero();
  }
}

std::int64_t Autoscaler::second_of(TimePoint t) const {
  const Duration d = t - origin_;
  auto s = std::chrono::floor<seconds>(d).count();
  return static_cast<std::int64_t>(s);
}

TimePoint Autoscaler::time_of(std::int64_t second) const {
  return origin_ + seconds(second);
}

double Autoscaler::metric_of(const Values& v) const {
  return spec_.metric == Metric::kRps ? v.requests : v.inflight_average;
}

void Autoscaler::note_activity(std::int64_t second) {
  if (last_active_ && second <= *last_active_) return;
  if (last_active_ && second > *last_active_ + 1) {
    histogram_.record(seconds(second - *last_active_ - 1));
    plan_.reset();
  }
  last_active_ = second;
}

const IdleHistogram* Autoscaler::replica_histogram(int k) const {
  if (k < 2 || static_cast<std::size_t>(k - 2) >= peaks_.size()) return nullptr;
  return &peaks_[static_cast<std::size_t>(k - 2)].histogram;
}

void Autoscaler::note_needs(std::int64_t second, int wanted) {
  wanted = std::min(wanted, spec_.max_replicas);
  for (int k = 2; k <= wanted; ++k) {
    if (peaks_.size() < static_cast<std::size_t>(k - 1)) {
      peaks_.push_back(Peak{IdleHistogram(spec_.keep_alive), std::nullopt, {}});
    }
    Peak& p = peaks_[static_cast<std::size_t>(k - 2)];
    if (p.last_needed && second <= *p.last_needed) continue;
    if (p.last_needed && second > *p.last_needed + 1) {
      p.histogram.record(seconds(second - *p.last_needed - 1));
      p.plan = p.histogram.plan(spec_.scale_to_zero_grace);
      p.hold = p.plan.learned ? p.histogram.priced_keep_alive(Duration::zero()) : Duration::zero();
    }
    p.last_needed = second;
  }
}

int Autoscaler::recurring_peak(std::int64_t now_second, int current) const {
  // Only peaks that come back after a long, regular gap: those are the ones whose replicas
  // the windows would let go and start again, each start a cold start for the calls waiting.
  if (spec_.keep_alive.mode != KeepAliveMode::kLearned) return 0;  // keepAlive: fixed
  const std::int64_t grace = whole_seconds(spec_.scale_to_zero_grace);
  int want = 0;
  for (std::size_t i = 0; i < peaks_.size(); ++i) {
    const Peak& p = peaks_[i];
    const int k = static_cast<int>(i) + 2;
    if (!p.last_needed || !p.plan.representative) continue;
    const std::int64_t prewarm = whole_seconds(p.plan.prewarm);
    if (prewarm <= grace) continue;
    const std::int64_t idle = now_second - (*p.last_needed + 1);
    const std::int64_t until = std::max<std::int64_t>(whole_seconds(p.plan.keep_alive), prewarm);
    // A peak is predictable when it recurs within a window narrow against its period.
    if (static_cast<double>(until - prewarm) > kPeakSpread * static_cast<double>(prewarm)) continue;
    if (idle < grace) {
      want = std::max(want, std::min(k, current));  // hold what is there through the grace
    } else if (idle >= prewarm && idle < until) {
      want = std::max(want, k);  // the peak is due: pre-warm its replicas
    }
  }
  return want;
}

void Autoscaler::record(const ReplicaSample& sample) {
  if (forgotten_.count(sample.replica) > 0) return;
  const std::int64_t s = second_of(sample.second);
  const double value =
      metric_of(Values{sample.requests, sample.inflight_average, sample.inflight_peak});
  auto [it, inserted] = replicas_.try_emplace(sample.replica);
  ReplicaSeries& series = it->second;
  if (!inserted && s < series.last_second) return;  // late: that second is settled
  if (!inserted && s == series.last_second) {
    totals_[s] -= series.last_value;  // a repeated report replaces the first
  }
  totals_[s] += value;
  series.last_second = s;
  series.last_value = value;
  series.whole_function = sample.whole_function;
  if (sample.requests > 0 || sample.inflight_peak > 0 || sample.inflight_average > 0) {
    note_activity(s);
  }
}

void Autoscaler::record_queued(TimePoint time, double queued) {
  const std::int64_t s = second_of(time);
  double& q = queued_[s];
  q = std::max(q, queued);
  if (queued > 0) note_activity(s);
}

void Autoscaler::record_backlog(TimePoint time, double pending) {
  backlog_ = pending > 0 ? pending : 0;  // NaN and negatives are nothing pending
  backlog_at_ = time;
}

void Autoscaler::forget_replica(const std::string& replica) {
  auto it = replicas_.find(replica);
  forgotten_[replica] = it != replicas_.end() ? it->second.last_second : 0;
  if (it != replicas_.end()) replicas_.erase(it);
}

void Autoscaler::trim(std::int64_t now_second) {
  const std::int64_t window = whole_seconds(spec_.stable_window);
  const std::int64_t cutoff = now_second - window - 1;
  for (auto it = replicas_.begin(); it != replicas_.end();) {
    // Silent for a whole window: the replica is gone (or was never forgotten); drop it.
    it = it->second.last_second < cutoff ? replicas_.erase(it) : std::next(it);
  }
  for (auto it = forgotten_.begin(); it != forgotten_.end();) {
    it = it->second < cutoff ? forgotten_.erase(it) : std::next(it);
  }
  while (!totals_.empty() && totals_.begin()->first < cutoff)
    totals_.erase(totals_.begin());
  while (!queued_.empty() && queued_.begin()->first < cutoff)
    queued_.erase(queued_.begin());
  while (!absorbed_.empty() && absorbed_.begin()->first < cutoff)
    absorbed_.erase(absorbed_.begin());
}

void Autoscaler::averages(std::int64_t now_second, double* stable, double* panic, int* unknown,
                          double* queued_last) const {
  const std::int64_t window = whole_seconds(spec_.stable_window);
  const std::int64_t panic_window = std::max<std::int64_t>(1, whole_seconds(spec_.panic_window()));
  const std::int64_t hi = now_second - 1;
  const std::int64_t lo = std::max(now_second - window, first_second_);
  const std::int64_t panic_lo = std::max(now_second - panic_window, first_second_);
  *stable = *panic = *queued_last = 0;
  *unknown = 0;
  if (hi < lo) return;
  std::vector<double> totals(static_cast<std::size_t>(hi - lo + 1), 0.0);
  for (auto it = totals_.lower_bound(lo); it != totals_.end() && it->first <= hi; ++it) {
    totals[static_cast<std::size_t>(it->first - lo)] += it->second;
  }
  for (auto it = queued_.lower_bound(lo); it != queued_.end() && it->first <= hi; ++it) {
    double q = it->second;
    if (auto a = absorbed_.find(it->first); a != absorbed_.end()) q = std::max(0.0, q - a->second);
    totals[static_cast<std::size_t>(it->first - lo)] += q;
  }
  // A replica that has not reported the newest seconds is unknown, not idle: its last value
  // is carried forward over them.
  const std::int64_t stale = whole_seconds(spec_.stale_after);
  for (const auto& [name, r] : replicas_) {
    if (r.last_second < now_second - stale) ++*unknown;
    for (std::int64_t s = std::max(r.last_second + 1, lo); s <= hi; ++s) {
      totals[static_cast<std::size_t>(s - lo)] += r.last_value;
    }
  }
  if (auto it = queued_.find(hi); it != queued_.end()) *queued_last = it->second;
  double sum = 0, panic_sum = 0;
  for (std::int64_t s = lo; s <= hi; ++s) {
    const double v = totals[static_cast<std::size_t>(s - lo)];
    sum += v;
    if (s >= panic_lo) panic_sum += v;
  }
  *stable = sum / static_cast<double>(hi - lo + 1);
  if (hi >= panic_lo) *panic = panic_sum / static_cast<double>(hi - panic_lo + 1);
}

Decision Autoscaler::decide(TimePoint now, int current_replicas) {
  const ScalingSpec& sp = spec_;
  const std::int64_t now_s = second_of(now);
  trim(now_s);
  Decision d;
  d.current = std::max(0, current_replicas);
  int reporting_stale = 0;
  const std::int64_t stale = whole_seconds(sp.stale_after);
  int fresh = 0;
  bool whole = false;  // a fresh report covers every replica
  for (const auto& [name, r] : replicas_) {
    if (r.last_second >= now_s - stale) {
      ++fresh;
      whole = whole || r.whole_function;
    }
  }
  // Replicas asked for within the last stale_after and not heard from yet are starting: the
  // calls queued meanwhile are theirs to take (`target` each), not load that asks for more.
  while (!asked_.empty() && asked_.front().first <= now_s - stale)
    asked_.pop_front();
  int asked = 0;
  for (const auto& [second, n] : asked_)
    asked += n;
  const int starting = std::min(asked, std::max(0, d.current - fresh));
  if (starting > 0) absorbed_[now_s - 1] = starting * sp.target;
  averages(now_s, &d.stable_value, &d.panic_value, &reporting_stale, &d.queued);
  // The queue triggers' backlog, unless its report is too old to trust (a dispatcher gone).
  if (backlog_at_ && now - *backlog_at_ <= sp.backlog_stale_after) d.backlog = backlog_;
  // Events waiting or being delivered are activity, as calls are: the idle time (and the
  // keep-alive) starts when the backlog is empty.
  if (d.backlog > 0) note_activity(now_s - 1);

  // Replicas that should report but do not: tracked ones gone silent, and any the function has
  // beyond those that reported recently (still starting, or never heard of).
  d.unknown_replicas = std::max(reporting_stale, whole ? 0 : d.current - fresh);

  const int ready = std::max(1, d.current);
  const int max_up = static_cast<int>(std::min(std::ceil(sp.max_scale_up_rate * ready), 1e9));
  const int max_down = d.unknown_replicas > 0
                           ? d.current
                           : static_cast<int>(std::floor(d.current / sp.max_scale_down_rate));
  const int want_stable = ceil_div(d.stable_value, sp.target);
  const int want_panic = ceil_div(d.panic_value, sp.target);
  const int desired_stable = std::clamp(want_stable, std::min(max_down, max_up), max_up);
  const int desired_panic = std::clamp(want_panic, std::min(max_down, max_up), max_up);

  const bool over = static_cast<double>(want_panic) / ready >= sp.panic_threshold;
  const std::int64_t window = whole_seconds(sp.stable_window);
  if (over) {
    panic_ = true;
    panic_since_ = now_s;
  } else if (panic_ && now_s - panic_since_ >= window) {
    panic_ = false;
    max_panic_pods_ = 0;
  }

  int desired = desired_stable;
  // Scale-down tolerance: keep the replicas while the stable load is within a margin of
  // what they carry, so noise around a replica boundary does not start and stop replicas.
  if (desired < d.current && sp.scale_down_tolerance > 0 &&
      ceil_div(d.stable_value * (1.0 + sp.scale_down_tolerance), sp.target) >= d.current) {
    desired = d.current;
  }
  if (panic_) {
    desired = std::max({desired_stable, desired_panic, max_panic_pods_, d.current});
    max_panic_pods_ = desired;
  }

  // The backlog: ceil(pending / target) replicas, the larger of that and what the windows say
  // (the same target for rps: a replica is asked to take `target` waiting events at once).
  const int want_backlog_raw = ceil_div(d.backlog, sp.target);
  const int want_backlog = std::min({want_backlog_raw, sp.max_replicas, max_up});
  desired = std::max(desired, want_backlog);

  if (sp.scale_down_delay > Duration::zero()) {
    const std::int64_t delay = whole_seconds(sp.scale_down_delay);
    recent_desired_.emplace_back(now_s, desired);
    while (!recent_desired_.empty() && recent_desired_.front().first <= now_s - delay) {
      recent_desired_.pop_front();
    }
    for (const auto& [s, v] : recent_desired_)
      desired = std::max(desired, v);
  }

  // What the load asked for over the panic window, as it is (the held decisions of panic mode
  // would stretch every peak by a stable window): the k-th replica's idle times are the gaps
  // between the seconds that asked for k or more.
  note_needs(now_s, want_panic);

  std::string idle_note;
  if (d.unknown_replicas > 0) desired = std::max(desired, d.current);
  // Every further replica the windows would let go is priced like the last one: the k-th stays
  // while the load that asked for k is due back within what a cold start is worth (the k-th
  // replica's idle-time histogram, as for recurring peaks).
  int held = 0;
  if (sp.keep_alive.mode == KeepAliveMode::kLearned) {
    for (int k = std::max(desired + 1, 2); k <= d.current; ++k) {
      if (static_cast<std::size_t>(k - 2) >= peaks_.size()) break;
      const Peak& p = peaks_[static_cast<std::size_t>(k - 2)];
      if (!p.last_needed || p.hold <= Duration::zero()) break;
      if (now_s - (*p.last_needed + 1) >= whole_seconds(p.hold)) break;
      held = k;
    }
  }
  desired = std::max(desired, held);

  // Idle handling for functions that may go to zero: the learned keep-alive and pre-warm.
  if (sp.min_replicas == 0) {
    const bool learned = sp.keep_alive.mode == KeepAliveMode::kLearned;
    const Duration grace = sp.scale_to_zero_grace;
    if (learned) {
      if (!plan_) plan_ = histogram_.plan(grace);
      d.keep_alive = *plan_;
    }
    if (!learned) d.keep_alive.why = "fixed keep-alive";
    const std::int64_t idle_since = last_active_ ? *last_active_ + 1 : first_second_;
    const Duration idle = seconds(std::max<std::int64_t>(0, now_s - idle_since));
    const TimePoint idle_start = time_of(idle_since);
    const KeepAlivePlan& plan = d.keep_alive;
    const bool active_now = d.queued > 0 || (last_active_ && *last_active_ >= now_s - 1);
    char buf[200];
    if (active_now) {
      desired = std::max(desired, 1);
    } else if (plan.representative && plan.prewarm > grace) {
      // The next call is not expected before `prewarm`: go to zero after the grace period,
      // come back just before it is due, stay until the high percentile has passed.
      const TimePoint prewarm_at = idle_start + plan.prewarm;
      const TimePoint give_up_at = idle_start + std::max(plan.keep_alive, plan.prewarm);
      if (idle < grace) {
        desired = std::max(desired, 1);
        d.scale_to_zero_at = idle_start + grace;
        d.prewarm_at = prewarm_at;
      } else if (idle < plan.prewarm) {
        desired = 0;
        d.prewarm_at = prewarm_at;
        std::snprintf(buf, sizeof buf, "idle %llds: zero until pre-warm at +%llds",
                      static_cast<long long>(whole_seconds(idle)),
                      static_cast<long long>(whole_seconds(prewarm_at - now)));
        idle_note = buf;
      } else if (now < give_up_at) {
        desired = std::max(desired, 1);
        d.scale_to_zero_at = give_up_at;
        std::snprintf(buf, sizeof buf, "idle %llds: pre-warmed for the next call until +%llds",
                      static_cast<long long>(whole_seconds(idle)),
                      static_cast<long long>(whole_seconds(give_up_at - now)));
        idle_note = buf;
      } else {
        desired = 0;
        std::snprintf(buf, sizeof buf, "idle %llds: past the learned keep-alive",
                      static_cast<long long>(whole_seconds(idle)));
        idle_note = buf;
      }
    } else {
      // The keep-alive worth its price (the plan's); before enough idle times are seen, as
      // long as one cold start is worth: whatever the next idle time, that spends at most twice
      // what knowing it would. Never below the grace period.
      const Duration break_even = std::chrono::duration_cast<Duration>(
          std::chrono::duration<double>(sp.keep_alive.cold_start_cost));
      const Duration fixed = learned ? std::max(grace, break_even) : grace;
      const Duration keep = plan.learned ? std::max(grace, plan.keep_alive) : fixed;
      if (idle < keep) {
        if (d.current > 0 || desired > 0) desired = std::max(desired, 1);
        d.scale_to_zero_at = idle_start + keep;
      } else {
        desired = 0;
        std::snprintf(buf, sizeof buf, "idle %llds >= %s keep-alive %llds: zero",
                      static_cast<long long>(whole_seconds(idle)),
                      plan.learned ? "learned" : "fixed",
                      static_cast<long long>(whole_seconds(keep)));
        idle_note = buf;
      }
    }
    // Missing data or a burst never takes replicas away.
    if (d.unknown_replicas > 0 || panic_) desired = std::max(desired, d.current);
  }

  // Peaks that recur: their replicas are held through the grace and pre-warmed when due.
  d.recurring_peak = recurring_peak(now_s, d.current);
  const bool for_peak = d.recurring_peak > desired;
  desired = std::max(desired, d.recurring_peak);

  desired = std::clamp(desired, sp.min_replicas, sp.max_replicas);
  d.desired = desired;
  d.panic = panic_;
  if (d.desired > d.current) asked_.emplace_back(now_s, d.desired - d.current);

  char head[256];
  std::snprintf(
      head, sizeof head, "%s %.2f over %llds (panic %llds: %.2f), target %.2f/replica: %d",
      to_string(sp.metric), d.stable_value, static_cast<long long>(whole_seconds(sp.stable_window)),
      static_cast<long long>(whole_seconds(sp.panic_window())), d.panic_value, sp.target,
      d.desired);
  d.reason = head;
  if (d.panic) d.reason += "; panic mode";
  if (d.queued > 0) d.reason += "; " + std::to_string(static_cast<long long>(d.queued)) + " queued";
  if (d.backlog > 0) {
    char note[96];
    std::snprintf(note, sizeof note, "; backlog %.0f pending in queue triggers", d.backlog);
    d.reason += note;
    // Named as what decided when it asks for more than the windows do and its replicas (at
    // most maxReplicas) are the decision.
    if (want_backlog == d.desired && want_backlog_raw > std::max(want_stable, want_panic)) {
      d.reason += ": " + std::to_string(want_backlog) + " replicas";
    }
  }
  if (d.unknown_replicas > 0) {
    d.reason +=
        "; " + std::to_string(d.unknown_replicas) + " replica(s) not reporting: no scale-down";
  }
  if (!idle_note.empty()) d.reason += "; " + idle_note;
  if (held > 0 && held == d.desired && d.desired > std::max(want_stable, want_panic)) {
    d.reason += "; " + std::to_string(held) +
                " replicas kept: their load is due back within the price of a cold start";
  }
  if (for_peak) {
    d.reason += "; " + std::to_string(d.recurring_peak) +
                " replicas held or pre-warmed for a peak that recurs";
  }
  if (sp.min_replicas == 0 && sp.keep_alive.mode == KeepAliveMode::kLearned) {
    d.reason += d.keep_alive.learned ? "; learned keep-alive (" : "; fixed keep-alive (";
    d.reason += d.keep_alive.why + ")";
  }
  if (d.desired == sp.max_replicas &&
      d.desired < std::max({want_stable, want_panic, want_backlog_raw})) {
    d.reason += "; capped at maxReplicas";
  }
  return d;
}

Decision Autoscaler::poke(TimePoint now, int current_replicas, double queued) {
  record_queued(now, queued);
  if (current_replicas > 0 || queued <= 0) return decide(now, current_replicas);
  Decision d = decide(now, current_replicas);
  const int want = std::max(1, ceil_div(queued, spec_.target));
  const int decided = std::max(d.desired, d.current);  // what decide() noted as asked for
  d.queued = queued;
  d.desired =
      std::clamp(std::max(d.desired, want), std::max(1, spec_.min_replicas), spec_.max_replicas);
  if (d.desired > decided) asked_.emplace_back(second_of(now), d.desired - decided);
  d.reason = std::to_string(static_cast<long long>(queued)) +
             " request(s) queued at zero replicas: scale to " + std::to_string(d.desired) +
             " now; " + d.reason;
  return d;
}

}  // namespace kubefn::autoscaler
