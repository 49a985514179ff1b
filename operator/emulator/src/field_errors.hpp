#pragma once

// Field errors as k8s.io/apimachinery/pkg/util/validation/field builds them (Invalid, Required,
// NotSupported, TooLong, TooMany, Duplicate), with the bad value rendered the way Go renders it.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api_error.hpp"

namespace kubefn::emulator {

// field.Invalid: "Invalid value: <value>: <detail>".
FieldError field_invalid(const std::string& field, const nlohmann::json& value,
                         const std::string& detail);
// field.TypeInvalid: the same text, reason FieldValueTypeInvalid.
FieldError field_type_invalid(const std::string& field, const nlohmann::json& value,
                              const std::string& detail);
// field.Required: "Required value[: <detail>]".
FieldError field_required(const std::string& field, const std::string& detail = "");
// field.NotSupported: "Unsupported value: <value>: supported values: \"a\", \"b\"".
FieldError field_not_supported(const std::string& field, const nlohmann::json& value,
                               const std::vector<std::string>& supported);
// field.TooLong: "Too long: may not be more than <max> bytes".
FieldError field_too_long(const std::string& field, int64_t max);
// field.TooMany: "Too many: <actual>: must have at most <max> items".
FieldError field_too_many(const std::string& field, int64_t actual, int64_t max);
// field.Duplicate: "Duplicate value: <value>".
FieldError field_duplicate(const std::string& field, const nlohmann::json& value);

}  // namespace kubefn::emulator
