#pragma once

#include <string>

namespace kubefn::kube {

// Names a kind of resource the way the REST paths do: group "" is the core group.
struct GroupVersionResource {
  std::string group;
  std::string version;
  std::string resource;  // plural, lower case: "deployments"
  bool namespaced = true;

  // "/api/v1" or "/apis/{group}/{version}".
  std::string api_prefix() const;
  // Path of the collection; an empty namespace on a namespaced resource means all namespaces.
  std::string collection_path(const std::string& ns) const;
  // "deployments.apps" style name used in messages.
  std::string qualified_name() const;
};

// One object of a resource.
struct ObjectRef {
  GroupVersionResource resource;
  std::string ns;  // empty for cluster-scoped objects
  std::string name;

  std::string path() const;
  std::string key() const { return ns.empty() ? name : ns + "/" + name; }
};

// Well-known resources kubefn touches.
namespace resources {
GroupVersionResource config_maps();
GroupVersionResource namespaces();
GroupVersionResource deployments();
GroupVersionResource leases();
GroupVersionResource services();
GroupVersionResource jobs();
GroupVersionResource pods();
GroupVersionResource secrets();
GroupVersionResource events();
}  // namespace resources

}  // namespace kubefn::kube
