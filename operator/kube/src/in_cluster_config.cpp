#include "kubefn/kube/in_cluster_config.hpp"

#include "file_text.hpp"
#include "kubefn/kube/kubeconfig.hpp"

namespace kubefn::kube {

Result<ClientConfig> in_cluster_config(const InClusterOptions& options) {
  const auto host = options.env("KUBERNETES_SERVICE_HOST");
  const auto port = options.env("KUBERNETES_SERVICE_PORT");
  if (!host || host->empty() || !port || port->empty()) {
    return Status(StatusCode::kInvalidConfig,
                  "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
                  "must be set");
  }
  ClientConfig config;
  const bool ipv6 = host->find(':') != std::string::npos;
  config.server = "https://" + (ipv6 ? "[" + *host + "]" : *host) + ":" + *port;

  const auto& dir = options.service_account_dir;
  config.token_file = (dir / "token").string();
  auto token = read_file_text(config.token_file, "service account token");
  if (!token.ok()) return token.status();

  auto ca = read_file_text(dir / "ca.crt", "service account CA");
  if (!ca.ok()) return ca.status();
  config.ca_pem = std::move(*ca);

  // The namespace file is optional: without it, "default".
  if (auto ns = read_file_text(dir / "namespace", "namespace"); ns.ok() && !trim(*ns).empty()) {
    config.default_namespace = trim(*ns);
  }
  if (Status status = validate_client_config(config); !status.ok()) return status;
  return config;
}

Result<ClientConfig> load_default_config(const EnvLookup& env) {
  if (const auto list = env("KUBECONFIG"); list && !list->empty()) {
    return load_kubeconfig(kubeconfig_files_from_env(env));
  }
  InClusterOptions in_cluster;
  in_cluster.env = env;
  if (env("KUBERNETES_SERVICE_HOST")) return in_cluster_config(in_cluster);
  return load_kubeconfig(kubeconfig_files_from_env(env));
}

Result<ClientConfig> load_config(const std::string& kubeconfig, const std::string& context,
                                 const EnvLookup& env) {
  if (kubeconfig.empty()) return load_default_config(env);
  return load_kubeconfig({kubeconfig}, KubeconfigOverrides{context, ""});
}

}  // namespace kubefn::kube
