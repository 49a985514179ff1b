#include "kubefn/stats/sampler.hpp"

#include <algorithm>
#include <chrono>

namespace kubefn::stats {

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<kubefn::v1::ReplicaStats> StatsSampler::observe(std::int64_t unix_ms,
                                                              const StatsCounters& counters) {
  const std::int64_t second = unix_ms >= 0 ? unix_ms / 1000 : (unix_ms - 999) / 1000;
  std::optional<kubefn::v1::ReplicaStats> out;
  const bool restarted = started_ && (counters.requests < last_.requests ||
                                      counters.busy_seconds < last_.busy_seconds ||
                                      counters.busy_union_seconds < last_.busy_union_seconds ||
                                      counters.cpu_seconds < last_.cpu_seconds);
  last_ = counters;
  if (started_ && second > second_ && readings_ > 0 && !restarted) {
    kubefn::v1::ReplicaStats s;
    s.set_namespace_(id_.ns);
    s.set_function(id_.function);
    s.set_replica(id_.replica);
    s.set_second_start_unix_ms(second_ * 1000);
    s.set_requests(counters.requests - base_.requests);
    s.set_inflight_average(inflight_sum_ / readings_);
    s.set_inflight_peak(inflight_peak_);
    s.set_busy_seconds(std::max(0.0, counters.busy_seconds - base_.busy_seconds));
    s.set_busy_union_seconds(std::max(0.0, counters.busy_union_seconds - base_.busy_union_seconds));
    s.set_cpu_seconds(std::max(0.0, counters.cpu_seconds - base_.cpu_seconds));
    s.set_rss_bytes(std::max(0.0, counters.rss_bytes));
    out = std::move(s);
  }
  if (!started_ || second != second_ || restarted) {
    if (!started_ || second > second_ || restarted) {
      // The first second's baseline stays zero: the counters started with the process, and
      // calls served before the first reading belong to the first sample.
      if (started_) base_ = counters;
      started_ = true;
      second_ = second;
      inflight_sum_ = 0;
      inflight_peak_ = 0;
      readings_ = 0;
    } else {
      return out;  // the wall clock stepped back: ignore readings until it catches up
    }
  }
  inflight_sum_ += counters.inflight;
  inflight_peak_ = std::max(inflight_peak_, counters.inflight);
  ++readings_;
  return out;
}

}  // namespace kubefn::stats
