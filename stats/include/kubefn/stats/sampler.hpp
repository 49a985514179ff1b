// Per-second load samples of one replica, from readings of its counters.
//
// StatsSampler turns readings of the counters into one sample per wall-clock second; it is
// pure (times are passed in).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "kubefn/v1/stats.pb.h"

namespace kubefn::stats {

// The counters a sample is made from, read at one instant.
struct StatsCounters {
  std::uint64_t requests = 0;  // calls finished so far
  double inflight = 0;         // calls running now
  double busy_seconds = 0;     // handler wall time so far, summed over calls
  // For metering:
  double busy_union_seconds = 0;  // time with at least one call in flight so far
  double cpu_seconds = 0;         // the process's user + system CPU so far
  double rss_bytes = 0;           // the process's resident memory now
};

struct StatsIdentity {
  std::string ns;
  std::string function;
  std::string replica;
};

class StatsSampler {
 public:
  explicit StatsSampler(StatsIdentity id) : id_(std::move(id)) {}

  // One reading at `unix_ms`. When it falls in a later second than the readings before it,
  // the sample of the second being filled is returned (counter deltas up to this reading,
  // in-flight average and peak over that second's readings) and a new second starts here.
  // Seconds without any reading produce no sample. The first sample counts from zero (the
  // counters started with the process). A counter that goes backwards restarts the baseline.
  // rss_bytes is not a counter: the sample carries the reading that closes the second.
  std::optional<kubefn::v1::ReplicaStats> observe(std::int64_t unix_ms,
                                                  const StatsCounters& counters);

 private:
  StatsIdentity id_;
  bool started_ = false;
  std::int64_t second_ = 0;  // unix seconds being filled
  StatsCounters base_;       // counters at the start of the second being filled
  StatsCounters last_;       // the previous reading (a smaller one means a restart)
  double inflight_sum_ = 0;
  double inflight_peak_ = 0;
  int readings_ = 0;
};

// The wall clock samples are stamped with, in unix milliseconds.
std::int64_t unix_ms_now();

}  // namespace kubefn::stats
