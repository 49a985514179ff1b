#include "kubefn/nats/status.hpp"

#include <cstdio>
#include <cstdlib>
#include <ostream>

namespace kubefn::nats {

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return "OK";
    case ErrorCode::kInvalidArgument:
      return "InvalidArgument";
    case ErrorCode::kConnectionFailed:
      return "ConnectionFailed";
    case ErrorCode::kAuthorization:
      return "Authorization";
    case ErrorCode::kPermission:
      return "Permission";
    case ErrorCode::kDisconnected:
      return "Disconnected";
    case ErrorCode::kConnectionLost:
      return "ConnectionLost";
    case ErrorCode::kClosed:
      return "Closed";
    case ErrorCode::kTimeout:
      return "Timeout";
    case ErrorCode::kNoResponders:
      return "NoResponders";
    case ErrorCode::kMaxPayload:
      return "MaxPayload";
    case ErrorCode::kProtocol:
      return "Protocol";
    case ErrorCode::kServerError:
      return "ServerError";
    case ErrorCode::kJetStream:
      return "JetStream";
    case ErrorCode::kConflict:
      return "Conflict";
    case ErrorCode::kSlowConsumer:
      return "SlowConsumer";
    case ErrorCode::kUnsupported:
      return "Unsupported";
  }
  return "Unknown";
}

std::ostream& operator<<(std::ostream& os, ErrorCode code) {
  return os << to_string(code);
}

std::string Status::to_string() const {
  if (ok()) return "OK";
  std::string out(nats::to_string(code_));
  out += ": ";
  out += message_;
  if (js_err_code_ != 0) {
    out += " (code " + std::to_string(server_code_) + ", err_code " + std::to_string(js_err_code_) +
           ")";
  } else if (server_code_ != 0) {
    out += " (status " + std::to_string(server_code_) + ")";
  }
  return out;
}

void value_of_failed_result(const Status& status) {
  std::fprintf(stderr, "kubefn::nats: value() of a failed Result: %s\n",
               status.to_string().c_str());
  std::abort();
}

}  // namespace kubefn::nats
