#include "kubefn/kafka/status.hpp"

#include <cstdio>
#include <cstdlib>

namespace kubefn::kafka {

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return "OK";
    case ErrorCode::kInvalidConfig:
      return "InvalidConfig";
    case ErrorCode::kInvalidArgument:
      return "InvalidArgument";
    case ErrorCode::kUnreachable:
      return "Unreachable";
    case ErrorCode::kTimeout:
      return "Timeout";
    case ErrorCode::kAuthentication:
      return "Authentication";
    case ErrorCode::kAuthorization:
      return "Authorization";
    case ErrorCode::kUnknownTopic:
      return "UnknownTopic";
    case ErrorCode::kRebalance:
      return "Rebalance";
    case ErrorCode::kMessageTooLarge:
      return "MessageTooLarge";
    case ErrorCode::kFatal:
      return "Fatal";
    case ErrorCode::kClosed:
      return "Closed";
    case ErrorCode::kBroker:
      return "Broker";
  }
  return "Unknown";
}

std::string Status::to_string() const {
  if (ok()) return "OK";
  return std::string(kafka::to_string(code_)) + ": " + message_;
}

void value_of_failed_result(const Status& status) {
  std::fprintf(stderr, "kafka: value() of a failed Result: %s\n", status.to_string().c_str());
  std::abort();
}

}  // namespace kubefn::kafka
