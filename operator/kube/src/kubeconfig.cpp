#include "kubefn/kube/kubeconfig.hpp"

#include <yaml-cpp/yaml.h>

#include <map>
#include <sstream>

#include "file_text.hpp"

namespace kubefn::kube {
namespace {

// A named entry of a kubeconfig and the directory its relative paths resolve against.
struct Entry {
  YAML::Node body;
  std::filesystem::path base_dir;
};

struct MergedKubeconfig {
  std::string current_context;
  std::map<std::string, Entry> clusters;
  std::map<std::string, Entry> contexts;
  std::map<std::string, Entry> users;
};

Status invalid(const std::string& message) {
  return Status(StatusCode::kInvalidConfig, message);
}

std::string scalar(const YAML::Node& node, const char* key) {
  const YAML::Node value = node[key];
  if (!value.IsDefined() || value.IsNull()) return {};
  return value.as<std::string>();
}

std::filesystem::path resolve(const std::filesystem::path& base_dir, const std::string& file) {
  const std::filesystem::path path(file);
  return path.is_absolute() ? path : base_dir / path;
}

// Adds the named entries of `list` (clusters/contexts/users) whose names are not taken yet.
Status merge_section(const YAML::Node& root, const char* section, const char* body_key,
                     const std::filesystem::path& base_dir, std::map<std::string, Entry>& into) {
  const YAML::Node list = root[section];
  if (!list.IsDefined() || list.IsNull()) return {};
  if (!list.IsSequence())
    return invalid(std::string("kubeconfig: '") + section + "' is not a list");
  for (const auto& item : list) {
    const std::string name = scalar(item, "name");
    if (name.empty())
      return invalid(std::string("kubeconfig: an entry of '") + section + "' has no name");
    into.try_emplace(name, Entry{item[body_key], base_dir});
  }
  return {};
}

// yaml-cpp reports problems by throwing; this is the one place they are turned into values.
Status merge_document(std::string_view yaml, const std::filesystem::path& base_dir,
                      MergedKubeconfig& merged) {
  try {
    const YAML::Node root = YAML::Load(std::string(yaml));
    if (root.IsNull()) return {};
    if (!root.IsMap()) return invalid("kubeconfig: the document is not a map");
    if (merged.current_context.empty()) merged.current_context = scalar(root, "current-context");
    for (const auto& [section, key, into] : {std::tuple{"clusters", "cluster", &merged.clusters},
                                             std::tuple{"contexts", "context", &merged.contexts},
                                             std::tuple{"users", "user", &merged.users}}) {
      if (Status status = merge_section(root, section, key, base_dir, *into); !status.ok()) {
        return status;
      }
    }
    return {};
  } catch (const YAML::Exception& error) {
    return invalid(std::string("kubeconfig: not valid YAML: ") + error.what());
  }
}

// Inline "-data" wins over the file form, as in kubectl.
Result<std::string> inline_or_file(const Entry& entry, const char* data_key, const char* file_key,
                                   const std::string& what) {
  const std::string data = scalar(entry.body, data_key);
  if (!data.empty()) return decode_base64(data, what + " (" + data_key + ")");
  const std::string file = scalar(entry.body, file_key);
  if (file.empty()) return std::string();
  return read_file_text(resolve(entry.base_dir, file), what);
}

Result<ClientConfig> resolve_config(const MergedKubeconfig& merged,
                                    const KubeconfigOverrides& overrides) {
  try {
    const std::string context_name =
        overrides.context.empty() ? merged.current_context : overrides.context;
    if (context_name.empty()) return invalid("kubeconfig: no current-context and no context given");
    const auto context = merged.contexts.find(context_name);
    if (context == merged.contexts.end()) {
      return invalid("kubeconfig: context \"" + context_name + "\" not found");
    }
    const std::string cluster_name = scalar(context->second.body, "cluster");
    const auto cluster = merged.clusters.find(cluster_name);
    if (cluster == merged.clusters.end()) {
      return invalid("kubeconfig: cluster \"" + cluster_name + "\" of context \"" + context_name +
                     "\" not found");
    }

    ClientConfig config;
    config.server = scalar(cluster->second.body, "server");
    if (config.server.empty()) {
      return invalid("kubeconfig: cluster \"" + cluster_name + "\" has no server");
    }
    auto ca = inline_or_file(cluster->second, "certificate-authority-data", "certificate-authority",
                             "certificate authority of cluster \"" + cluster_name + "\"");
    if (!ca.ok()) return ca.status();
    config.ca_pem = std::move(*ca);
    const YAML::Node insecure = cluster->second.body["insecure-skip-tls-verify"];
    config.insecure_skip_tls_verify = insecure.IsDefined() && insecure.as<bool>();
    config.tls_server_name = scalar(cluster->second.body, "tls-server-name");

    const std::string user_name = scalar(context->second.body, "user");
    if (!user_name.empty()) {
      const auto user = merged.users.find(user_name);
      if (user == merged.users.end()) {
        return invalid("kubeconfig: user \"" + user_name + "\" of context \"" + context_name +
                       "\" not found");
      }
      const Entry& entry = user->second;
      config.token = scalar(entry.body, "token");
      const std::string token_file = scalar(entry.body, "tokenFile");
      if (!token_file.empty()) {
        config.token_file = resolve(entry.base_dir, token_file).string();
        auto readable = read_file_text(config.token_file, "token");
        if (!readable.ok()) return readable.status();
      }
      auto cert = inline_or_file(entry, "client-certificate-data", "client-certificate",
                                 "client certificate of user \"" + user_name + "\"");
      if (!cert.ok()) return cert.status();
      config.client_certificate_pem = std::move(*cert);
      auto key = inline_or_file(entry, "client-key-data", "client-key",
                                "client key of user \"" + user_name + "\"");
      if (!key.ok()) return key.status();
      config.client_key_pem = std::move(*key);
      if (entry.body["exec"].IsDefined() || entry.body["auth-provider"].IsDefined()) {
        return invalid("kubeconfig: user \"" + user_name +
                       "\" uses exec or auth-provider credentials, which are not supported");
      }
    }

    const std::string context_namespace = scalar(context->second.body, "namespace");
    if (!overrides.namespace_.empty()) {
      config.default_namespace = overrides.namespace_;
    } else if (!context_namespace.empty()) {
      config.default_namespace = context_namespace;
    }

    if (Status status = validate_client_config(config); !status.ok()) return status;
    return config;
  } catch (const YAML::Exception& error) {
    return invalid(std::string("kubeconfig: unexpected value: ") + error.what());
  }
}

}  // namespace

Result<ClientConfig> parse_kubeconfig(std::string_view yaml, const std::filesystem::path& base_dir,
                                      const KubeconfigOverrides& overrides) {
  MergedKubeconfig merged;
  if (Status status = merge_document(yaml, base_dir, merged); !status.ok()) return status;
  return resolve_config(merged, overrides);
}

Result<ClientConfig> load_kubeconfig(const std::vector<std::filesystem::path>& files,
                                     const KubeconfigOverrides& overrides) {
  MergedKubeconfig merged;
  bool any = false;
  for (const auto& file : files) {
    std::error_code error;
    if (!std::filesystem::exists(file, error)) continue;
    auto text = read_file_text(file, "kubeconfig");
    if (!text.ok()) return text.status();
    any = true;
    const auto base_dir = std::filesystem::absolute(file, error).parent_path();
    if (Status status = merge_document(*text, base_dir, merged); !status.ok()) {
      return Status(status.code(), file.string() + ": " + status.message());
    }
  }
  if (!any) return invalid("no kubeconfig file found");
  return resolve_config(merged, overrides);
}

std::vector<std::filesystem::path> kubeconfig_files_from_env(const EnvLookup& env) {
  std::vector<std::filesystem::path> files;
  if (const auto list = env("KUBECONFIG"); list && !list->empty()) {
    std::stringstream stream(*list);
    std::string item;
    while (std::getline(stream, item, ':')) {
      if (!item.empty()) files.emplace_back(item);
    }
    return files;
  }
  if (const auto home = env("HOME"); home && !home->empty()) {
    files.push_back(std::filesystem::path(*home) / ".kube" / "config");
  }
  return files;
}

}  // namespace kubefn::kube
