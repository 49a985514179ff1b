#pragma once

// What the API server does with a CRD's structural schema before storing a custom resource:
// fields the schema does not declare are pruned (unless x-kubernetes-preserve-unknown-fields)
// and missing fields that declare a default get it. Validation is not performed.

#include <nlohmann/json.hpp>

namespace kubefn::emulator {

// `schema` is the version's openAPIV3Schema; null leaves the object unchanged.
void prune_and_default(nlohmann::json& object, const nlohmann::json& schema);

}  // namespace kubefn::emulator
