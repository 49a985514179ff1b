#pragma once

#include <cassert>
#include <optional>
#include <utility>

#include "kubefn/kube/status.hpp"

namespace kubefn::kube {

// Reports a Result's value read while it holds an error, and aborts: a checked failure in
// every build, not undefined behaviour (a programming error, like a null dereference).
[[noreturn]] void value_of_failed_result(const Status& status);

// A value or the Status that explains why there is none. value(), * and -> on an error abort
// with the error (check ok() first). [[nodiscard]]: dropping one drops its error.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  Result(Status status) : status_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!status_.ok() && "a Result holding a Status must hold an error");
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

}  // namespace kubefn::kube
