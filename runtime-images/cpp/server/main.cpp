// kubefn-runtime: hosts one C++ function over HTTP. Wires configuration, the function
// library, metrics, logs and the server; all behaviour lives in the pieces it wires.
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "config.hpp"
#include "function_loader.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "server.hpp"
#include "stats_plugin.hpp"

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
  StatsPlugin stats(metrics, log);
  if (!config.stats_address.empty()) stats.start(config);
  int code = server.run();
  stats.stop();
  access_log.flush();
  // Handlers stuck past the drain timeout may still run: leave without unwinding them.
  if (code != 0) std::_Exit(code);
  return code;
}
