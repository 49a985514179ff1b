#pragma once

// A CRD version's openAPIV3Schema compiled once, when the CRD is installed, into the tree that
// pruning, defaulting and validation walk on every write of a custom resource: bounds parsed,
// patterns compiled, formats resolved the way apiextensions-apiserver resolves them.

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace kubefn::emulator {

struct SchemaNode {
  // kube-openapi's view. `types` is {"integer", "string"} for x-kubernetes-int-or-string.
  std::vector<std::string> types;
  bool nullable = false;
  // The format as written, or "" when the API server strips it as unsupported (int32, int64,
  // float, double, anything not in its list) and so does not check it.
  std::string format;
  std::optional<double> maximum;
  std::optional<double> minimum;
  bool exclusive_maximum = false;
  bool exclusive_minimum = false;
  std::optional<double> multiple_of;
  std::optional<int64_t> max_length;
  std::optional<int64_t> min_length;
  std::optional<int64_t> max_items;
  std::optional<int64_t> min_items;
  std::optional<int64_t> max_properties;
  std::optional<int64_t> min_properties;
  bool unique_items = false;
  std::string pattern;
  // ECMAScript over code points; null when the RE2 pattern has no ECMAScript equivalent here
  // (the pattern is then not checked).
  std::shared_ptr<const std::wregex> regex;
  std::vector<nlohmann::json> enum_values;
  std::vector<std::string> required;
  std::map<std::string, std::unique_ptr<SchemaNode>> properties;
  // additionalProperties: absent (has_additional false), a bool, or a schema.
  bool has_additional = false;
  bool additional_allows = true;
  std::unique_ptr<SchemaNode> additional;
  std::unique_ptr<SchemaNode> items;
  std::vector<SchemaNode> all_of;
  std::vector<SchemaNode> any_of;
  std::vector<SchemaNode> one_of;
  std::unique_ptr<SchemaNode> not_schema;
  std::optional<nlohmann::json> default_value;
  // Structural extensions.
  bool preserve_unknown_fields = false;
  bool embedded_resource = false;
  bool int_or_string = false;
  std::string list_type;  // "", "atomic", "set", "map"
  std::vector<std::string> list_map_keys;

  const SchemaNode* property(const std::string& name) const {
    const auto it = properties.find(name);
    return it == properties.end() ? nullptr : it->second.get();
  }
  // The schema of a field: its property, else the additionalProperties schema.
  const SchemaNode* field(const std::string& name) const {
    const auto* p = property(name);
    return p != nullptr ? p : additional.get();
  }
};

// Null when `openapi_v3_schema` is not an object (no schema: nothing is pruned or validated).
std::shared_ptr<const SchemaNode> compile_schema(const nlohmann::json& openapi_v3_schema);

}  // namespace kubefn::emulator
