#pragma once

// Server-side apply turns the applied configuration into a typed value of the CRD's schema before
// merging it (structured-merge-diff). Fields the schema does not declare and scalars of the wrong
// type fail there, whatever fieldValidation says, with a 500 the real server words as
// "failed to create typed patch object (<ns>/<name>; <gvk>): .spec.foo: field not declared in
// schema".

#include <nlohmann/json.hpp>
#include <optional>

#include "api_error.hpp"
#include "compiled_schema.hpp"

namespace kubefn::emulator {

// nullopt when `config` converts; `schema` null (no schema) accepts everything.
std::optional<ApiError> apply_typed_check(const nlohmann::json& config, const SchemaNode* schema);

}  // namespace kubefn::emulator
