#include "kubefn/nats/status.hpp"

#include <gtest/gtest.h>

#include <memory>

namespace kubefn::nats {
namespace {

TEST(Status, DefaultIsSuccess) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.to_string(), "OK");
}

TEST(Status, SaysWhatTheServerSaid) {
  const Status js =
      Status(ErrorCode::kJetStream, "stream not found").set_server_code(404).set_js_err_code(10059);
  EXPECT_TRUE(js.is_not_found());
  EXPECT_FALSE(js.is_retryable());
  EXPECT_EQ(js.to_string(), "JetStream: stream not found (code 404, err_code 10059)");
  const Status conflict = Status(ErrorCode::kConflict, "Consumer Deleted").set_server_code(409);
  EXPECT_FALSE(conflict.is_not_found());
  EXPECT_EQ(conflict.to_string(), "Conflict: Consumer Deleted (status 409)");
}

TEST(Status, RetryableOnlyWhenTheOutcomeIsUnknownOrNotTried) {
  EXPECT_TRUE(Status(ErrorCode::kDisconnected, "").is_retryable());
  EXPECT_TRUE(Status(ErrorCode::kConnectionLost, "").is_retryable());
  EXPECT_TRUE(Status(ErrorCode::kTimeout, "").is_retryable());
  EXPECT_FALSE(Status(ErrorCode::kAuthorization, "").is_retryable());
  EXPECT_FALSE(Status(ErrorCode::kMaxPayload, "").is_retryable());
  EXPECT_FALSE(Status(ErrorCode::kClosed, "").is_retryable());
}

TEST(Result, HoldsAValueOrAnError) {
  Result<std::unique_ptr<int>> value(std::make_unique<int>(7));
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(**value, 7);
  Result<int> error(Status(ErrorCode::kTimeout, "late"));
  ASSERT_FALSE(error.ok());
  EXPECT_EQ(error.status().code(), ErrorCode::kTimeout);
  // A Result cannot hold success without a value.
  Result<int> misuse{Status()};
  EXPECT_FALSE(misuse.ok());
}

TEST(ResultDeathTest, ValueOfAnErrorAborts) {
  Result<int> error(Status(ErrorCode::kTimeout, "late"));
  EXPECT_DEATH((void)error.value(), "value\\(\\) of a failed Result: Timeout: late");
}

}  // namespace
}  // namespace kubefn::nats
