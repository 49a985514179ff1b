#include <string>

#include "kubefn/kube/kube_client.hpp"

namespace kubefn::kube {
namespace {

std::string metadata_string(const nlohmann::json& object, const char* field) {
  if (!object.is_object()) return {};
  const auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return {};
  const auto value = metadata->find(field);
  if (value == metadata->end() || !value->is_string()) return {};
  return value->get<std::string>();
}

}  // namespace

Result<std::string> KubeClient::get_log(const ObjectRef& pod, const LogOptions&) {
  return Status(StatusCode::kMethodNotAllowed,
                "this client does not serve the log of pods/" + pod.name);
}

std::string object_name(const nlohmann::json& object) {
  return metadata_string(object, "name");
}

std::string object_namespace(const nlohmann::json& object) {
  return metadata_string(object, "namespace");
}

std::string object_resource_version(const nlohmann::json& object) {
  return metadata_string(object, "resourceVersion");
}

std::string object_key(const nlohmann::json& object) {
  const std::string ns = object_namespace(object);
  return ns.empty() ? object_name(object) : ns + "/" + object_name(object);
}

}  // namespace kubefn::kube
