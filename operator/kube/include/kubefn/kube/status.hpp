#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace kubefn::kube {

// What went wrong, in the terms a caller branches on. Mirrors the reasons of metav1.Status
// plus the failures that never reach the API server (network, configuration, cancellation).
enum class StatusCode {
  kOk,
  kBadRequest,
  kUnauthorized,
  kForbidden,
  kNotFound,
  kMethodNotAllowed,
  kAlreadyExists,
  kConflict,
  kGone,  // Expired or Gone: a compacted resourceVersion or continue token.
  kUnsupportedMediaType,
  kInvalid,
  kTooManyRequests,
  kInternalError,
  kServiceUnavailable,
  kTimeout,
  kNetworkError,
  kCancelled,
  kInvalidConfig,
  kUnknown,
};

std::string_view to_string(StatusCode code);

// An error as a value. A default-constructed Status is success. [[nodiscard]]: a Status
// returned and dropped is an error nobody sees.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok_status() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // The API server's machine-readable reason (e.g. "Expired"), when there was one.
  const std::string& reason() const { return reason_; }
  Status& set_reason(std::string reason) {
    reason_ = std::move(reason);
    return *this;
  }

  // The HTTP status of the reply that produced this error, or 0.
  int http_status() const { return http_status_; }
  Status& set_http_status(int http_status) {
    http_status_ = http_status;
    return *this;
  }

  // How long the server asked us to wait (Retry-After), when it did.
  std::optional<std::chrono::seconds> retry_after() const { return retry_after_; }
  Status& set_retry_after(std::chrono::seconds delay) {
    retry_after_ = delay;
    return *this;
  }

  bool is_not_found() const { return code_ == StatusCode::kNotFound; }
  bool is_already_exists() const { return code_ == StatusCode::kAlreadyExists; }
  bool is_conflict() const { return code_ == StatusCode::kConflict; }
  bool is_gone() const { return code_ == StatusCode::kGone; }
  bool is_unauthorized() const { return code_ == StatusCode::kUnauthorized; }
  bool is_too_many_requests() const { return code_ == StatusCode::kTooManyRequests; }
  bool is_server_error() const;

  // "NotFound: configmaps "x" not found" style text for logs.
  std::string to_string() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::string reason_;
  int http_status_ = 0;
  std::optional<std::chrono::seconds> retry_after_;
};

}  // namespace kubefn::kube
