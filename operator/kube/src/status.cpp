#include "kubefn/kube/status.hpp"

#include <cstdio>
#include <cstdlib>

#include "kubefn/kube/result.hpp"

namespace kubefn::kube {

std::string_view to_string(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "OK";
    case StatusCode::kBadRequest:
      return "BadRequest";
    case StatusCode::kUnauthorized:
      return "Unauthorized";
    case StatusCode::kForbidden:
      return "Forbidden";
    case StatusCode::kNotFound:
      return "NotFound";
    case StatusCode::kMethodNotAllowed:
      return "MethodNotAllowed";
    case StatusCode::kAlreadyExists:
      return "AlreadyExists";
    case StatusCode::kConflict:
      return "Conflict";
    case StatusCode::kGone:
      return "Gone";
    case StatusCode::kUnsupportedMediaType:
      return "UnsupportedMediaType";
    case StatusCode::kInvalid:
      return "Invalid";
    case StatusCode::kTooManyRequests:
      return "TooManyRequests";
    case StatusCode::kInternalError:
      return "InternalError";
    case StatusCode::kServiceUnavailable:
      return "ServiceUnavailable";
    case StatusCode::kTimeout:
      return "Timeout";
    case StatusCode::kNetworkError:
      return "NetworkError";
    case StatusCode::kCancelled:
      return "Cancelled";
    case StatusCode::kInvalidConfig:
      return "InvalidConfig";
    case StatusCode::kUnknown:
      return "Unknown";
  }
  return "Unknown";
}

bool Status::is_server_error() const {
  return code_ == StatusCode::kInternalError || code_ == StatusCode::kServiceUnavailable ||
         code_ == StatusCode::kTimeout || (http_status_ >= 500 && http_status_ < 600);
}

std::string Status::to_string() const {
  std::string text(kube::to_string(code_));
  if (!message_.empty()) text += ": " + message_;
  return text;
}

void value_of_failed_result(const Status& status) {
  std::fprintf(stderr, "kubefn: Result::value() read on an error: %s\n",
               status.to_string().c_str());
  std::abort();
}

}  // namespace kubefn::kube
