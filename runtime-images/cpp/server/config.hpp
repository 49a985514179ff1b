// Runtime configuration from the environment (Kubeless variable names plus KUBEFN_*).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>

#include "kubefn/http/request_parser.hpp"

namespace kubefn::runtime {

struct RuntimeConfig {
  std::string module;             // MOD_NAME, or the part of FUNC_HANDLER before the '.'
  std::string handler;            // FUNC_HANDLER's function part
  std::string function_name;      // KUBEFN_FUNCTION_NAME, default the handler
  std::string library_path;       // KUBEFN_FUNCTION_LIB, default <KUBEFN_FUNCTION_DIR>/<module>.so
  std::string runtime = "cpp20";  // FUNC_RUNTIME
  std::chrono::milliseconds timeout{180000};       // FUNC_TIMEOUT, seconds (decimals allowed)
  std::uint64_t memory_limit_bytes = 0;            // FUNC_MEMORY_LIMIT, a Kubernetes quantity
  std::string bind_address = "0.0.0.0";            // KUBEFN_BIND_ADDRESS
  std::uint16_t port = 8080;                       // FUNC_PORT; 0 picks a free port
  http::HttpLimits limits;                         // KUBEFN_MAX_BODY_BYTES
  std::chrono::milliseconds read_timeout{10000};   // KUBEFN_READ_TIMEOUT_MS: one request
  std::chrono::milliseconds idle_timeout{75000};   // KUBEFN_IDLE_TIMEOUT_MS: keep-alive
  std::chrono::milliseconds drain_timeout{30000};  // KUBEFN_DRAIN_TIMEOUT_MS: after SIGTERM
  std::chrono::milliseconds stuck_grace{30000};    // KUBEFN_STUCK_GRACE_MS: past the deadline
  unsigned min_threads = 1;    // KUBEFN_THREADS, default the CPUs this process may use
  unsigned max_threads = 128;  // KUBEFN_MAX_THREADS
  bool access_log = true;      // KUBEFN_ACCESS_LOG=off disables
  // The handler's time in each answer's kubefn-execution-ns header (what the gateway bills);
  // KUBEFN_EXECUTION_HEADER=0 leaves it out (bench/metering's metering-off side).
  bool execution_header = true;
  // Per-second load samples to the operator's autoscaler; empty (the default): none sent.
  std::string stats_address;    // KUBEFN_STATS_ADDRESS, host:port
  std::string stats_namespace;  // POD_NAMESPACE, default "default"
  std::string stats_replica;    // POD_NAME, else HOSTNAME, else the host name
  std::string
      stats_plugin;  // KUBEFN_STATS_PLUGIN, default kubefn_runtime_stats.so beside the binary
};

struct ConfigError {
  std::string message;
};

using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// Reads and validates the configuration; every problem is named with the variable to fix.
std::variant<RuntimeConfig, ConfigError> load_config(const EnvLookup& env);

// Kubernetes resource quantity ("128Mi", "1G", "512", "1.5Gi") in bytes.
std::optional<std::uint64_t> parse_quantity(const std::string& text);

// Seconds with an optional fraction ("180", "0.25").
std::optional<std::chrono::milliseconds> parse_seconds(const std::string& text);

unsigned available_cpus();

}  // namespace kubefn::runtime
