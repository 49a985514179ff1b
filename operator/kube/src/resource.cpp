#include "kubefn/kube/resource.hpp"

namespace kubefn::kube {

std::string GroupVersionResource::api_prefix() const {
  return group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
}

std::string GroupVersionResource::collection_path(const std::string& ns) const {
  if (namespaced && !ns.empty()) return api_prefix() + "/namespaces/" + ns + "/" + resource;
  return api_prefix() + "/" + resource;
}

std::string GroupVersionResource::qualified_name() const {
  return group.empty() ? resource : resource + "." + group;
}

std::string ObjectRef::path() const {
  return resource.collection_path(ns) + "/" + name;
}

namespace resources {
GroupVersionResource config_maps() {
  return {"", "v1", "configmaps", true};
}
GroupVersionResource namespaces() {
  return {"", "v1", "namespaces", false};
}
GroupVersionResource deployments() {
  return {"apps", "v1", "deployments", true};
}
GroupVersionResource leases() {
  return {"coordination.k8s.io", "v1", "leases", true};
}
GroupVersionResource services() {
  return {"", "v1", "services", true};
}
GroupVersionResource jobs() {
  return {"batch", "v1", "jobs", true};
}
GroupVersionResource pods() {
  return {"", "v1", "pods", true};
}
GroupVersionResource secrets() {
  return {"", "v1", "secrets", true};
}
GroupVersionResource events() {
  return {"", "v1", "events", true};
}
}  // namespace resources

}  // namespace kubefn::kube
