#include "server_side_apply.hpp"

#include <map>
#include <set>
#include <vector>

#include "go_format.hpp"

namespace kubefn::emulator {
namespace {

using nlohmann::json;
using Path = std::vector<std::string>;
using FieldSet = std::set<Path>;

bool ignored(const Path& p) {
  if (p.empty()) return true;
  if (p[0] == "apiVersion" || p[0] == "kind" || p[0] == "status") return true;
  if (p[0] == "metadata" && p.size() >= 2) {
    const auto& f = p[1];
    return f == "name" || f == "namespace" || f == "resourceVersion" || f == "managedFields" ||
           f == "uid" || f == "creationTimestamp" || f == "generation";
  }
  return false;
}

void collect(const json& v, Path& path, FieldSet& out) {
  if (v.is_object() && !v.empty()) {
    for (auto& [k, x] : v.items()) {
      path.push_back(k);
      collect(x, path, out);
      path.pop_back();
    }
    return;
  }
  if (!ignored(path)) out.insert(path);
}

json to_fields_v1(const FieldSet& fields) {
  json root = json::object();
  for (const auto& p : fields) {
    json* cur = &root;
    for (const auto& seg : p)
      cur = &(*cur)["f:" + seg];
    if (cur->is_null()) *cur = json::object();
  }
  return root;
}

void from_fields_v1(const json& node, Path& path, FieldSet& out) {
  if (!node.is_object() || node.empty()) {
    if (!path.empty()) out.insert(path);
    return;
  }
  bool leaf = false;
  for (auto& [k, v] : node.items()) {
    if (k.rfind("f:", 0) == 0) {
      path.push_back(k.substr(2));
      from_fields_v1(v, path, out);
      path.pop_back();
    } else {
      leaf = true;  // "k:", "v:" and "." entries: treat the list or map as one field
    }
  }
  if (leaf && !path.empty()) out.insert(path);
}

const json* value_at(const json& obj, const Path& p) {
  const json* cur = &obj;
  for (const auto& seg : p) {
    if (!cur->is_object() || !cur->contains(seg)) return nullptr;
    cur = &(*cur)[seg];
  }
  return cur;
}

void erase_at(json& obj, const Path& p) {
  json* cur = &obj;
  for (std::size_t i = 0; i + 1 < p.size(); ++i) {
    if (!cur->is_object() || !cur->contains(p[i])) return;
    cur = &(*cur)[p[i]];
  }
  if (cur->is_object()) cur->erase(p.back());
}

json apply_merge(json base, const json& config) {
  if (!config.is_object() || !base.is_object()) return config;
  for (auto& [k, v] : config.items()) {
    base[k] = base.contains(k) ? apply_merge(base[k], v) : v;
  }
  return base;
}

std::string dotted(const Path& p) {
  std::string s;
  for (const auto& seg : p)
    s += "." + seg;
  return s;
}

}  // namespace

Result<json> server_side_apply(const json& live, const json& config, const ApplyRequest& request) {
  if (!config.is_object()) return bad_request("apply patch must be an object");
  if (request.manager.empty()) {
    return bad_request(
        "PATCH, application/apply-patch+yaml requests must include a fieldManager query parameter");
  }
  FieldSet mine;
  Path scratch;
  collect(config, scratch, mine);

  json entries = json::array();
  if (!live.is_null()) entries = live["metadata"].value("managedFields", json::array());

  std::vector<FieldSet> owned(entries.size());
  FieldSet my_old;
  json causes = json::array();
  std::map<std::string, std::vector<std::string>> by_manager;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    Path p;
    from_fields_v1(entries[i].value("fieldsV1", json::object()), p, owned[i]);
    if (entries[i].value("manager", "") == request.manager &&
        entries[i].value("operation", "") == "Apply") {
      my_old = owned[i];
      continue;
    }
    if (entries[i].value("operation", "") != "Apply") continue;
    for (const auto& f : mine) {
      if (owned[i].count(f) == 0) continue;
      const json* have = value_at(live, f);
      const json* want = value_at(config, f);
      if (have != nullptr && want != nullptr && *have == *want) continue;
      if (request.force) {
        owned[i].erase(f);
      } else {
        causes.push_back({{"reason", "FieldManagerConflict"},
                          {"message", "conflict with " + go_quote(entries[i].value("manager", ""))},
                          {"field", dotted(f)}});
        by_manager[entries[i].value("manager", "")].push_back(dotted(f));
      }
    }
  }
  if (!causes.empty()) {
    // As structured-merge-diff's conflicts read: one inline, several grouped by manager.
    std::string message;
    if (causes.size() == 1) {
      message = "Apply failed with 1 conflict: " + causes[0]["message"].get<std::string>() + ": " +
                causes[0]["field"].get<std::string>();
    } else {
      message = "Apply failed with " + std::to_string(causes.size()) + " conflicts: ";
      bool first = true;
      for (const auto& [manager, fields] : by_manager) {
        message += (first ? "" : "\n") + ("conflicts with " + go_quote(manager) + ":");
        first = false;
        for (const auto& f : fields)
          message += "\n- " + f;
      }
    }
    return ApiError{409, "Conflict", std::move(message), {{"causes", causes}}};
  }

  json result = live.is_null() ? json::object() : live;
  for (const auto& f : my_old) {
    if (mine.count(f) != 0) continue;
    bool shared = false;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const bool self = entries[i].value("manager", "") == request.manager &&
                        entries[i].value("operation", "") == "Apply";
      if (!self && owned[i].count(f) != 0) shared = true;
    }
    if (!shared) erase_at(result, f);
  }
  result = apply_merge(std::move(result), config);

  json next_entries = json::array();
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const bool self = entries[i].value("manager", "") == request.manager &&
                      entries[i].value("operation", "") == "Apply";
    if (self || owned[i].empty()) continue;
    json e = entries[i];
    e["fieldsV1"] = to_fields_v1(owned[i]);
    next_entries.push_back(e);
  }
  next_entries.push_back({{"manager", request.manager},
                          {"operation", "Apply"},
                          {"apiVersion", request.api_version},
                          {"time", request.now},
                          {"fieldsType", "FieldsV1"},
                          {"fieldsV1", to_fields_v1(mine)}});
  result["metadata"]["managedFields"] = next_entries;
  return result;
}

}  // namespace kubefn::emulator
