#pragma once

// Errors as values: an ApiError becomes a metav1.Status body with the same HTTP code.

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace kubefn::emulator {

// One cause of an Invalid error, as k8s.io/apimachinery's field.Error renders it.
struct FieldError {
  std::string type;   // "FieldValueInvalid", "FieldValueRequired", ... (the cause's reason)
  std::string field;  // "spec.timeout"
  std::string body;   // "Invalid value: \"x\": must be ..." (the cause's message)
};

struct ApiError {
  int code = 500;
  std::string reason;
  std::string message;
  nlohmann::json details = nullptr;
  int retry_after_s = 0;
  // Warnings the request had gathered before it failed (sent as Warning headers all the same).
  std::vector<std::string> warnings = {};
};

nlohmann::json status_body(const ApiError& e);
// The Status body as the real server writes it: its field order, encoding/json escaping.
std::string status_text(const ApiError& e);
nlohmann::json success_status(const nlohmann::json& details);

ApiError bad_request(std::string message);
ApiError not_found(const std::string& group_resource, const std::string& name);
ApiError resource_not_found();
ApiError already_exists(const std::string& group_resource, const std::string& name);
ApiError conflict(const std::string& group_resource, const std::string& name);
// 422 with one cause per error, as errors.NewInvalid builds it for the kind `kind` of `group`:
// `<Kind>.<group> "<name>" is invalid: <field>: <body>` (several: `[a, b]`).
ApiError invalid(const std::string& group, const std::string& kind, const std::string& name,
                 const std::vector<FieldError>& errors);
ApiError invalid(const std::string& group, const std::string& kind, const std::string& name,
                 const std::string& field, const std::string& cause_reason,
                 const std::string& body);
ApiError method_not_allowed();
// "the body of the request was in an unknown format - accepted media types include: a, b".
ApiError unsupported_media_type(const std::vector<std::string>& accepted);
ApiError gone(std::string message);

template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Result(ApiError error) : v_(std::move(error)) {}  // NOLINT
  bool ok() const { return v_.index() == 0; }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  const ApiError& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, ApiError> v_;
};

}  // namespace kubefn::emulator
