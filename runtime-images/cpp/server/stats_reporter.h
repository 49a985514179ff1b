// The C ABI between kubefn-runtime and its stats plugin (kubefn_runtime_stats.so, built from
// stats_reporter.cpp). The runtime loads the plugin only when KUBEFN_STATS_ADDRESS is set, so
// a runtime that does not report never loads gRPC and starts as fast as before.
#pragma once

#include <prometheus/registry.h>

#include <cmath>
#include <cstdint>

extern "C" {

// The counters a sample is made from, read at one instant.
struct kubefn_stats_counters {
  std::uint64_t requests;  // calls finished so far
  double inflight;         // calls running now
  double busy_seconds;     // handler wall time so far
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
  void* ctx;
};

// Starts reporting; returns the reporter to pass to kubefn_stats_stop (null on failure).
void* kubefn_stats_start(const kubefn_stats_start_args* args);
void kubefn_stats_stop(void* reporter);
}

namespace kubefn::runtime {

inline constexpr const char* kStatsPluginFile = "kubefn_runtime_stats.so";

// The runtime's counters from its metrics registry: function_calls_total summed over methods,
// kubefn_runtime_inflight_requests and kubefn_runtime_busy_seconds_total.
inline kubefn_stats_counters read_runtime_counters(prometheus::Registry& registry) {
  kubefn_stats_counters c{0, 0, 0};
  double calls = 0;
  for (const auto& family : registry.Collect()) {
    if (family.name == "function_calls_total") {
      for (const auto& m : family.metric)
        calls += m.counter.value;
    } else if (family.name == "kubefn_runtime_inflight_requests") {
      for (const auto& m : family.metric)
        c.inflight += m.gauge.value;
    } else if (family.name == "kubefn_runtime_busy_seconds_total") {
      for (const auto& m : family.metric)
        c.busy_seconds += m.counter.value;
    }
  }
  c.requests = static_cast<std::uint64_t>(std::llround(calls));
  return c;
}

}  // namespace kubefn::runtime
