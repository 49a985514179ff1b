// Where a command acts: a cluster named by a kubeconfig, or the local platform of `kubefn up`.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "kubefn/kube/client_config.hpp"
#include "kubefn/kube/result.hpp"

namespace kubefn::cli {

// What `kubefn up` leaves in $KUBEFN_HOME/up.json.
struct LocalState {
  long pid = 0;
  std::string api;
  std::string kubeconfig;  // its API's server, CA and token; empty: `api`, no credentials
  std::string gateway;
  std::string metrics;
  std::string logs;
};

kube::Result<LocalState> parse_local_state(const std::string& json_text);

struct TargetFlags {
  std::string kubeconfig;  // --kubeconfig
  std::string context;     // --context
  std::string ns;          // -n/--namespace, empty when not given
  std::string gateway;     // --gateway
};

// The outside world selection depends on; tests substitute every part.
struct TargetEnvironment {
  kube::EnvLookup env = kube::process_environment();
  std::function<bool(long pid)> pid_alive;  // default: kill(pid, 0)
  std::function<bool(const std::filesystem::path&)> file_exists;
  std::function<std::optional<std::string>(const std::filesystem::path&)> read_file;
};
TargetEnvironment process_target_environment();

struct Target {
  enum class Kind { kCluster, kLocal };
  Kind kind = Kind::kCluster;
  kube::ClientConfig api;  // how to reach the API server (the local one too)
  std::string ns;          // namespace commands default to
  std::string gateway;     // empty when unknown
  std::string metrics;     // local platform only
  std::string logs_dir;    // local platform only
  std::string described;   // "local platform (pid 12)" or "cluster <server>"
};

// $KUBEFN_HOME, else $HOME/.kubefn.
std::filesystem::path kubefn_home(const kube::EnvLookup& env);

// The rules: --kubeconfig/--context mean the cluster; otherwise a state file whose pid is alive
// means local (through the kubeconfig it names); otherwise a kubeconfig if there is one; else an
// error that says what to do.
kube::Result<Target> select_target(const TargetFlags& flags, const TargetEnvironment& environment);

}  // namespace kubefn::cli
