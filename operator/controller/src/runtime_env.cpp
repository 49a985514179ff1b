#include "kubefn/controller/runtime_env.hpp"

namespace kubefn::controller {

std::vector<RuntimeEnvVar> runtime_env(const FunctionSpec& spec, const RuntimeEnvInputs& in) {
  using From = RuntimeEnvVar::From;
  std::vector<RuntimeEnvVar> env = {
      {"MOD_NAME", spec.module},
      {"FUNC_HANDLER", spec.handler_name},
      {"FUNC_TIMEOUT", std::to_string(spec.timeout_seconds)},
  };
  if (in.port) env.push_back({"FUNC_PORT", std::to_string(*in.port)});
  env.push_back({"FUNC_RUNTIME", spec.runtime});
  env.push_back({"FUNC_MEMORY_LIMIT", "", From::kMemoryLimit});
  env.push_back({"KUBEFN_FUNCTION_NAME", spec.name});
  env.push_back({"KUBEFN_FUNCTION_DIR", in.function_dir});
  // Finish every call the timeout allows, and a margin, before the replica is stopped (on
  // Kubernetes the pod's grace period is longer still).
  env.push_back({"KUBEFN_DRAIN_TIMEOUT_MS", std::to_string(spec.timeout_seconds * 1000 + 5000)});
  // Who this replica is, for its load reports and logs.
  env.push_back({"POD_NAME", "", From::kReplicaName});
  env.push_back({"POD_NAMESPACE", "", From::kReplicaNamespace});
  if (!in.stats_address.empty()) env.push_back({"KUBEFN_STATS_ADDRESS", in.stats_address});
  return env;
}

}  // namespace kubefn::controller
