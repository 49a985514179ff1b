// The one error shape of the NATS client: a Status (a code a caller branches on, a message a
// person can act on) and Result<T>, a value or the Status that explains why there is none.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace kubefn::nats {

enum class ErrorCode {
  kOk,
  kInvalidArgument,   // a bad subject, header, URL, option or size given by the caller
  kConnectionFailed,  // no server could be reached (TCP connect, handshake)
  kAuthorization,     // the server refused the credentials ('Authorization Violation', ...)
  kPermission,        // the server refused a publish or subscribe ('Permissions Violation')
  kDisconnected,      // not connected right now (reconnecting): the call was not attempted
  kConnectionLost,    // the connection dropped while the call was in flight: outcome unknown
  kClosed,            // the connection was closed (close(), or reconnecting gave up)
  kTimeout,           // no answer within the call's timeout
  kNoResponders,      // status 503: nobody subscribes to the request's subject
  kMaxPayload,        // larger than the server's max_payload
  kProtocol,          // the server sent something this client cannot parse
  kServerError,       // any other -ERR of the server
  kJetStream,         // a JetStream API error: server_code() and js_err_code() say which
  kConflict,          // status 409 on a pull request (consumer deleted, leadership change, ...)
  kSlowConsumer,      // asynchronous: messages dropped because a subscription fell behind
  kUnsupported,       // something the server asks for that this client does not do (TLS)
};

std::string_view to_string(ErrorCode code);
std::ostream& operator<<(std::ostream& os, ErrorCode code);

// An error as a value; default-constructed is success. [[nodiscard]]: a Status dropped is an
// error nobody sees.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // The server's number for this error, when it gave one: the status of a status message
  // (409, 503, ...) or the "code" of a JetStream API error (400, 404, 503, ...); else 0.
  int server_code() const { return server_code_; }
  // The "err_code" of a JetStream API error (10059 "stream not found", ...), else 0.
  int js_err_code() const { return js_err_code_; }
  Status& set_server_code(int code) {
    server_code_ = code;
    return *this;
  }
  Status& set_js_err_code(int code) {
    js_err_code_ = code;
    return *this;
  }

  // A JetStream API 404: stream, consumer or message not found.
  bool is_not_found() const { return code_ == ErrorCode::kJetStream && server_code_ == 404; }
  // Worth calling again once connected: the call did not reach the server or its outcome is
  // unknown (publish JetStream messages with a Nats-Msg-Id so that a retry is deduplicated).
  bool is_retryable() const {
    return code_ == ErrorCode::kDisconnected || code_ == ErrorCode::kConnectionLost ||
           code_ == ErrorCode::kTimeout;
  }

  // "Timeout: no reply on 'x' within 500 ms" for logs.
  std::string to_string() const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
  int server_code_ = 0;
  int js_err_code_ = 0;
};

// Reports a Result's value read while it holds an error, and aborts: a checked failure in
// every build (a programming error, like a null dereference).
[[noreturn]] void value_of_failed_result(const Status& status);

// A value or the Status that explains why there is none. value(), * and -> on an error abort
// with the error (check ok() first).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  Result(Status status) : status_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (status_.ok()) status_ = Status(ErrorCode::kInvalidArgument, "Result built from success");
  }

  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  // Success when a value is held.
  const Status& status() const { return status_; }

  T& value() & { return checked(); }
  const T& value() const& { return checked(); }
  T&& value() && { return std::move(checked()); }
  T& operator*() & { return checked(); }
  const T& operator*() const& { return checked(); }
  T* operator->() { return &checked(); }
  const T* operator->() const { return &checked(); }

 private:
  T& checked() {
    if (!value_.has_value()) value_of_failed_result(status_);
    return *value_;
  }
  const T& checked() const {
    if (!value_.has_value()) value_of_failed_result(status_);
    return *value_;
  }

  std::optional<T> value_;
  Status status_;
};

}  // namespace kubefn::nats
