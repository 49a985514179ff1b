#include "kind_rules.hpp"

#include <functional>

namespace kubefn::emulator {
namespace {

using nlohmann::json;

void default_deployment(json& obj) {
  auto& spec = obj["spec"];
  if (!spec.is_object()) spec = json::object();
  if (!spec.contains("replicas")) spec["replicas"] = 1;
  if (!spec.contains("revisionHistoryLimit")) spec["revisionHistoryLimit"] = 10;
  if (!spec.contains("progressDeadlineSeconds")) spec["progressDeadlineSeconds"] = 600;
  if (!spec.contains("strategy")) {
    spec["strategy"] = {{"type", "RollingUpdate"},
                        {"rollingUpdate", {{"maxUnavailable", "25%"}, {"maxSurge", "25%"}}}};
  }
}

// A ClusterIP from 10.96.0.0/16, derived from the name: clients only check that one is set.
void default_service(json& obj) {
  auto& spec = obj["spec"];
  if (!spec.is_object()) spec = json::object();
  if (!spec.contains("type")) spec["type"] = "ClusterIP";
  if (spec.value("type", "") == "ExternalName" || spec.contains("clusterIP")) return;
  const std::string key =
      obj["metadata"].value("namespace", "") + "/" + obj["metadata"].value("name", "");
  const std::size_t h = std::hash<std::string>{}(key);
  const std::string ip =
      "10.96." + std::to_string((h >> 8) % 256) + "." + std::to_string(1 + h % 254);
  spec["clusterIP"] = ip;
  spec["clusterIPs"] = json::array({ip});
}

bool lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

}  // namespace

void apply_create_defaults(const ResourceType& type, json& object) {
  if (type.group == "apps" && type.resource == "deployments") default_deployment(object);
  if (type.group.empty() && type.resource == "services") default_service(object);
  if (type.group.empty() && type.resource == "secrets" && object.value("type", "").empty()) {
    object["type"] = "Opaque";
  }
  if (is_namespace(type)) {
    const std::string name = object["metadata"].value("name", "");
    object["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
    object["spec"]["finalizers"] = json::array({"kubernetes"});
    object["status"] = {{"phase", "Active"}};
  }
}

std::optional<std::string> name_problem(const ResourceType& type, const std::string& name) {
  const std::size_t max = is_namespace(type) ? 63 : 253;
  if (name.size() > max) return "must be no more than " + std::to_string(max) + " characters";
  const std::string msg =
      is_namespace(type)
          ? "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
            "'-', and must start and end with an alphanumeric character"
          : "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
            "'-' or '.', and must start and end with an alphanumeric character";
  if (name.empty() || !lower_alnum(name.front()) || !lower_alnum(name.back())) return msg;
  for (char c : name) {
    const bool ok = lower_alnum(c) || c == '-' || (c == '.' && !is_namespace(type));
    if (!ok) return msg;
  }
  return std::nullopt;
}

void establish_crd(json& crd, const std::string& now) {
  const auto& spec = crd.value("spec", json::object());
  json stored = json::array();
  for (const auto& v : spec.value("versions", json::array())) {
    if (v.value("storage", false)) stored.push_back(v.value("name", ""));
  }
  crd["status"] = {{"acceptedNames", spec.value("names", json::object())},
                   {"storedVersions", stored},
                   {"conditions", json::array({{{"type", "NamesAccepted"},
                                                {"status", "True"},
                                                {"reason", "NoConflicts"},
                                                {"message", "no conflicts found"},
                                                {"lastTransitionTime", now}},
                                               {{"type", "Established"},
                                                {"status", "True"},
                                                {"reason", "InitialNamesAccepted"},
                                                {"message", "the initial names have been accepted"},
                                                {"lastTransitionTime", now}}})}};
}

}  // namespace kubefn::emulator
