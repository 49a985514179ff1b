#include "structural_schema.hpp"

#include <algorithm>
#include <set>

#include "field_errors.hpp"

namespace kubefn::emulator {
namespace {

using nlohmann::json;

bool is_object_meta_key(const std::string& key) {
  return key == "apiVersion" || key == "kind" || key == "metadata";
}

// Field paths the way the API server's pruning spells them: "spec.ports[0].name".
class PathBuilder {
 public:
  std::size_t mark() const { return path_.size(); }
  void reset(std::size_t m) { path_.resize(m); }
  void key(const std::string& k) {
    if (!path_.empty()) path_ += '.';
    path_ += k;
  }
  void index(std::size_t i) { path_ += "[" + std::to_string(i) + "]"; }
  std::string with_key(const std::string& k) const { return path_.empty() ? k : path_ + "." + k; }
  const std::string& str() const { return path_; }

 private:
  std::string path_;
};

// metav1.ObjectMeta's fields; anything else in metadata is dropped by the typed round trip.
const std::set<std::string>& object_meta_fields() {
  static const std::set<std::string> kFields = {"name",
                                                "generateName",
                                                "namespace",
                                                "selfLink",
                                                "uid",
                                                "resourceVersion",
                                                "generation",
                                                "creationTimestamp",
                                                "deletionTimestamp",
                                                "deletionGracePeriodSeconds",
                                                "labels",
                                                "annotations",
                                                "ownerReferences",
                                                "finalizers",
                                                "managedFields"};
  return kFields;
}

const std::set<std::string>& owner_reference_fields() {
  static const std::set<std::string> kFields = {"apiVersion", "kind",       "name",
                                                "uid",        "controller", "blockOwnerDeletion"};
  return kFields;
}

const std::set<std::string>& managed_fields_entry_fields() {
  static const std::set<std::string> kFields = {"manager",    "operation", "apiVersion", "time",
                                                "fieldsType", "fieldsV1",  "subresource"};
  return kFields;
}

void drop_unknown(json& obj, const std::set<std::string>& known, const std::string& prefix,
                  std::vector<std::string>& unknown) {
  std::vector<std::string> drop;
  for (const auto& [k, v] : obj.items()) {
    if (known.count(k) == 0) drop.push_back(k);
  }
  for (const auto& k : drop) {
    unknown.push_back(prefix + "." + k);
    obj.erase(k);
  }
}

// Unknown fields of an ObjectMeta, in the order a strict decoder meets them (sorted keys,
// depth first), as "<prefix>.<field>".
void coerce_object_meta(json& meta, const std::string& prefix, std::vector<std::string>& unknown) {
  if (!meta.is_object()) return;
  std::vector<std::string> drop;
  for (auto& [k, v] : meta.items()) {
    if (object_meta_fields().count(k) == 0) {
      unknown.push_back(prefix + "." + k);
      drop.push_back(k);
      continue;
    }
    const bool owners = k == "ownerReferences";
    if ((owners || k == "managedFields") && v.is_array()) {
      for (std::size_t i = 0; i < v.size(); ++i) {
        if (!v[i].is_object()) continue;
        drop_unknown(v[i], owners ? owner_reference_fields() : managed_fields_entry_fields(),
                     prefix + "." + k + "[" + std::to_string(i) + "]", unknown);
      }
    }
  }
  for (const auto& k : drop)
    meta.erase(k);
}

class Pruner {
 public:
  explicit Pruner(std::vector<std::string>* unknown) : unknown_(unknown) {}

  void prune(json& x, const SchemaNode* s, bool resource_root) {
    if (s != nullptr && s->preserve_unknown_fields) {
      skip_prune(x, s, resource_root);
      return;
    }
    const auto m = path_.mark();
    if (x.is_object()) {
      std::vector<std::string> drop;
      for (auto& [k, v] : x.items()) {
        if (s == nullptr) {
          drop.push_back(k);
          continue;
        }
        if ((resource_root || s->embedded_resource) && is_object_meta_key(k)) continue;
        const auto* prop = s->property(k);
        if (prop != nullptr || s->has_additional) {
          path_.key(k);
          prune(v, prop != nullptr ? prop : s->additional.get(), false);
          path_.reset(m);
        } else {
          drop.push_back(k);
        }
      }
      for (const auto& k : drop) {
        record(k);
        x.erase(k);
      }
    } else if (x.is_array()) {
      for (std::size_t i = 0; i < x.size(); ++i) {
        path_.index(i);
        prune(x[i], s != nullptr ? s->items.get() : nullptr, false);
        path_.reset(m);
      }
    }
  }

 private:
  void skip_prune(json& x, const SchemaNode* s, bool resource_root) {
    if (s == nullptr) return;
    const auto m = path_.mark();
    if (x.is_object()) {
      for (auto& [k, v] : x.items()) {
        if ((resource_root || s->embedded_resource) && is_object_meta_key(k)) continue;
        const auto* prop = s->property(k);
        if (prop != nullptr || s->has_additional) {
          path_.key(k);
          prune(v, prop != nullptr ? prop : s->additional.get(), false);
          path_.reset(m);
        }
      }
    } else if (x.is_array()) {
      for (std::size_t i = 0; i < x.size(); ++i) {
        path_.index(i);
        skip_prune(x[i], s->items.get(), false);
        path_.reset(m);
      }
    }
  }

  void record(const std::string& k) {
    if (unknown_ != nullptr) unknown_->push_back(path_.with_key(k));
  }

  std::vector<std::string>* unknown_;
  PathBuilder path_;
};

bool non_nullable_null(const json& x, const SchemaNode* s) {
  return x.is_null() && s != nullptr && !s->nullable;
}

// Drops nulls the schema neither allows nor can default.
void prune_nulls(json& x, const SchemaNode* s) {
  if (x.is_object()) {
    std::vector<std::string> drop;
    for (auto& [k, v] : x.items()) {
      const auto* field = s != nullptr ? s->field(k) : nullptr;
      if (non_nullable_null(v, field) && !field->default_value) {
        drop.push_back(k);
      } else {
        prune_nulls(v, field);
      }
    }
    for (const auto& k : drop)
      x.erase(k);
  } else if (x.is_array()) {
    for (auto& item : x)
      prune_nulls(item, s != nullptr ? s->items.get() : nullptr);
  }
}

// Embedded resources (x-kubernetes-embedded-resource below the root): unknown metadata fields
// are dropped; an apiVersion or kind that is not a string fails decoding (the error's text).
std::string coerce_embedded(json& x, const SchemaNode* s, PathBuilder& path,
                            std::vector<std::string>& unknown) {
  if (s == nullptr) return "";
  const auto m = path.mark();
  if (x.is_object()) {
    for (auto& [k, v] : x.items()) {
      if (s->embedded_resource && (k == "apiVersion" || k == "kind") && !v.is_string()) {
        const auto e = field_invalid(path.with_key(k), v, "must be a string");
        return e.field + ": " + e.body;
      }
      if (s->embedded_resource && k == "metadata" && v.is_object()) {
        coerce_object_meta(v, path.with_key("metadata"), unknown);
        if (v.contains("creationTimestamp") && v["creationTimestamp"].is_null())
          v.erase("creationTimestamp");
      }
      const auto* field = s->field(k);
      if (field == nullptr) continue;
      path.key(k);
      auto error = coerce_embedded(v, field, path, unknown);
      if (!error.empty()) return error;
      path.reset(m);
    }
  } else if (x.is_array()) {
    for (std::size_t i = 0; i < x.size(); ++i) {
      path.index(i);
      auto error = coerce_embedded(x[i], s->items.get(), path, unknown);
      if (!error.empty()) return error;
      path.reset(m);
    }
  }
  return "";
}

json pruned_default(const SchemaNode& s) {
  json value = *s.default_value;
  Pruner(nullptr).prune(value, &s, false);
  return value;
}

void apply_defaults(json& x, const SchemaNode* s) {
  if (s == nullptr) return;
  if (x.is_object()) {
    for (const auto& [k, prop] : s->properties) {
      if (!prop->default_value) continue;
      const auto it = x.find(k);
      if (it == x.end() || non_nullable_null(*it, prop.get())) x[k] = pruned_default(*prop);
    }
    for (auto& [k, v] : x.items()) {
      if (const auto* prop = s->property(k)) {
        apply_defaults(v, prop);
      } else if (s->has_additional) {
        const auto* add = s->additional.get();
        if (non_nullable_null(v, add) && add->default_value) v = pruned_default(*add);
        apply_defaults(v, add);
      }
    }
  } else if (x.is_array()) {
    const auto* items = s->items.get();
    for (auto& item : x) {
      if (non_nullable_null(item, items) && items->default_value) item = pruned_default(*items);
      apply_defaults(item, items);
    }
  }
}

}  // namespace

DecodedObject prune_and_default(json& object, const SchemaNode* schema) {
  DecodedObject out;
  if (schema == nullptr || !object.is_object()) return out;
  if (const auto m = object.find("metadata"); m != object.end())
    coerce_object_meta(*m, "metadata", out.unknown);
  std::vector<std::string> pruned;
  Pruner(&pruned).prune(object, schema, true);
  std::sort(pruned.begin(), pruned.end());
  out.unknown.insert(out.unknown.end(), pruned.begin(), pruned.end());
  prune_nulls(object, schema);
  std::vector<std::string> embedded;
  PathBuilder path;
  out.error = coerce_embedded(object, schema, path, embedded);
  if (!out.error.empty()) return out;
  std::sort(embedded.begin(), embedded.end());
  out.unknown.insert(out.unknown.end(), embedded.begin(), embedded.end());
  apply_defaults(object, schema);
  return out;
}

}  // namespace kubefn::emulator
