#pragma once

// Validation of custom resources against their CRD version, as apiextensions-apiserver's
// customResourceStrategy does it after pruning and defaulting: the openAPIV3Schema (kube-openapi's
// validator: types, bounds, lengths, patterns, formats, enums, required, items, properties,
// allOf/anyOf/oneOf/not), the scale subresource's paths, embedded resources' apiVersion and kind,
// and x-kubernetes-list-type set/map uniqueness. Updates ratchet: errors in values equal to the
// old object's are dropped. CEL rules (x-kubernetes-validations) are not evaluated.

#include <nlohmann/json.hpp>
#include <vector>

#include "api_error.hpp"
#include "resource_types.hpp"

namespace kubefn::emulator {

// A create (`old` null) or an update of the main resource.
std::vector<FieldError> validate_custom_resource(const ResourceType& type,
                                                 const nlohmann::json& object,
                                                 const nlohmann::json* old);
// An update through the status subresource: status against the schema's status property.
std::vector<FieldError> validate_custom_resource_status(const ResourceType& type,
                                                        const nlohmann::json& object,
                                                        const nlohmann::json& old);

}  // namespace kubefn::emulator
