#pragma once

// The files by which the CLI and kubectl find a running `kubefn up` in its home: up.json (read
// by the CLI's target selection) and the kubeconfig it names (private to the module).

#include <filesystem>
#include <string>

namespace kubefn::platform::local::detail {

struct UpState {
  long pid = 0;
  std::string api;         // the API's URL
  std::string kubeconfig;  // the kubeconfig file for the API
  std::string gateway;     // the gateway's URL
  std::string metrics;     // the metrics endpoint's URL
  std::string logs;        // the replicas' log folder
};

// The pid the state file at `path` names when that process is alive; 0 when there is no file,
// it is not JSON or its process is gone.
long running_pid(const std::filesystem::path& path);

// Writes `state` beside `path`, then renames it into place: a reader sees all of it or none.
void write_state(const std::filesystem::path& path, const UpState& state);

// A kubeconfig for the platform's API: its URL, the CA of its certificate and the token (JSON
// strings are YAML: whatever the token file holds, it stays one string).
std::string kubeconfig_text(const std::string& server, const std::string& ca_pem,
                            const std::string& token);

}  // namespace kubefn::platform::local::detail
