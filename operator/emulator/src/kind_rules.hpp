#pragma once

// Per-kind behaviour of the real API server that the emulator reproduces on create: defaulting
// (Deployments, Namespaces) and name validation.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "resource_types.hpp"

namespace kubefn::emulator {

// Fills the defaults a real server adds on create.
void apply_create_defaults(const ResourceType& type, nlohmann::json& object);
// Why a name is rejected, as the real server words it (empty when valid): a DNS-1123 subdomain,
// a label for namespaces.
std::vector<std::string> name_problems(const ResourceType& type, const std::string& name);
// True for the kind whose objects (re)define served resources.
inline bool is_crd(const ResourceType& t) {
  return t.group == "apiextensions.k8s.io" && t.resource == "customresourcedefinitions";
}
inline bool is_namespace(const ResourceType& t) {
  return t.group.empty() && t.resource == "namespaces";
}
// Sets the status conditions the apiextensions controllers would set (names accepted,
// established).
void establish_crd(nlohmann::json& crd, const std::string& now);

}  // namespace kubefn::emulator
