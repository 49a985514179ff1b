#include "structural_schema.hpp"

#include <string>
#include <vector>

namespace kubefn::emulator {
namespace {

using nlohmann::json;

bool is_object_meta_key(const std::string& key) {
  return key == "apiVersion" || key == "kind" || key == "metadata";
}

void apply(json& value, const json& schema, bool resource_root) {
  if (!schema.is_object()) return;
  if (value.is_array()) {
    if (schema.contains("items")) {
      for (auto& item : value)
        apply(item, schema["items"], false);
    }
    return;
  }
  if (!value.is_object()) return;
  // The root of a resource, and embedded resources, keep apiVersion, kind and metadata.
  const bool keeps_meta = resource_root || schema.value("x-kubernetes-embedded-resource", false);
  const bool preserve = schema.value("x-kubernetes-preserve-unknown-fields", false);
  const json properties = schema.value("properties", json::object());
  const json additional =
      schema.contains("additionalProperties") ? schema["additionalProperties"] : json();
  std::vector<std::string> unknown;
  for (auto& [key, child] : value.items()) {
    if (keeps_meta && is_object_meta_key(key)) continue;
    if (properties.contains(key)) {
      apply(child, properties[key], false);
    } else if (additional.is_object()) {
      apply(child, additional, false);
    } else if (!preserve && additional != true) {
      unknown.push_back(key);
    }
  }
  for (const auto& key : unknown)
    value.erase(key);
  for (const auto& [key, child_schema] : properties.items()) {
    if (value.contains(key) || !child_schema.is_object() || !child_schema.contains("default"))
      continue;
    value[key] = child_schema["default"];
    apply(value[key], child_schema, false);
  }
}

}  // namespace

void prune_and_default(json& object, const json& schema) {
  if (schema.is_object()) apply(object, schema, true);
}

}  // namespace kubefn::emulator
