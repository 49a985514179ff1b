#include "apply_typed_check.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "go_format.hpp"

namespace kubefn::emulator {
namespace {

using nlohmann::json;

// metav1.ObjectMeta as the applied configuration's metadata must type-check against it.
const SchemaNode& object_meta_schema() {
  static const auto kSchema = compile_schema(json::parse(R"({
    "type": "object",
    "properties": {
      "name": {"type": "string"}, "generateName": {"type": "string"},
      "namespace": {"type": "string"}, "selfLink": {"type": "string"},
      "uid": {"type": "string"}, "resourceVersion": {"type": "string"},
      "generation": {"type": "integer"}, "creationTimestamp": {"type": "string"},
      "deletionTimestamp": {"type": "string"}, "deletionGracePeriodSeconds": {"type": "integer"},
      "labels": {"type": "object", "additionalProperties": {"type": "string"}},
      "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
      "finalizers": {"type": "array", "items": {"type": "string"}},
      "ownerReferences": {"type": "array", "items": {"type": "object", "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "name": {"type": "string"},
        "uid": {"type": "string"}, "controller": {"type": "boolean"},
        "blockOwnerDeletion": {"type": "boolean"}}}},
      "managedFields": {"type": "array", "items": {"type": "object", "properties": {
        "manager": {"type": "string"}, "operation": {"type": "string"},
        "apiVersion": {"type": "string"}, "time": {"type": "string"},
        "fieldsType": {"type": "string"}, "subresource": {"type": "string"},
        "fieldsV1": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}}})"));
  return *kSchema;
}

const SchemaNode& string_schema() {
  static const auto kSchema = compile_schema(json{{"type", "string"}});
  return *kSchema;
}

// %#v of structured-merge-diff's wrapper around an unstructured value.
std::string go_sharp_v(const json& v) {
  if (v.is_null()) return "interface {}(nil)";
  if (v.is_string()) return go_quote(v.get<std::string>());
  if (v.is_array()) {
    std::string out = "[]interface {}{";
    for (std::size_t i = 0; i < v.size(); ++i)
      out += (i > 0 ? ", " : "") + go_sharp_v(v[i]);
    return out + "}";
  }
  if (v.is_object()) {
    std::string out = "map[string]interface {}{";
    bool first = true;
    for (const auto& [k, x] : v.items()) {
      out += (first ? "" : ", ") + go_quote(k) + ":" + go_sharp_v(x);
      first = false;
    }
    return out + "}";
  }
  return go_field_value(v);
}

std::string go_type(const json& v) {
  if (v.is_string()) return "string";
  if (v.is_boolean()) return "bool";
  if (v.is_array()) return "[]interface {}";
  if (v.is_object()) return "map[string]interface {}";
  if (v.is_number()) return is_go_int(v) ? "int64" : "float64";
  return "<nil>";
}

struct TypedError {
  std::string path;
  std::string message;
};

bool has_type(const SchemaNode& s, const char* t) {
  for (const auto& x : s.types) {
    if (x == t) return true;
  }
  return false;
}

class Checker {
 public:
  std::vector<TypedError> errors;

  void check(const json& v, const SchemaNode* s, const std::string& path, bool root) {
    if (s == nullptr || v.is_null()) return;
    if (s->int_or_string) return;  // untyped: any value

    if (has_type(*s, "string")) {
      if (!v.is_string())
        add(path, "expected string, got &value.valueUnstructured{Value:" + go_sharp_v(v) + "}");
      return;
    }
    if (has_type(*s, "integer") || has_type(*s, "number")) {
      if (!v.is_number()) add(path, "expected numeric (int or float), got " + go_type(v));
      return;
    }
    if (has_type(*s, "boolean")) {
      if (!v.is_boolean()) add(path, "expected boolean, got &{" + go_v(v) + "}");
      return;
    }
    if (has_type(*s, "array")) {
      if (!v.is_array()) {
        add(path, "expected list, got &{" + go_v(v) + "}");
        return;
      }
      check_list(v, *s, path);
      return;
    }
    const bool map_like = has_type(*s, "object") || !s->properties.empty() || s->has_additional;
    if (!map_like) return;  // untyped: deduced from the value
    if (!v.is_object()) {
      add(path, "expected map, got &{" + go_v(v) + "}");
      return;
    }
    // Fields past the schema: allowed into x-kubernetes-preserve-unknown-fields and maps.
    const bool open = s->preserve_unknown_fields || (s->has_additional && s->additional_allows);
    for (const auto& [k, x] : v.items()) {
      const std::string p = path + "." + k;
      const bool resource = root || s->embedded_resource;
      if (resource && (k == "apiVersion" || k == "kind")) {
        check(x, &string_schema(), p, false);
        continue;
      }
      if (resource && k == "metadata") {
        check(x, &object_meta_schema(), p, false);
        continue;
      }
      if (const auto* prop = s->property(k)) {
        check(x, prop, p, false);
      } else if (s->additional) {
        check(x, s->additional.get(), p, false);
      } else if (!open) {
        add(p, "field not declared in schema");
        return;  // the map's walk stops at its first unknown field
      }
    }
  }

 private:
  // A list's elements; list-type map elements are identified by their keys and set elements by
  // their value, and neither may repeat.
  void check_list(const json& v, const SchemaNode& s, const std::string& path) {
    std::vector<std::string> seen;
    for (std::size_t i = 0; i < v.size(); ++i) {
      const std::string element = path + "[" + std::to_string(i) + "]";
      std::string key;
      if (s.list_type == "map" && !s.list_map_keys.empty() && v[i].is_object()) {
        bool any = false;
        for (const auto& k : s.list_map_keys) {
          const auto it = v[i].find(k);
          if (it == v[i].end()) continue;
          any = true;
          key += (key.empty() ? "" : ",") + k + "=" + scalar_text(*it);
        }
        if (!any) {
          std::string keys;
          for (std::size_t j = 0; j < s.list_map_keys.size(); ++j)
            keys += (j > 0 ? " " : "") + go_quote(s.list_map_keys[j]);
          add(path, "element " + std::to_string(i) +
                        ": associative list with keys has an element that omits all key fields [" +
                        keys + "] (and doesn't have default values for any key fields)");
          continue;
        }
        key = "[" + key + "]";
      } else if (s.list_type == "set" && v[i].is_primitive()) {
        key = "[=" + scalar_text(v[i]) + "]";
      }
      if (!key.empty()) {
        if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
          add(path, "duplicate entries for key " + key);
        } else {
          seen.push_back(key);
        }
      }
      check(v[i], s.items.get(), element, false);
    }
  }

  static std::string scalar_text(const json& v) {
    if (v.is_string()) return go_quote(v.get<std::string>());
    return go_field_value(v);
  }

  void add(const std::string& path, std::string message) {
    errors.push_back({path, std::move(message)});
  }
};

}  // namespace

std::optional<ApiError> apply_typed_check(const json& config, const SchemaNode* schema) {
  if (schema == nullptr || !config.is_object()) return std::nullopt;
  Checker checker;
  checker.check(config, schema, "", true);
  if (checker.errors.empty()) return std::nullopt;
  std::string detail;
  if (checker.errors.size() == 1) {
    detail = checker.errors[0].path + ": " + checker.errors[0].message;
  } else {
    detail = "errors:";
    for (const auto& e : checker.errors)
      detail += "\n  " + e.path + ": " + e.message;
  }
  const auto meta = config.find("metadata");
  const auto text = [&](const char* field) {
    if (meta == config.end() || !meta->is_object()) return std::string("<unknown>");
    const auto it = meta->find(field);
    return it != meta->end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  const auto string_at = [&](const char* field) {
    const auto it = config.find(field);
    return it != config.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  const std::string api_version = string_at("apiVersion");
  const auto slash = api_version.find('/');
  const std::string group = slash == std::string::npos ? "" : api_version.substr(0, slash);
  const std::string version =
      slash == std::string::npos ? api_version : api_version.substr(slash + 1);
  const std::string gvk = group + "/" + version + ", Kind=" + string_at("kind");
  return ApiError{500, "",
                  "failed to create typed patch object (" + text("namespace") + "/" + text("name") +
                      "; " + gvk + "): " + detail};
}

}  // namespace kubefn::emulator
