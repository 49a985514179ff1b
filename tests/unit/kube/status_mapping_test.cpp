#include "kubefn/kube/status_mapping.hpp"

#include <gtest/gtest.h>

#include <string>

#include "kubefn/kube/result.hpp"

namespace kubefn::kube {
namespace {

std::string status_body(int code, const std::string& reason, const std::string& message) {
  return R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":")" +
         message + R"(","reason":")" + reason + R"(","code":)" + std::to_string(code) + "}";
}

struct MappingCase {
  const char* name;
  int http;
  std::string body;
  StatusCode expected;
};

class StatusMappingTest : public ::testing::TestWithParam<MappingCase> {};

TEST_P(StatusMappingTest, MapsReplyToCode) {
  const MappingCase& c = GetParam();
  const Status status = status_from_response(c.http, c.body);
  EXPECT_EQ(status.code(), c.expected) << status.to_string();
  EXPECT_EQ(status.http_status(), c.http);
  EXPECT_FALSE(status.ok());
}

INSTANTIATE_TEST_SUITE_P(
    Replies, StatusMappingTest,
    ::testing::Values(
        // Bodies that are not a Status fall back to the HTTP code.
        MappingCase{"EmptyBody500", 500, "", StatusCode::kInternalError},
        MappingCase{"HtmlBody502", 502, "<html>bad gateway</html>", StatusCode::kInternalError},
        MappingCase{"NotJson404", 404, "nope", StatusCode::kNotFound},
        MappingCase{"UnknownCode418", 418, "", StatusCode::kUnknown},
        // Reasons win over codes.
        MappingCase{"NotFound", 404, status_body(404, "NotFound", "x not found"),
                    StatusCode::kNotFound},
        MappingCase{"AlreadyExists", 409, status_body(409, "AlreadyExists", "exists"),
                    StatusCode::kAlreadyExists},
        MappingCase{"Conflict", 409, status_body(409, "Conflict", "modified"),
                    StatusCode::kConflict},
        MappingCase{"Invalid", 422, status_body(422, "Invalid", "bad"), StatusCode::kInvalid},
        MappingCase{"Forbidden", 403, status_body(403, "Forbidden", "no"), StatusCode::kForbidden},
        MappingCase{"Unauthorized", 401, status_body(401, "Unauthorized", "who"),
                    StatusCode::kUnauthorized},
        MappingCase{"Expired", 410, status_body(410, "Expired", "too old"), StatusCode::kGone},
        MappingCase{"Gone", 410, status_body(410, "Gone", "gone"), StatusCode::kGone},
        MappingCase{"TooManyRequests", 429, status_body(429, "TooManyRequests", "slow"),
                    StatusCode::kTooManyRequests},
        MappingCase{"InternalError", 500, status_body(500, "InternalError", "boom"),
                    StatusCode::kInternalError},
        MappingCase{"ServiceUnavailable", 503, status_body(503, "ServiceUnavailable", "later"),
                    StatusCode::kServiceUnavailable},
        MappingCase{"Timeout", 504, status_body(504, "Timeout", "slow"), StatusCode::kTimeout},
        MappingCase{"BadRequest", 400, status_body(400, "BadRequest", "selector"),
                    StatusCode::kBadRequest},
        MappingCase{"UnsupportedMediaType", 415, status_body(415, "UnsupportedMediaType", "smp"),
                    StatusCode::kUnsupportedMediaType},
        MappingCase{"EmptyReasonUsesCode", 409, status_body(409, "", "x"), StatusCode::kConflict}),
    [](const ::testing::TestParamInfo<MappingCase>& info) { return info.param.name; });

TEST(StatusMapping, KeepsMessageAndReason) {
  const Status status =
      status_from_response(404, status_body(404, "NotFound", "configmaps \\\"x\\\" not found"));
  EXPECT_EQ(status.reason(), "NotFound");
  EXPECT_EQ(status.message(), "configmaps \"x\" not found");
  EXPECT_TRUE(status.is_not_found());
}

TEST(StatusMapping, RetryAfterFromHeaderOrDetails) {
  const Status from_header =
      status_from_response(429, status_body(429, "TooManyRequests", "x"), std::chrono::seconds(3));
  ASSERT_TRUE(from_header.retry_after().has_value());
  EXPECT_EQ(*from_header.retry_after(), std::chrono::seconds(3));

  const Status from_details = status_from_response(
      429,
      R"({"kind":"Status","reason":"TooManyRequests","code":429,"details":{"retryAfterSeconds":2}})");
  ASSERT_TRUE(from_details.retry_after().has_value());
  EXPECT_EQ(*from_details.retry_after(), std::chrono::seconds(2));

  EXPECT_FALSE(status_from_response(500, "").retry_after().has_value());
}

TEST(StatusMapping, ServerErrorsAreServerErrors) {
  EXPECT_TRUE(status_from_response(500, "").is_server_error());
  EXPECT_TRUE(status_from_response(503, "").is_server_error());
  EXPECT_TRUE(status_from_response(504, "").is_server_error());
  EXPECT_FALSE(status_from_response(409, "").is_server_error());
  EXPECT_FALSE(status_from_response(429, "").is_server_error());
}

TEST(Result, HoldsValueOrStatus) {
  Result<int> value = 7;
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(*value, 7);
  EXPECT_TRUE(value.status().ok());

  Result<int> error = Status(StatusCode::kNotFound, "missing");
  ASSERT_FALSE(error.ok());
  EXPECT_TRUE(error.status().is_not_found());
  EXPECT_EQ(error.status().to_string(), "NotFound: missing");
}

}  // namespace
}  // namespace kubefn::kube
