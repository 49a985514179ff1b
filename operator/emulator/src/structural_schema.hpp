#pragma once

// What the API server does with a custom resource while decoding it, before validation: fields
// the structural schema does not declare are pruned (unless x-kubernetes-preserve-unknown-fields),
// as are unknown fields of metadata (the resource's and embedded resources'); nulls the schema
// does not allow and cannot default are dropped; missing fields that declare a default get it.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "compiled_schema.hpp"

namespace kubefn::emulator {

struct DecodedObject {
  // The pruned fields as the API server names them for fieldValidation: "metadata.foo", then
  // "spec.bar", "spec.ports[0].name", ... sorted, then embedded resources' metadata fields.
  std::vector<std::string> unknown;
  // Non-empty when the object cannot be decoded at all (an embedded resource's kind or
  // apiVersion is not a string): the field error's text, "spec.x.kind: Invalid value: ...".
  std::string error;
};

// `schema` is the version's compiled openAPIV3Schema; null leaves the object unchanged.
DecodedObject prune_and_default(nlohmann::json& object, const SchemaNode* schema);

}  // namespace kubefn::emulator
