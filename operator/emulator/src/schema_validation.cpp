#include "schema_validation.hpp"

#include <climits>
#include <map>

#include "field_errors.hpp"
#include "go_format.hpp"
#include "openapi_validator.hpp"

namespace kubefn::emulator {
namespace {

using nlohmann::json;

// field.Path's rendering: Child "a.b", Key "a[k]", Index "a[0]"; "" is the nil path.
std::string child(const std::string& p, const std::string& k) {
  return p.empty() ? k : p + "." + k;
}
std::string keyed(const std::string& p, const std::string& k) {
  return p + "[" + k + "]";
}
std::string indexed(const std::string& p, std::size_t i) {
  return p + "[" + std::to_string(i) + "]";
}

void append(std::vector<FieldError>& to, std::vector<FieldError> more) {
  to.insert(to.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
}

// %T of a decoded value, for unstructured's accessor errors.
std::string go_type(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "<nil>";
    case json::value_t::boolean:
      return "bool";
    case json::value_t::string:
      return "string";
    case json::value_t::array:
      return "[]interface {}";
    case json::value_t::object:
      return "map[string]interface {}";
    default:
      return is_go_int(v) ? "int64" : "float64";
  }
}

struct Nested {
  const json* value = nullptr;  // null: not found
  std::string error;
};

// unstructured.NestedFieldNoCopy with a scale path such as ".spec.replicas".
Nested nested_field(const json& obj, const std::string& dotted_path) {
  std::vector<std::string> fields;
  std::string path = dotted_path.rfind('.', 0) == 0 ? dotted_path.substr(1) : dotted_path;
  std::size_t start = 0;
  while (true) {
    const auto dot = path.find('.', start);
    fields.push_back(
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  const json* val = &obj;
  std::string json_path;
  for (const auto& f : fields) {
    json_path += "." + f;
    if (val->is_null()) return {};
    if (!val->is_object()) {
      return {nullptr, json_path + " accessor error: " + go_v(*val) + " is of the type " +
                           go_type(*val) + ", expected map[string]interface{}"};
    }
    const auto it = val->find(f);
    if (it == val->end()) return {};
    val = &*it;
  }
  return {val, ""};
}

std::string accessor_error(const std::string& path, const json& v, const char* expected) {
  std::string p = path.rfind('.', 0) == 0 ? path : "." + path;
  return p + " accessor error: " + go_v(v) + " is of the type " + go_type(v) + ", expected " +
         expected;
}

// customResourceValidator.ValidateScaleSpec / the replicas half of ValidateScaleStatus.
void check_replicas(const json& obj, const std::string& path, std::vector<FieldError>& errs) {
  if (path.empty()) return;
  const auto n = nested_field(obj, path);
  if (!n.error.empty()) {
    errs.push_back(field_invalid(path, 0, n.error));
    return;
  }
  if (n.value == nullptr) return;
  if (!n.value->is_number() || !is_go_int(*n.value)) {
    errs.push_back(field_invalid(path, 0, accessor_error(path, *n.value, "int64")));
    return;
  }
  const int64_t replicas = go_int(*n.value);
  if (replicas < 0) {
    errs.push_back(field_invalid(path, replicas, "should be a non-negative integer"));
  } else if (replicas > INT32_MAX) {
    errs.push_back(field_invalid(path, replicas, "should be less than or equal to 2147483647"));
  }
}

void check_scale_status(const ResourceType& type, const json& obj, std::vector<FieldError>& errs) {
  check_replicas(obj, type.scale->status_replicas_path, errs);
  const auto& selector = type.scale->label_selector_path;
  if (selector.empty()) return;
  const auto n = nested_field(obj, selector);
  if (!n.error.empty()) {
    errs.push_back(field_invalid(selector, "", n.error));
  } else if (n.value != nullptr && !n.value->is_string()) {
    errs.push_back(field_invalid(selector, "", accessor_error(selector, *n.value, "string")));
  }
}

// IsDNS1035Label.
std::vector<std::string> dns1035_label_problems(const std::string& value) {
  std::vector<std::string> errs;
  if (value.size() > 63) errs.push_back("must be no more than 63 characters");
  bool ok = !value.empty() && value.front() >= 'a' && value.front() <= 'z';
  for (char c : value)
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
  ok = ok && value.back() != '-';
  if (!ok) {
    errs.push_back(
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
        "an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
        "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')");
  }
  return errs;
}

void check_embedded_resource(const std::string& path, const json& x,
                             std::vector<FieldError>& errs) {
  if (!x.contains("apiVersion")) errs.push_back(field_required(child(path, "apiVersion")));
  if (!x.contains("kind")) errs.push_back(field_required(child(path, "kind")));
  for (const auto& [k, v] : x.items()) {
    if (k == "apiVersion") {
      const auto p = child(path, k);
      if (!v.is_string()) {
        errs.push_back(field_invalid(p, v, "must be a string"));
      } else if (v.get<std::string>().empty()) {
        errs.push_back(field_invalid(p, v, "must not be empty"));
      } else if (std::count(v.get<std::string>().begin(), v.get<std::string>().end(), '/') > 1) {
        errs.push_back(
            field_invalid(p, v, "unexpected GroupVersion string: " + v.get<std::string>()));
      }
    } else if (k == "kind") {
      const auto p = child(path, k);
      if (!v.is_string()) {
        errs.push_back(field_invalid(p, v, "must be a string"));
      } else if (v.get<std::string>().empty()) {
        errs.push_back(field_invalid(p, v, "must not be empty"));
      } else {
        std::string lower = v.get<std::string>();
        for (auto& c : lower)
          c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        const auto problems = dns1035_label_problems(lower);
        if (!problems.empty()) {
          std::string joined;
          for (std::size_t i = 0; i < problems.size(); ++i)
            joined += (i > 0 ? "," : "") + problems[i];
          errs.push_back(
              field_invalid(p, v, "may have mixed case, but should otherwise match: " + joined));
        }
      }
    }
  }
}

// schemaobjectmeta.Validate: apiVersion and kind of x-kubernetes-embedded-resource objects.
void check_embedded(const std::string& path, const json& x, const SchemaNode* s,
                    std::vector<FieldError>& errs) {
  if (s == nullptr) return;
  if (x.is_object()) {
    if (s->embedded_resource) check_embedded_resource(path, x, errs);
    for (const auto& [k, v] : x.items()) {
      if (const auto* prop = s->property(k)) {
        check_embedded(child(path, k), v, prop, errs);
      } else if (s->additional) {
        check_embedded(keyed(path, k), v, s->additional.get(), errs);
      }
    }
  } else if (x.is_array()) {
    for (std::size_t i = 0; i < x.size(); ++i)
      check_embedded(indexed(path, i), x[i], s->items.get(), errs);
  }
}

// A scalar's identity as Go compares interface values (an int64 never equals a float64), or a
// compound value's JSON.
std::string set_key(const json& x) {
  if (x.is_object() || x.is_array()) return "c" + go_json(x);
  if (x.is_null()) return "n";
  if (x.is_string()) return "s" + x.get<std::string>();
  if (x.is_boolean()) return x.get<bool>() ? "bt" : "bf";
  return (is_go_int(x) ? "i" : "f") + go_json(x);
}

// Indices of the second occurrence of each repeated key.
std::vector<std::size_t> non_unique(const std::vector<std::string>& keys) {
  std::map<std::string, int> seen;
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (++seen[keys[i]] == 2) out.push_back(i);
  }
  return out;
}

void check_lists(const std::string& path, const json& x, const SchemaNode& s,
                 std::vector<FieldError>& errs);

void check_list_map(const std::string& path, const json& arr, const SchemaNode& s,
                    std::vector<FieldError>& errs) {
  for (std::size_t i = 0; i < arr.size(); ++i) {
    if (!arr[i].is_null() && !arr[i].is_object()) {
      errs.push_back(field_invalid(indexed(path, i), arr[i],
                                   "must be an object for an array of list-type map"));
      return;
    }
  }
  if (arr.size() <= 1) return;
  std::vector<std::string> keys;
  std::vector<json> key_values;
  for (const auto& x : arr) {
    json key = json::object();
    bool specified = true;
    for (const auto& k : s.list_map_keys) {
      const auto it = x.is_object() ? x.find(k) : x.end();
      if (x.is_object() && it != x.end()) {
        key[k] = *it;
      } else {
        specified = false;
      }
    }
    if (s.list_map_keys.size() == 1) {
      keys.push_back(specified ? set_key(key.begin().value()) : "u");
      key_values.push_back(specified ? key : json::object());
    } else {
      keys.push_back(set_key(key));
      key_values.push_back(key);
    }
  }
  for (const auto i : non_unique(keys))
    errs.push_back(field_duplicate(indexed(path, i), key_values[i]));
}

void check_array(const std::string& path, const json& arr, const SchemaNode& s,
                 std::vector<FieldError>& errs) {
  if (s.list_type == "set") {
    std::vector<std::string> keys;
    for (const auto& x : arr)
      keys.push_back(set_key(x));
    for (const auto i : non_unique(keys))
      errs.push_back(field_duplicate(indexed(path, i), arr[i]));
  } else if (s.list_type == "map") {
    check_list_map(path, arr, s, errs);
  }
  if (s.items) {
    for (std::size_t i = 0; i < arr.size(); ++i) {
      if (arr[i].is_array()) {
        check_array(indexed(path, i), arr[i], *s.items, errs);
      } else if (arr[i].is_object()) {
        check_lists(indexed(path, i), arr[i], *s.items, errs);
      }
    }
  }
}

// structurallisttype.ValidateListSetsAndMaps.
void check_lists(const std::string& path, const json& x, const SchemaNode& s,
                 std::vector<FieldError>& errs) {
  if (!x.is_object()) return;
  const auto descend = [&](const std::string& p, const json& v, const SchemaNode& sub) {
    if (v.is_array()) {
      check_array(p, v, sub, errs);
    } else if (v.is_object()) {
      check_lists(p, v, sub, errs);
    }
  };
  if (s.additional) {
    for (const auto& [k, v] : x.items())
      descend(keyed(path, k), v, *s.additional);
  }
  if (!s.properties.empty()) {
    for (const auto& [k, v] : x.items()) {
      if (const auto* prop = s.property(k)) descend(child(path, k), v, *prop);
    }
  }
}

std::vector<FieldError> list_errors(const json& obj, const SchemaNode& s) {
  std::vector<FieldError> errs;
  check_lists("", obj, s, errs);
  return errs;
}

}  // namespace

std::vector<FieldError> validate_custom_resource(const ResourceType& type, const json& object,
                                                 const json* old) {
  std::vector<FieldError> errs;
  if (type.schema) append(errs, openapi_validate(*type.schema, object, old, ""));
  if (type.scale) {
    check_replicas(object, type.scale->spec_replicas_path, errs);
    check_scale_status(type, object, errs);
  }
  if (!type.schema) return errs;
  check_embedded("", object, type.schema.get(), errs);
  auto lists = list_errors(object, *type.schema);
  if (!lists.empty() && (old == nullptr || list_errors(*old, *type.schema).empty()))
    append(errs, std::move(lists));
  return errs;
}

std::vector<FieldError> validate_custom_resource_status(const ResourceType& type,
                                                        const json& object, const json& old) {
  std::vector<FieldError> errs;
  const auto* status_schema = type.schema ? type.schema->property("status") : nullptr;
  const auto status = object.find("status");
  if (status_schema != nullptr && status != object.end()) {
    const auto old_status = old.find("status");
    append(errs, openapi_validate(*status_schema, *status,
                                  old_status != old.end() ? &*old_status : nullptr, "status"));
  }
  if (type.scale) check_scale_status(type, object, errs);
  if (!type.schema) return errs;
  auto lists = list_errors(object, *type.schema);
  if (!lists.empty() && list_errors(old, *type.schema).empty()) append(errs, std::move(lists));
  return errs;
}

}  // namespace kubefn::emulator
