// process_* metrics read from /proc/self, with the names of Prometheus's client libraries
// (prometheus-cpp has no process collector).
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kubefn::telemetry {

struct ProcessSample {
  double cpu_seconds = 0;
  std::uint64_t resident_bytes = 0;
  std::uint64_t virtual_bytes = 0;
  double start_time_seconds = 0;  // since the Unix epoch
  std::uint64_t open_fds = 0;
  std::optional<std::uint64_t> max_fds;  // absent when unlimited
  std::uint64_t threads = 0;
};

// Reads a sample of the given /proc/<pid> directory; nullopt when it cannot be read.
std::optional<ProcessSample> read_process_sample(const std::string& proc_dir = "/proc/self");

// What metering reads of a process, often: its CPU and resident memory from <proc_dir>/stat
// alone (one small read; no file descriptor count, no limits).
struct ProcessUsage {
  double cpu_seconds = 0;  // user + system
  std::uint64_t resident_bytes = 0;
};
std::optional<ProcessUsage> read_process_usage(const std::string& proc_dir = "/proc/self");

class ProcessCollector : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

// This process's process_* metrics in the text exposition format (what a HealthServer's
// extra_metrics adds to a registry that has no collector of them).
std::string process_metrics_text();

}  // namespace kubefn::telemetry
