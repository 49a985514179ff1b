#include "stats_plugin.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "kubefn/telemetry/process_collector.hpp"

namespace kubefn::runtime {

kubefn_stats_counters read_runtime_counters(prometheus::Registry& registry) {
  kubefn_stats_counters c{0, 0, 0, 0, 0, 0};
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

kubefn_stats_counters read_runtime_counters(RuntimeMetrics& metrics) {
  kubefn_stats_counters c = read_runtime_counters(metrics.registry());
  c.busy_union_seconds = metrics.busy_union_seconds();
  if (auto usage = telemetry::read_process_usage()) {
    c.cpu_seconds = usage->cpu_seconds;
    c.rss_bytes = static_cast<double>(usage->resident_bytes);
  }
  return c;
}

bool StatsPlugin::start(const RuntimeConfig& config) {
  std::string plugin = config.stats_plugin;
  if (plugin.empty()) {
    std::error_code ec;
    plugin = (std::filesystem::read_symlink("/proc/self/exe", ec).parent_path() / kStatsPluginFile)
                 .string();
  }
  void* lib = dlopen(plugin.c_str(), RTLD_NOW | RTLD_LOCAL);
  auto start = lib ? reinterpret_cast<void* (*)(const kubefn_stats_start_args*)>(
                         dlsym(lib, "kubefn_stats_start"))
                   : nullptr;
  stop_ = lib ? reinterpret_cast<void (*)(void*)>(dlsym(lib, "kubefn_stats_stop")) : nullptr;
  std::string replica = config.stats_replica;
  if (replica.empty()) {
    char host[256] = {0};
    gethostname(host, sizeof host - 1);
    replica = host;
  }
  kubefn_stats_start_args args{};
  args.address = config.stats_address.c_str();
  args.ns = config.stats_namespace.c_str();
  args.function = config.function_name.c_str();
  args.replica = replica.c_str();
  args.read = [](void* ctx, kubefn_stats_counters* out) {
    *out = read_runtime_counters(static_cast<StatsPlugin*>(ctx)->metrics_);
  };
  // Log lines go to stderr like every lifecycle line; the writer is the process's own.
  args.log = [](void* ctx, const char* message) {
    telemetry::log_event(static_cast<StatsPlugin*>(ctx)->log_, "info", message);
  };
  args.ctx = this;
  if (start != nullptr && stop_ != nullptr) reporter_ = start(&args);
  if (reporter_ == nullptr) {
    const char* why = lib ? "it has no kubefn_stats_start" : dlerror();
    telemetry::log_event(
        log_, "error",
        "load reports are off: cannot load " + plugin + ": " + (why ? why : "unknown"));
    return false;
  }
  return true;
}

void StatsPlugin::stop() {
  if (reporter_ != nullptr) stop_(reporter_);
  reporter_ = nullptr;
}

}  // namespace kubefn::runtime
