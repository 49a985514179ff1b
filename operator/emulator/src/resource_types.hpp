#pragma once

// The kinds the emulator serves: a fixed set of built-ins plus one entry per served version of
// each registered CustomResourceDefinition.

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api_error.hpp"
#include "compiled_schema.hpp"

namespace kubefn::emulator {

struct PrinterColumn {
  std::string name;
  std::string type;
  std::string format;
  std::string description;
  std::string json_path;
  int priority = 0;
};

struct ScaleSubresource {
  std::string spec_replicas_path;    // ".spec.replicas"
  std::string status_replicas_path;  // ".status.replicas"
  std::string label_selector_path;   // ".status.selector"; may point at a metav1.LabelSelector
};

struct ResourceType {
  std::string group;  // "" for the core group
  std::string version;
  std::string resource;  // plural
  std::string singular;
  std::string kind;
  bool namespaced = true;
  bool custom = false;  // served from a CRD: no strategic merge patch, no unconditional PUT
  bool status_subresource = false;
  bool tracks_generation = false;  // metadata.generation counts spec changes
  std::optional<ScaleSubresource> scale;
  std::vector<std::string> short_names;
  std::vector<std::string> categories;
  std::vector<PrinterColumn> columns;     // custom kinds only; built-ins are rendered in table.cpp
  std::vector<std::string> field_labels;  // field selectors besides metadata.name/namespace
  // Custom kinds: the version's openAPIV3Schema, compiled once when the CRD is installed (null:
  // no schema). Shared, so that copies of the type stay cheap.
  std::shared_ptr<const SchemaNode> schema;

  std::string api_version() const { return group.empty() ? version : group + "/" + version; }
  // "functions.example.dev", "deployments.apps", "configmaps": the storage key and error name.
  std::string group_resource() const { return group.empty() ? resource : resource + "." + group; }
  std::string list_kind() const { return kind + "List"; }
};

class ResourceRegistry {
 public:
  ResourceRegistry();

  const ResourceType* find(const std::string& group, const std::string& version,
                           const std::string& resource) const;
  const std::vector<ResourceType>& all() const { return types_; }
  // Changes whenever the served set changes (OpenAPI hashes and discovery depend on it).
  uint64_t generation() const { return generation_; }

  // Parses a CRD object into the types it serves; 422 when the spec is unusable.
  static Result<std::vector<ResourceType>> types_from_crd(const nlohmann::json& crd);
  // Replaces whatever the CRD named `crd_name` served before.
  void install_crd(const std::string& crd_name, std::vector<ResourceType> types);
  void remove_crd(const std::string& crd_name);
  void reset();

 private:
  std::vector<ResourceType> types_;
  std::vector<std::string> owners_;  // CRD name per entry of types_, "" for built-ins
  uint64_t generation_ = 1;
};

}  // namespace kubefn::emulator
