#include "patches.hpp"

#include <algorithm>
#include <optional>

namespace kubefn::emulator {
namespace {

using nlohmann::json;

constexpr std::string_view kSetElementOrder = "$setElementOrder/";
constexpr std::string_view kDeleteFromPrimitiveList = "$deleteFromPrimitiveList/";

bool starts_with(const std::string& s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

// The patchMergeKey of the list fields kubectl patches; a list not named here is replaced.
std::optional<std::string> merge_key(const std::string& field, const json& sample) {
  if (field == "containers" || field == "initContainers" || field == "ephemeralContainers" ||
      field == "volumes" || field == "env" || field == "imagePullSecrets") {
    return "name";
  }
  if (field == "volumeMounts") return "mountPath";
  if (field == "volumeDevices") return "devicePath";
  if (field == "hostAliases") return "ip";
  if (field == "conditions") return "type";
  if (field == "ownerReferences") return "uid";
  if (field == "ports") {
    return sample.is_object() && sample.contains("containerPort") ? "containerPort" : "port";
  }
  return std::nullopt;
}

bool primitive_merge_list(const std::string& field) {
  return field == "finalizers";
}

json strip_directives(const json& v) {
  if (v.is_object()) {
    json out = json::object();
    for (auto& [k, x] : v.items()) {
      if (starts_with(k, "$")) continue;
      out[k] = strip_directives(x);
    }
    return out;
  }
  if (v.is_array()) {
    json out = json::array();
    for (auto& x : v)
      out.push_back(strip_directives(x));
    return out;
  }
  return v;
}

json smp_value(json target, const json& patch, bool& deleted);

json merge_object_list(json base, const json& patch, const std::string& key, const json* order) {
  if (!base.is_array()) base = json::array();
  for (const auto& item : patch) {
    if (!item.is_object() || !item.contains(key)) {
      if (item.is_object() && item.value("$patch", "") == "replace") {
        json rest = json::array();
        for (const auto& x : patch) {
          if (!(x.is_object() && x.contains("$patch"))) rest.push_back(strip_directives(x));
        }
        return rest;
      }
      base.push_back(strip_directives(item));
      continue;
    }
    auto it = std::find_if(base.begin(), base.end(), [&](const json& b) {
      return b.is_object() && b.contains(key) && b[key] == item[key];
    });
    if (item.value("$patch", "") == "delete") {
      if (it != base.end()) base.erase(it);
      continue;
    }
    if (it == base.end()) {
      base.push_back(strip_directives(item));
    } else {
      bool deleted = false;
      *it = smp_value(*it, item, deleted);
    }
  }
  if (order != nullptr && order->is_array()) {
    auto rank = [&](const json& e) -> std::size_t {
      for (std::size_t i = 0; i < order->size(); ++i) {
        const auto& o = (*order)[i];
        if (o.is_object() && e.is_object() && o.contains(key) && e.contains(key) &&
            o[key] == e[key]) {
          return i;
        }
      }
      return order->size();
    };
    std::stable_sort(base.begin(), base.end(),
                     [&](const json& a, const json& b) { return rank(a) < rank(b); });
  }
  return base;
}

json smp_value(json target, const json& patch, bool& deleted) {
  if (!patch.is_object()) return patch;
  const std::string directive = patch.value("$patch", "");
  if (directive == "delete") {
    deleted = true;
    return nullptr;
  }
  if (directive == "replace") return strip_directives(patch);
  if (!target.is_object()) target = json::object();
  for (auto& [k, v] : patch.items()) {
    if (starts_with(k, kDeleteFromPrimitiveList)) {
      const auto field = k.substr(kDeleteFromPrimitiveList.size());
      if (target.contains(field) && target[field].is_array() && v.is_array()) {
        json kept = json::array();
        for (const auto& x : target[field]) {
          if (std::find(v.begin(), v.end(), x) == v.end()) kept.push_back(x);
        }
        target[field] = kept;
      }
      continue;
    }
    if (starts_with(k, "$")) continue;
    if (v.is_null()) {
      target.erase(k);
    } else if (v.is_object()) {
      bool child_deleted = false;
      json merged = smp_value(target.contains(k) ? target[k] : json::object(), v, child_deleted);
      if (child_deleted) {
        target.erase(k);
      } else {
        target[k] = merged;
      }
    } else if (v.is_array()) {
      const json sample = v.empty() ? json() : v[0];
      const auto key = merge_key(k, sample);
      const std::string order_key = std::string(kSetElementOrder) + k;
      const json* order = patch.contains(order_key) ? &patch[order_key] : nullptr;
      if (key.has_value() && (v.empty() || v[0].is_object())) {
        target[k] =
            merge_object_list(target.contains(k) ? target[k] : json::array(), v, *key, order);
      } else if (primitive_merge_list(k) && target.contains(k) && target[k].is_array()) {
        for (const auto& x : v) {
          if (std::find(target[k].begin(), target[k].end(), x) == target[k].end()) {
            target[k].push_back(x);
          }
        }
      } else {
        target[k] = strip_directives(v);
      }
    } else {
      target[k] = v;
    }
  }
  if (patch.contains("$retainKeys") && patch["$retainKeys"].is_array()) {
    const auto& keep = patch["$retainKeys"];
    json kept = json::object();
    for (auto& [k, v] : target.items()) {
      if (std::find(keep.begin(), keep.end(), k) != keep.end()) kept[k] = v;
    }
    target = kept;
  }
  return target;
}

}  // namespace

json merge_patch(json target, const json& patch) {
  target.merge_patch(patch);
  return target;
}

Result<json> json_patch(const json& target, const json& ops) {
  if (!ops.is_array()) return bad_request("json patch must be an array of operations");
  try {
    return target.patch(ops);
  } catch (const json::exception&) {
    // The real server wraps the patch library's error in a generic 422 that drops its text.
    return ApiError{422, "Invalid",
                    "the server rejected our request due to an error in our request",
                    json::object()};
  }
}

Result<json> strategic_merge_patch(json target, const json& patch) {
  if (!patch.is_object()) return bad_request("strategic merge patch must be a JSON object");
  bool deleted = false;
  json out = smp_value(std::move(target), patch, deleted);
  if (deleted) return bad_request("a strategic merge patch cannot delete the whole object");
  return out;
}

}  // namespace kubefn::emulator
