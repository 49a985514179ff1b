#pragma once

// kube-openapi's SchemaValidator (pkg/validation/validate) over a compiled schema, with
// apiextensions-apiserver's ratcheting on update and its translation of the results into field
// errors (kubeOpenAPIResultToFieldErrors).

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api_error.hpp"
#include "compiled_schema.hpp"

namespace kubefn::emulator {

// `old` is the value before the update (null on create): errors in parts equal to it are dropped.
// `field_prefix` is the path the errors are reported under: "" for the resource itself (errors at
// its root then read "<nil>", as the real server's do), "status" for the status subresource.
std::vector<FieldError> openapi_validate(const SchemaNode& schema, const nlohmann::json& value,
                                         const nlohmann::json* old,
                                         const std::string& field_prefix);

}  // namespace kubefn::emulator
