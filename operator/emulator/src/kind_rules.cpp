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

std::vector<std::string> name_problems(const ResourceType& type, const std::string& name) {
  std::vector<std::string> problems;
  const bool label = is_namespace(type);
  const std::size_t max = label ? 63 : 253;
  if (name.size() > max)
    problems.push_back("must be no more than " + std::to_string(max) + " characters");
  // IsDNS1123Label / IsDNS1123Subdomain: dot-separated labels of [a-z0-9-], each starting and
  // ending with an alphanumeric character.
  bool ok = true;
  std::size_t start = 0;
  while (ok) {
    const auto dot = label ? std::string::npos : name.find('.', start);
    const auto part =
        name.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    ok = !part.empty() && lower_alnum(part.front()) && lower_alnum(part.back());
    for (char c : part)
      ok = ok && (lower_alnum(c) || c == '-');
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (!ok) {
    problems.push_back(
        label ? "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
                "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
                "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
              : "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                "characters, '-' or '.', and must start and end with an alphanumeric character "
                "(e.g. 'example.com', regex used for validation is "
                "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
  }
  return problems;
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
