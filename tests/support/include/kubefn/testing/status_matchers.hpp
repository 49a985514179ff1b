// GoogleTest matchers for kube::Status and kube::Result<T>, which print the status when they
// fail:
//   EXPECT_THAT(client.create(resource, object, {}), IsOk());
//   EXPECT_THAT(client.get(ref), StatusIs(kube::StatusCode::kNotFound));
#pragma once

#include <gmock/gmock.h>

#include <ostream>
#include <string>

#include "kubefn/kube/result.hpp"
#include "kubefn/kube/status.hpp"

namespace kubefn::kube {

// How GoogleTest prints a Status or a Result in its messages.
inline void PrintTo(const Status& status, std::ostream* os) {
  *os << (status.ok() ? std::string("OK") : status.to_string());
}

template <typename T>
void PrintTo(const Result<T>& result, std::ostream* os) {
  PrintTo(result.status(), os);
}

}  // namespace kubefn::kube

namespace kubefn::testing {
namespace status_matchers_detail {

inline const kube::Status& status_of(const kube::Status& status) {
  return status;
}

template <typename T>
const kube::Status& status_of(const kube::Result<T>& result) {
  return result.status();
}

}  // namespace status_matchers_detail

// The value's status is printed by PrintTo above.
MATCHER(IsOk, negation ? "is an error" : "is OK") {
  return status_matchers_detail::status_of(arg).ok();
}

MATCHER_P(StatusIs, code,
          std::string(negation ? "has a status other than " : "has status ") +
              std::string(kube::to_string(code))) {
  return status_matchers_detail::status_of(arg).code() == code;
}

}  // namespace kubefn::testing
