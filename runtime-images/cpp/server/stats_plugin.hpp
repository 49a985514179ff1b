// Load reporting from the runtime's side: opens the plugin kubefn_runtime_stats.so (only when
// KUBEFN_STATS_ADDRESS is set, so gRPC stays out of the process otherwise) and hands it the
// runtime's counters and log through the C ABI of stats_plugin_abi.h.
#pragma once

#include <prometheus/registry.h>

#include "config.hpp"
#include "kubefn/telemetry/json_log.hpp"
#include "metrics.hpp"
#include "stats_plugin_abi.h"

namespace kubefn::runtime {

// The runtime's counters from its metrics registry: function_calls_total summed over methods,
// kubefn_runtime_inflight_requests and kubefn_runtime_busy_seconds_total (the metering fields
// stay zero).
kubefn_stats_counters read_runtime_counters(prometheus::Registry& registry);
// All of them: the registry's, the busy clock (RuntimeMetrics::busy_union_seconds) and this
// process's CPU and resident memory (from /proc/self/stat).
kubefn_stats_counters read_runtime_counters(RuntimeMetrics& metrics);

class StatsPlugin {
 public:
  // `metrics` and `log` are read from the plugin's thread until stop().
  StatsPlugin(RuntimeMetrics& metrics, telemetry::LineWriter& log) : metrics_(metrics), log_(log) {}
  ~StatsPlugin() { stop(); }
  StatsPlugin(const StatsPlugin&) = delete;
  StatsPlugin& operator=(const StatsPlugin&) = delete;

  // Loads the plugin (config.stats_plugin, or kStatsPluginFile beside the executable) and starts
  // reporting to config.stats_address. When it cannot, logs why (reports are then off) and
  // returns false.
  bool start(const RuntimeConfig& config);
  // Stops reporting; the plugin stays loaded.
  void stop();

 private:
  RuntimeMetrics& metrics_;
  telemetry::LineWriter& log_;
  void* reporter_ = nullptr;
  void (*stop_)(void*) = nullptr;
};

}  // namespace kubefn::runtime
