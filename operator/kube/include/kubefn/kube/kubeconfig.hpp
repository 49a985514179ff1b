#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "kubefn/kube/client_config.hpp"
#include "kubefn/kube/result.hpp"

namespace kubefn::kube {

struct KubeconfigOverrides {
  std::string context;     // empty: current-context
  std::string namespace_;  // empty: the context's namespace, else "default"
};

// Parses one kubeconfig document. Relative file references resolve against `base_dir`.
Result<ClientConfig> parse_kubeconfig(std::string_view yaml, const std::filesystem::path& base_dir,
                                      const KubeconfigOverrides& overrides = {});

// Loads and merges kubeconfig files: for every named cluster, context and user, and for
// current-context, the first file that sets it wins. Missing files are skipped.
Result<ClientConfig> load_kubeconfig(const std::vector<std::filesystem::path>& files,
                                     const KubeconfigOverrides& overrides = {});

// Files from $KUBECONFIG (a ':'-separated list) or else $HOME/.kube/config.
std::vector<std::filesystem::path> kubeconfig_files_from_env(const EnvLookup& env);

}  // namespace kubefn::kube
