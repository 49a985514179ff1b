#include "resource_types.hpp"

namespace kubefn::emulator {
namespace {

ResourceType builtin(std::string group, std::string resource, std::string singular,
                     std::string kind, bool namespaced, std::vector<std::string> short_names = {},
                     std::vector<std::string> categories = {}) {
  ResourceType t;
  t.group = std::move(group);
  t.version = "v1";
  t.resource = std::move(resource);
  t.singular = std::move(singular);
  t.kind = std::move(kind);
  t.namespaced = namespaced;
  t.short_names = std::move(short_names);
  t.categories = std::move(categories);
  return t;
}

std::vector<ResourceType> builtins() {
  std::vector<ResourceType> v;
  auto ns = builtin("", "namespaces", "namespace", "Namespace", false, {"ns"});
  ns.status_subresource = true;
  ns.field_labels = {"status.phase"};
  v.push_back(ns);
  v.push_back(builtin("", "configmaps", "configmap", "ConfigMap", true, {"cm"}));
  auto secret = builtin("", "secrets", "secret", "Secret", true);
  secret.field_labels = {"type"};
  v.push_back(secret);
  auto svc = builtin("", "services", "service", "Service", true, {"svc"}, {"all"});
  svc.status_subresource = true;
  v.push_back(svc);
  v.push_back(builtin("", "serviceaccounts", "serviceaccount", "ServiceAccount", true, {"sa"}));
  auto ev = builtin("", "events", "event", "Event", true, {"ev"});
  ev.field_labels = {"involvedObject.kind",
                     "involvedObject.namespace",
                     "involvedObject.name",
                     "involvedObject.uid",
                     "involvedObject.apiVersion",
                     "involvedObject.resourceVersion",
                     "involvedObject.fieldPath",
                     "reason",
                     "reportingComponent",
                     "source",
                     "type"};
  v.push_back(ev);
  auto pod = builtin("", "pods", "pod", "Pod", true, {"po"}, {"all"});
  pod.status_subresource = true;
  pod.field_labels = {"spec.nodeName",           "spec.restartPolicy", "spec.schedulerName",
                      "spec.serviceAccountName", "status.phase",       "status.podIP"};
  v.push_back(pod);
  auto deploy =
      builtin("apps", "deployments", "deployment", "Deployment", true, {"deploy"}, {"all"});
  deploy.status_subresource = true;
  deploy.tracks_generation = true;
  deploy.scale = ScaleSubresource{".spec.replicas", ".status.replicas", ".spec.selector"};
  v.push_back(deploy);
  // ReplicaSets exist so that clients which look behind a Deployment (helm --wait) find one;
  // the fake Deployment controller keeps one per Deployment template.
  auto rs = builtin("apps", "replicasets", "replicaset", "ReplicaSet", true, {"rs"}, {"all"});
  rs.status_subresource = true;
  rs.tracks_generation = true;
  rs.scale = ScaleSubresource{".spec.replicas", ".status.replicas", ".spec.selector"};
  v.push_back(rs);
  auto job = builtin("batch", "jobs", "job", "Job", true, {}, {"all"});
  job.status_subresource = true;
  job.tracks_generation = true;
  job.field_labels = {"status.successful"};
  v.push_back(job);
  v.push_back(builtin("coordination.k8s.io", "leases", "lease", "Lease", true));
  // RBAC objects are stored and served; nothing is authorized by them.
  const std::string rbac = "rbac.authorization.k8s.io";
  v.push_back(builtin(rbac, "roles", "role", "Role", true));
  v.push_back(builtin(rbac, "rolebindings", "rolebinding", "RoleBinding", true));
  v.push_back(builtin(rbac, "clusterroles", "clusterrole", "ClusterRole", false));
  v.push_back(
      builtin(rbac, "clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding", false));
  auto crd =
      builtin("apiextensions.k8s.io", "customresourcedefinitions", "customresourcedefinition",
              "CustomResourceDefinition", false, {"crd", "crds"}, {"api-extensions"});
  crd.status_subresource = true;
  crd.tracks_generation = true;
  v.push_back(crd);
  return v;
}

std::vector<std::string> strings(const nlohmann::json& v) {
  std::vector<std::string> out;
  if (!v.is_array()) return out;
  for (const auto& s : v) {
    if (s.is_string()) out.push_back(s.get<std::string>());
  }
  return out;
}

}  // namespace

ResourceRegistry::ResourceRegistry() {
  reset();
}

void ResourceRegistry::reset() {
  types_ = builtins();
  owners_.assign(types_.size(), "");
  ++generation_;
}

const ResourceType* ResourceRegistry::find(const std::string& group, const std::string& version,
                                           const std::string& resource) const {
  for (const auto& t : types_) {
    if (t.group == group && t.version == version && t.resource == resource) return &t;
  }
  return nullptr;
}

Result<std::vector<ResourceType>> ResourceRegistry::types_from_crd(const nlohmann::json& crd) {
  const std::string name = crd["metadata"].value("name", "");
  const std::string crd_group = "apiextensions.k8s.io";
  const std::string crd_kind = "CustomResourceDefinition";
  const auto& spec = crd.value("spec", nlohmann::json::object());
  const auto& names = spec.value("names", nlohmann::json::object());
  const std::string group = spec.value("group", "");
  const std::string plural = names.value("plural", "");
  const std::string kind = names.value("kind", "");
  if (group.empty())
    return invalid(crd_group, crd_kind, name, "spec.group", "FieldValueRequired", "Required value");
  if (plural.empty())
    return invalid(crd_group, crd_kind, name, "spec.names.plural", "FieldValueRequired",
                   "Required value");
  if (kind.empty())
    return invalid(crd_group, crd_kind, name, "spec.names.kind", "FieldValueRequired",
                   "Required value");
  if (name != plural + "." + group) {
    return invalid(crd_group, crd_kind, name, "metadata.name", "FieldValueInvalid",
                   "Invalid value: \"" + name + "\": must be spec.names.plural+\".\"+spec.group");
  }
  const std::string scope = spec.value("scope", "");
  if (scope != "Namespaced" && scope != "Cluster") {
    return invalid(
        crd_group, crd_kind, name, "spec.scope", "FieldValueNotSupported",
        "Unsupported value: \"" + scope + "\": supported values: \"Cluster\", \"Namespaced\"");
  }
  const auto versions = spec.value("versions", nlohmann::json::array());
  if (versions.empty())
    return invalid(crd_group, crd_kind, name, "spec.versions", "FieldValueRequired",
                   "Required value");
  std::vector<ResourceType> out;
  for (const auto& ver : versions) {
    if (!ver.value("served", false)) continue;
    ResourceType t;
    t.group = group;
    t.version = ver.value("name", "");
    t.resource = plural;
    t.singular = names.value("singular", "");
    if (t.singular.empty()) {
      t.singular = kind;
      for (auto& c : t.singular)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    t.kind = kind;
    t.namespaced = scope == "Namespaced";
    t.custom = true;
    t.tracks_generation = true;
    t.short_names = strings(names.value("shortNames", nlohmann::json::array()));
    t.categories = strings(names.value("categories", nlohmann::json::array()));
    const auto& sub = ver.value("subresources", nlohmann::json::object());
    t.status_subresource = sub.contains("status");
    if (sub.contains("scale")) {
      const auto& sc = sub["scale"];
      t.scale =
          ScaleSubresource{sc.value("specReplicasPath", ""), sc.value("statusReplicasPath", ""),
                           sc.value("labelSelectorPath", "")};
    }
    for (const auto& c : ver.value("additionalPrinterColumns", nlohmann::json::array())) {
      t.columns.push_back(PrinterColumn{c.value("name", ""), c.value("type", "string"),
                                        c.value("format", ""), c.value("description", ""),
                                        c.value("jsonPath", ""), c.value("priority", 0)});
    }
    const auto& schema = ver.value("schema", nlohmann::json::object());
    if (schema.is_object() && schema.contains("openAPIV3Schema"))
      t.schema = compile_schema(schema["openAPIV3Schema"]);
    for (const auto& f : ver.value("selectableFields", nlohmann::json::array())) {
      auto path = f.value("jsonPath", "");
      if (!path.empty() && path[0] == '.') path = path.substr(1);
      t.field_labels.push_back(path);
    }
    out.push_back(std::move(t));
  }
  return out;
}

void ResourceRegistry::install_crd(const std::string& crd_name, std::vector<ResourceType> types) {
  remove_crd(crd_name);
  for (auto& t : types) {
    types_.push_back(std::move(t));
    owners_.push_back(crd_name);
  }
  ++generation_;
}

void ResourceRegistry::remove_crd(const std::string& crd_name) {
  for (std::size_t i = types_.size(); i-- > 0;) {
    if (owners_[i] == crd_name) {
      types_.erase(types_.begin() + static_cast<std::ptrdiff_t>(i));
      owners_.erase(owners_.begin() + static_cast<std::ptrdiff_t>(i));
    }
  }
  ++generation_;
}

}  // namespace kubefn::emulator
