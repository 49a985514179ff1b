// The one error shape of the Kafka client: a Status (a code a caller branches on, a message a
// person can act on) and Result<T>, a value or the Status that explains why there is none.
// librdkafka's errors are turned into these in one place (src/rdkafka_error.cpp).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace kubefn::kafka {

enum class ErrorCode {
  kOk,
  kInvalidConfig,    // a bad setting (bootstrap servers, group, TLS, SASL): fix the config
  kInvalidArgument,  // a bad call: unknown partition, empty topic name, ...
  kUnreachable,      // no broker could be reached or all connections are down
  kTimeout,          // no answer (or no delivery) within the call's time
  kAuthentication,   // TLS handshake or SASL login failed
  kAuthorization,    // the broker refused the topic, group or cluster operation (ACLs)
  kUnknownTopic,     // the topic or partition does not exist
  kRebalance,        // a group rebalance got in the way (the commit is retried later)
  kMessageTooLarge,  // larger than the broker's or topic's maximum message size
  kFatal,            // the client cannot go on (fatal idempotence error): create a new one
  kClosed,           // the client was closed
  kBroker,           // any other error the broker or librdkafka reported
};

std::string_view to_string(ErrorCode code);

// An error as a value; default-constructed is success. [[nodiscard]]: a Status dropped is an
// error nobody sees.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Worth trying again as it is: the cause is passing (a broker down, a rebalance, a timeout).
  bool is_retryable() const {
    return code_ == ErrorCode::kUnreachable || code_ == ErrorCode::kTimeout ||
           code_ == ErrorCode::kRebalance;
  }

  // "Unreachable: ..." for logs.
  std::string to_string() const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
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

}  // namespace kubefn::kafka
