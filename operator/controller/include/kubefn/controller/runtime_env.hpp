// The environment a replica's runtime reads (runtime-images/cpp/server/config.cpp), written
// once for every platform: each one turns these entries into what it starts replicas with
// (a Deployment's env, a local process's environment) and appends spec.env after them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "kubefn/controller/function_spec.hpp"

namespace kubefn::controller {

struct RuntimeEnvVar {
  // A value only the place a replica runs in knows; a platform that cannot tell leaves the
  // variable unset and the runtime falls back (no memory limit, the host name).
  enum class From {
    kLiteral,           // `value`
    kMemoryLimit,       // the replica's memory limit, as a quantity
    kReplicaName,       // the replica's own name, for its load reports and logs
    kReplicaNamespace,  // the namespace it runs in
  };
  std::string name;
  std::string value;  // when `from` is kLiteral
  From from = From::kLiteral;
};

struct RuntimeEnvInputs {
  std::string function_dir;  // KUBEFN_FUNCTION_DIR: where the function's files are
  // FUNC_PORT; unset when whoever starts the replica picks the port.
  std::optional<int> port;
  std::string stats_address;  // KUBEFN_STATS_ADDRESS; empty: the replica reports no load
};

// In a fixed order (a Deployment compares its env element by element, so the order is part of
// what it wants).
std::vector<RuntimeEnvVar> runtime_env(const FunctionSpec& spec, const RuntimeEnvInputs& in);

}  // namespace kubefn::controller
