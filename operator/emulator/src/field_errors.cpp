#include "field_errors.hpp"

#include "go_format.hpp"

namespace kubefn::emulator {
namespace {

std::string with_detail(std::string body, const std::string& detail) {
  if (!detail.empty()) body += ": " + detail;
  return body;
}

}  // namespace

FieldError field_invalid(const std::string& field, const nlohmann::json& value,
                         const std::string& detail) {
  return {"FieldValueInvalid", field,
          with_detail("Invalid value: " + go_field_value(value), detail)};
}

FieldError field_type_invalid(const std::string& field, const nlohmann::json& value,
                              const std::string& detail) {
  return {"FieldValueTypeInvalid", field,
          with_detail("Invalid value: " + go_field_value(value), detail)};
}

FieldError field_required(const std::string& field, const std::string& detail) {
  return {"FieldValueRequired", field, with_detail("Required value", detail)};
}

FieldError field_not_supported(const std::string& field, const nlohmann::json& value,
                               const std::vector<std::string>& supported) {
  std::string detail;
  if (!supported.empty()) {
    detail = "supported values: ";
    for (std::size_t i = 0; i < supported.size(); ++i)
      detail += (i > 0 ? ", " : "") + go_quote(supported[i]);
  }
  return {"FieldValueNotSupported", field,
          with_detail("Unsupported value: " + go_field_value(value), detail)};
}

FieldError field_too_long(const std::string& field, int64_t max) {
  const std::string detail =
      max >= 0 ? "may not be more than " + std::to_string(max) + (max == 1 ? " byte" : " bytes")
               : "value is too long";
  return {"FieldValueTooLong", field, "Too long: " + detail};
}

FieldError field_too_many(const std::string& field, int64_t actual, int64_t max) {
  const std::string detail =
      max >= 0 ? "must have at most " + std::to_string(max) + (max == 1 ? " item" : " items")
               : "has too many items";
  std::string body = "Too many";
  if (actual >= 0) body += ": " + std::to_string(actual);
  return {"FieldValueTooMany", field, body + ": " + detail};
}

FieldError field_duplicate(const std::string& field, const nlohmann::json& value) {
  return {"FieldValueDuplicate", field, "Duplicate value: " + go_field_value(value)};
}

}  // namespace kubefn::emulator
