#pragma once

// Errors as values: an ApiError becomes a metav1.Status body with the same HTTP code.

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <variant>

namespace kubefn::emulator {

struct ApiError {
  int code = 500;
  std::string reason;
  std::string message;
  nlohmann::json details = nullptr;
  int retry_after_s = 0;
};

nlohmann::json status_body(const ApiError& e);
nlohmann::json success_status(const nlohmann::json& details);

ApiError bad_request(std::string message);
ApiError not_found(const std::string& group_resource, const std::string& name);
ApiError resource_not_found();
ApiError already_exists(const std::string& group_resource, const std::string& name);
ApiError conflict(const std::string& group_resource, const std::string& name);
ApiError invalid(const std::string& group_resource, const std::string& name,
                 const std::string& field, const std::string& cause_reason,
                 const std::string& detail);
ApiError method_not_allowed();
ApiError unsupported_media_type(const std::string& content_type);
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
