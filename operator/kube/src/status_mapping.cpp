#include "kubefn/kube/status_mapping.hpp"

#include <array>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

namespace kubefn::kube {
namespace {

constexpr std::array<std::pair<std::string_view, StatusCode>, 15> kReasons{{
    {"BadRequest", StatusCode::kBadRequest},
    {"Unauthorized", StatusCode::kUnauthorized},
    {"Forbidden", StatusCode::kForbidden},
    {"NotFound", StatusCode::kNotFound},
    {"MethodNotAllowed", StatusCode::kMethodNotAllowed},
    {"AlreadyExists", StatusCode::kAlreadyExists},
    {"Conflict", StatusCode::kConflict},
    {"Gone", StatusCode::kGone},
    {"Expired", StatusCode::kGone},
    {"UnsupportedMediaType", StatusCode::kUnsupportedMediaType},
    {"Invalid", StatusCode::kInvalid},
    {"TooManyRequests", StatusCode::kTooManyRequests},
    {"InternalError", StatusCode::kInternalError},
    {"ServiceUnavailable", StatusCode::kServiceUnavailable},
    {"Timeout", StatusCode::kTimeout},
}};

}  // namespace

StatusCode status_code_from_reason(std::string_view reason) {
  for (const auto& [name, code] : kReasons) {
    if (name == reason) return code;
  }
  if (reason == "ServerTimeout") return StatusCode::kTimeout;
  return StatusCode::kUnknown;
}

StatusCode status_code_from_http(int http_status) {
  switch (http_status) {
    case 400:
      return StatusCode::kBadRequest;
    case 401:
      return StatusCode::kUnauthorized;
    case 403:
      return StatusCode::kForbidden;
    case 404:
      return StatusCode::kNotFound;
    case 405:
      return StatusCode::kMethodNotAllowed;
    case 409:
      return StatusCode::kConflict;
    case 410:
      return StatusCode::kGone;
    case 415:
      return StatusCode::kUnsupportedMediaType;
    case 422:
      return StatusCode::kInvalid;
    case 429:
      return StatusCode::kTooManyRequests;
    case 503:
      return StatusCode::kServiceUnavailable;
    case 504:
      return StatusCode::kTimeout;
    default:
      break;
  }
  if (http_status >= 500 && http_status < 600) return StatusCode::kInternalError;
  return StatusCode::kUnknown;
}

Status status_from_response(int http_status, std::string_view body,
                            std::optional<std::chrono::seconds> retry_after) {
  std::string reason;
  std::string message;
  int code = http_status;
  const auto parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object() && parsed.value("kind", "") == "Status") {
    reason = parsed.value("reason", "");
    message = parsed.value("message", "");
    if (parsed.contains("code") && parsed["code"].is_number_integer()) {
      code = parsed["code"].get<int>();
    }
    // Retry-After may also travel inside the Status.
    const auto details = parsed.find("details");
    if (!retry_after && details != parsed.end() && details->is_object()) {
      const auto seconds = details->find("retryAfterSeconds");
      if (seconds != details->end() && seconds->is_number_integer() && seconds->get<int>() > 0) {
        retry_after = std::chrono::seconds(seconds->get<int>());
      }
    }
  }
  if (http_status == 0) http_status = code;

  StatusCode mapped = status_code_from_reason(reason);
  if (mapped == StatusCode::kUnknown) mapped = status_code_from_http(code);
  if (mapped == StatusCode::kUnknown) mapped = status_code_from_http(http_status);
  if (mapped == StatusCode::kUnknown || mapped == StatusCode::kOk) mapped = StatusCode::kUnknown;

  if (message.empty()) {
    message = "the server responded with HTTP " + std::to_string(http_status);
    if (!body.empty() && body.size() < 512 && !parsed.is_object()) {
      message += ": " + std::string(body);
    }
  }
  Status status(mapped, std::move(message));
  status.set_reason(std::move(reason)).set_http_status(http_status);
  if (retry_after) status.set_retry_after(*retry_after);
  return status;
}

}  // namespace kubefn::kube
