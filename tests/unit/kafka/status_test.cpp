#include "kubefn/kafka/status.hpp"

#include <gtest/gtest.h>

#include "kubefn/kafka/message.hpp"

namespace kubefn::kafka {
namespace {

TEST(Status, DefaultIsSuccess) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.to_string(), "OK");
}

TEST(Status, TextNamesTheCode) {
  Status s(ErrorCode::kUnknownTopic, "consume from 'x': Broker: Unknown topic");
  EXPECT_EQ(s.to_string(), "UnknownTopic: consume from 'x': Broker: Unknown topic");
  EXPECT_FALSE(s.is_retryable());
  EXPECT_TRUE(Status(ErrorCode::kRebalance, "").is_retryable());
  EXPECT_TRUE(Status(ErrorCode::kUnreachable, "").is_retryable());
}

TEST(Result, HoldsAValueOrTheError) {
  Result<int> v(3);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 3);
  Result<int> e(Status(ErrorCode::kTimeout, "no answer"));
  EXPECT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), ErrorCode::kTimeout);
  Result<int> bad{Status()};
  EXPECT_FALSE(bad.ok());  // success is no error to carry
}

TEST(ResultDeathTest, ValueOfAnErrorAborts) {
  Result<int> e(Status(ErrorCode::kTimeout, "no answer"));
  EXPECT_DEATH((void)e.value(), "no answer");
}

TEST(Message, HeaderFindsTheFirstOfAKey) {
  Message m;
  m.headers = {{"a", "1"}, {"b", "2"}, {"a", "3"}};
  ASSERT_NE(m.header("a"), nullptr);
  EXPECT_EQ(m.header("a")->value, "1");
  EXPECT_EQ(m.header("c"), nullptr);
  EXPECT_EQ((TopicPartition{"orders", 2}).to_string(), "orders[2]");
}

}  // namespace
}  // namespace kubefn::kafka
