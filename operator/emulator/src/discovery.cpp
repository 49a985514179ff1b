#include "discovery.hpp"

#include <algorithm>

namespace kubefn::emulator {
namespace {

using nlohmann::json;

const json kVerbs = {"create", "delete", "deletecollection", "get",
                     "list",   "patch",  "update",           "watch"};
const json kSubVerbs = {"get", "patch", "update"};

// Groups in the order served: built-in ones first, then CRD groups in registration order.
std::vector<std::string> groups_of(const std::vector<ResourceType>& types) {
  std::vector<std::string> out;
  for (const auto& t : types) {
    if (!t.group.empty() && std::find(out.begin(), out.end(), t.group) == out.end())
      out.push_back(t.group);
  }
  return out;
}

std::vector<std::string> versions_of(const std::vector<ResourceType>& types,
                                     const std::string& group) {
  std::vector<std::string> out;
  for (const auto& t : types) {
    if (t.group == group && std::find(out.begin(), out.end(), t.version) == out.end())
      out.push_back(t.version);
  }
  return out;
}

std::string gv(const std::string& group, const std::string& version) {
  return group.empty() ? version : group + "/" + version;
}

json aggregated_resource(const ResourceType& t) {
  json r = {{"resource", t.resource},
            {"singularResource", t.singular},
            {"scope", t.namespaced ? "Namespaced" : "Cluster"},
            {"responseKind", {{"group", t.group}, {"version", t.version}, {"kind", t.kind}}},
            {"verbs", kVerbs}};
  if (!t.short_names.empty()) r["shortNames"] = t.short_names;
  if (!t.categories.empty()) r["categories"] = t.categories;
  json subs = json::array();
  if (t.status_subresource) {
    subs.push_back(
        {{"subresource", "status"},
         {"responseKind", {{"group", t.group}, {"version", t.version}, {"kind", t.kind}}},
         {"verbs", kSubVerbs}});
  }
  if (t.scale) {
    subs.push_back(
        {{"subresource", "scale"},
         {"responseKind", {{"group", "autoscaling"}, {"version", "v1"}, {"kind", "Scale"}}},
         {"verbs", kSubVerbs}});
  }
  if (!subs.empty()) r["subresources"] = subs;
  return r;
}

json group_discovery(const std::vector<ResourceType>& types, const std::string& group) {
  json versions = json::array();
  for (const auto& v : versions_of(types, group)) {
    json resources = json::array();
    for (const auto& t : types) {
      if (t.group == group && t.version == v) resources.push_back(aggregated_resource(t));
    }
    versions.push_back({{"version", v}, {"freshness", "Current"}, {"resources", resources}});
  }
  json meta = json::object();
  if (!group.empty()) meta["name"] = group;
  return {{"metadata", meta}, {"versions", versions}};
}

json api_group(const std::vector<ResourceType>& types, const std::string& group) {
  json versions = json::array();
  for (const auto& v : versions_of(types, group)) {
    versions.push_back({{"groupVersion", gv(group, v)}, {"version", v}});
  }
  return {{"kind", "APIGroup"},
          {"apiVersion", "v1"},
          {"name", group},
          {"versions", versions},
          {"preferredVersion", versions.empty() ? json::object() : versions[0]}};
}

}  // namespace

json version_document() {
  // The pinned cluster version (scripts/tools/versions), as its kube-apiserver reports it.
  return {{"major", "1"},
          {"minor", "34"},
          {"emulationMajor", "1"},
          {"emulationMinor", "34"},
          {"minCompatibilityMajor", "1"},
          {"minCompatibilityMinor", "33"},
          {"gitVersion", "v1.34.4"},
          {"gitCommit", "0000000000000000000000000000000000000000"},
          {"gitTreeState", "clean"},
          {"buildDate", "2026-02-10T12:53:36Z"},
          {"goVersion", "go1.26.8"},
          {"compiler", "gc"},
          {"platform", "linux/amd64"}};
}

json aggregated_discovery(const std::vector<ResourceType>& types, bool core) {
  json items = json::array();
  if (core) {
    items.push_back(group_discovery(types, ""));
  } else {
    for (const auto& g : groups_of(types))
      items.push_back(group_discovery(types, g));
  }
  return {{"kind", "APIGroupDiscoveryList"},
          {"apiVersion", "apidiscovery.k8s.io/v2"},
          {"metadata", json::object()},
          {"items", items}};
}

json legacy_api_versions(const std::string& server_address) {
  return {{"kind", "APIVersions"},
          {"versions", {"v1"}},
          {"serverAddressByClientCIDRs",
           json::array({{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", server_address}}})}};
}

json legacy_group_list(const std::vector<ResourceType>& types) {
  json groups = json::array();
  for (const auto& g : groups_of(types)) {
    json grp = api_group(types, g);
    grp.erase("kind");
    grp.erase("apiVersion");
    groups.push_back(grp);
  }
  return {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", groups}};
}

std::optional<json> legacy_group(const std::vector<ResourceType>& types, const std::string& group) {
  const auto groups = groups_of(types);
  if (std::find(groups.begin(), groups.end(), group) == groups.end()) return std::nullopt;
  return api_group(types, group);
}

std::optional<json> legacy_resource_list(const std::vector<ResourceType>& types,
                                         const std::string& group, const std::string& version) {
  json resources = json::array();
  for (const auto& t : types) {
    if (t.group != group || t.version != version) continue;
    json r = {{"name", t.resource},
              {"singularName", t.singular},
              {"namespaced", t.namespaced},
              {"kind", t.kind},
              {"verbs", kVerbs}};
    if (!t.short_names.empty()) r["shortNames"] = t.short_names;
    if (!t.categories.empty()) r["categories"] = t.categories;
    resources.push_back(r);
    if (t.status_subresource) {
      resources.push_back({{"name", t.resource + "/status"},
                           {"singularName", ""},
                           {"namespaced", t.namespaced},
                           {"kind", t.kind},
                           {"verbs", kSubVerbs}});
    }
    if (t.scale) {
      resources.push_back({{"name", t.resource + "/scale"},
                           {"singularName", ""},
                           {"namespaced", t.namespaced},
                           {"group", "autoscaling"},
                           {"version", "v1"},
                           {"kind", "Scale"},
                           {"verbs", kSubVerbs}});
    }
  }
  if (resources.empty()) return std::nullopt;
  return json{{"kind", "APIResourceList"},
              {"apiVersion", "v1"},
              {"groupVersion", gv(group, version)},
              {"resources", resources}};
}

json openapi_v3_root(const std::vector<ResourceType>& types, uint64_t hash) {
  json paths = json::object();
  const auto h = std::to_string(hash);
  paths["api/v1"] = {{"serverRelativeURL", "/openapi/v3/api/v1?hash=" + h}};
  for (const auto& g : groups_of(types)) {
    for (const auto& v : versions_of(types, g)) {
      std::string p = "apis/";
      p.append(g).append("/").append(v);
      std::string url = "/openapi/v3/";
      url.append(p).append("?hash=").append(h);
      paths[p] = {{"serverRelativeURL", url}};
    }
  }
  return {{"paths", paths}};
}

std::optional<json> openapi_v3_document(const std::vector<ResourceType>& types,
                                        const std::string& gv_path) {
  std::string group;
  std::string version;
  if (gv_path == "api/v1") {
    version = "v1";
  } else if (gv_path.rfind("apis/", 0) == 0) {
    const auto rest = gv_path.substr(5);
    const auto slash = rest.find('/');
    if (slash == std::string::npos) return std::nullopt;
    group = rest.substr(0, slash);
    version = rest.substr(slash + 1);
  } else {
    return std::nullopt;
  }
  json paths = json::object();
  // The fieldValidation parameter on PATCH tells kubectl the server validates fields itself.
  const json params = json::array({{{"name", "fieldValidation"},
                                    {"in", "query"},
                                    {"schema", {{"type", "string"}, {"uniqueItems", true}}}},
                                   {{"name", "fieldManager"},
                                    {"in", "query"},
                                    {"schema", {{"type", "string"}, {"uniqueItems", true}}}}});
  bool any = false;
  bool any_custom = false;
  for (const auto& t : types) {
    if (t.group != group || t.version != version) continue;
    any = true;
    any_custom = any_custom || t.custom;
    std::string prefix = group.empty() ? std::string("/api") : "/apis/" + group;
    prefix.append("/").append(version);
    const std::string path = t.namespaced
                                 ? prefix + "/namespaces/{namespace}/" + t.resource + "/{name}"
                                 : prefix + "/" + t.resource + "/{name}";
    const json gvk = {{"group", t.group}, {"version", t.version}, {"kind", t.kind}};
    paths[path] = {{"patch",
                    {{"x-kubernetes-group-version-kind", gvk},
                     {"x-kubernetes-action", "patch"},
                     {"parameters", params},
                     {"responses", json::object()}}},
                   {"put",
                    {{"x-kubernetes-group-version-kind", gvk},
                     {"x-kubernetes-action", "put"},
                     {"parameters", params},
                     {"responses", json::object()}}}};
    const std::string collection =
        t.namespaced ? prefix + "/namespaces/{namespace}/" + t.resource : prefix + "/" + t.resource;
    paths[collection] = {{"post",
                          {{"x-kubernetes-group-version-kind", gvk},
                           {"x-kubernetes-action", "post"},
                           {"parameters", params},
                           {"responses", json::object()}}}};
  }
  if (!any) return std::nullopt;
  const json info = any_custom ? json{{"title", "Kubernetes CRD Swagger"}, {"version", "v0.1.0"}}
                               : json{{"title", "Kubernetes"}, {"version", "1.34"}};
  return json{{"openapi", "3.0.0"},
              {"info", info},
              {"paths", paths},
              {"components", {{"schemas", json::object()}}}};
}

}  // namespace kubefn::emulator
