#pragma once

#include <filesystem>

#include "kubefn/kube/client_config.hpp"
#include "kubefn/kube/result.hpp"

namespace kubefn::kube {

inline constexpr const char* kServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

struct InClusterOptions {
  std::filesystem::path service_account_dir = kServiceAccountDir;
  EnvLookup env = process_environment();
};

// Config for a pod: server from KUBERNETES_SERVICE_HOST/PORT, CA, namespace and token file
// from the service-account directory. The token itself is re-read by the client.
Result<ClientConfig> in_cluster_config(const InClusterOptions& options = {});

// $KUBECONFIG, then in-cluster, then ~/.kube/config.
Result<ClientConfig> load_default_config(const EnvLookup& env = process_environment());

// What a component's --kubeconfig and --context flags choose: that file (in that context,
// else its current one) when given, else load_default_config().
Result<ClientConfig> load_config(const std::string& kubeconfig, const std::string& context,
                                 const EnvLookup& env = process_environment());

}  // namespace kubefn::kube
