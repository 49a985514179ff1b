// The C ABI between kubefn-runtime and its stats plugin (kubefn_runtime_stats.so, built from
// stats_reporter.cpp). The runtime loads the plugin only when KUBEFN_STATS_ADDRESS is set
// (stats_plugin.hpp), so a runtime that does not report never loads gRPC and starts as fast as
// before.
#pragma once

#include <cstdint>

extern "C" {

// The counters a sample is made from, read at one instant. The runtime and its plugin are
// built together from one tree (the plugin sits beside the executable): fields are added at
// the end.
struct kubefn_stats_counters {
  std::uint64_t requests;  // calls finished so far
  double inflight;         // calls running now
  double busy_seconds;     // handler wall time so far, summed over calls
  // For metering:
  double busy_union_seconds;  // time with at least one call in flight so far
  double cpu_seconds;         // the process's user + system CPU so far
  double rss_bytes;           // the process's resident memory now
};

typedef void (*kubefn_stats_read_fn)(void* ctx, kubefn_stats_counters* out);
typedef void (*kubefn_stats_log_fn)(void* ctx, const char* message);

struct kubefn_stats_start_args {
  const char* address;  // host:port
  const char* ns;
  const char* function;
  const char* replica;
  kubefn_stats_read_fn read;  // called from the plugin's thread, a few times a second
  kubefn_stats_log_fn log;    // may be null
  void* ctx;                  // passed to read and log; outlives kubefn_stats_stop
};

// Starts reporting; returns the reporter to pass to kubefn_stats_stop (null on failure).
void* kubefn_stats_start(const kubefn_stats_start_args* args);
void kubefn_stats_stop(void* reporter);
}

namespace kubefn::runtime {

inline constexpr const char* kStatsPluginFile = "kubefn_runtime_stats.so";

}  // namespace kubefn::runtime
