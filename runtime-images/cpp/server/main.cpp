// kubefn-runtime: hosts one C++ function over HTTP. Wires configuration, the function
// library, metrics, logs and the server; all behaviour lives in the pieces it wires.
#include <dlfcn.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "config.hpp"
#include "function_loader.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "server.hpp"
#include "stats_reporter.h"

namespace {

std::optional<std::string> getenv_opt(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

}  // namespace

int main() {
  using namespace kubefn::runtime;
  namespace telemetry = kubefn::telemetry;
  // A client closing early must not kill the process; writes report EPIPE instead.
  ::signal(SIGPIPE, SIG_IGN);
  telemetry::LineWriter log(STDERR_FILENO, 0);
  telemetry::LineWriter access_log(STDOUT_FILENO, std::size_t{64} * 1024);

  auto loaded_config = load_config(getenv_opt);
  if (auto* err = std::get_if<ConfigError>(&loaded_config)) {
    telemetry::log_event(log, "error", "invalid configuration: " + err->message);
    return 2;
  }
  RuntimeConfig config = std::get<RuntimeConfig>(std::move(loaded_config));

  auto loaded = load_function(config.library_path, config.handler);
  if (auto* err = std::get_if<LoadError>(&loaded)) {
    telemetry::log_event(log, "error", err->message);
    return 3;
  }
  const auto& function = std::get<LoadedFunction>(loaded);

  RuntimeMetrics metrics;
  Server server(config, function.entry->fn, metrics, access_log, log);
  if (auto err = server.listen()) {
    telemetry::log_event(log, "error", *err);
    return 4;
  }
  std::string fields = ",\"port\":" + std::to_string(server.port());
  fields += ",\"function\":\"" + config.function_name + "\"";
  fields += ",\"threads\":" + std::to_string(config.min_threads);
  telemetry::log_event(log, "info", "listening", fields);
  // Load reporting is a plugin, loaded only when asked for: gRPC stays out of the process
  // otherwise.
  void* stats = nullptr;
  void (*stats_stop)(void*) = nullptr;
  if (!config.stats_address.empty()) {
    std::string plugin = config.stats_plugin;
    if (plugin.empty()) {
      std::error_code ec;
      plugin =
          (std::filesystem::read_symlink("/proc/self/exe", ec).parent_path() / kStatsPluginFile)
              .string();
    }
    void* lib = dlopen(plugin.c_str(), RTLD_NOW | RTLD_LOCAL);
    auto start = lib ? reinterpret_cast<void* (*)(const kubefn_stats_start_args*)>(
                           dlsym(lib, "kubefn_stats_start"))
                     : nullptr;
    stats_stop = lib ? reinterpret_cast<void (*)(void*)>(dlsym(lib, "kubefn_stats_stop")) : nullptr;
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
      *out = read_runtime_counters(static_cast<RuntimeMetrics*>(ctx)->registry());
    };
    // Log lines go to stderr like every lifecycle line; the writer is the process's own.
    static telemetry::LineWriter* stats_log = &log;
    args.log = [](void*, const char* message) {
      telemetry::log_event(*stats_log, "info", message);
    };
    args.ctx = &metrics;
    if (start != nullptr && stats_stop != nullptr) stats = start(&args);
    if (stats == nullptr) {
      const char* why = lib ? "it has no kubefn_stats_start" : dlerror();
      telemetry::log_event(
          log, "error",
          "load reports are off: cannot load " + plugin + ": " + (why ? why : "unknown"));
    }
  }
  int code = server.run();
  if (stats != nullptr) stats_stop(stats);
  access_log.flush();
  // Handlers stuck past the drain timeout may still run: leave without unwinding them.
  if (code != 0) std::_Exit(code);
  return code;
}
