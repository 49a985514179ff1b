#include "kubefn/kube/rate_limiter.hpp"

#include <gtest/gtest.h>

#include "kubefn/kube/fake_clock.hpp"
#include "kubefn/kube/retry_policy.hpp"

namespace kubefn::kube {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(ItemExponentialRateLimiter, DoublesPerItemUpToMaxAndResetsOnForget) {
  ItemExponentialRateLimiter limiter(seconds(1), seconds(10));
  EXPECT_EQ(limiter.when("a"), seconds(1));
  EXPECT_EQ(limiter.when("a"), seconds(2));
  EXPECT_EQ(limiter.when("a"), seconds(4));
  EXPECT_EQ(limiter.when("a"), seconds(8));
  EXPECT_EQ(limiter.when("a"), seconds(10));
  EXPECT_EQ(limiter.when("a"), seconds(10));
  EXPECT_EQ(limiter.retries("a"), 6);
  EXPECT_EQ(limiter.when("b"), seconds(1)) << "items back off independently";
  limiter.forget("a");
  EXPECT_EQ(limiter.retries("a"), 0);
  EXPECT_EQ(limiter.when("a"), seconds(1));
}

TEST(TokenBucketRateLimiter, AllowsBurstThenPacesAndRefills) {
  FakeClock clock;
  TokenBucketRateLimiter bucket(clock, /*per_second=*/2.0, /*burst=*/2);
  EXPECT_EQ(bucket.when("x"), Clock::Duration::zero());
  EXPECT_EQ(bucket.when("y"), Clock::Duration::zero());
  EXPECT_EQ(bucket.when("z"), milliseconds(500));
  EXPECT_EQ(bucket.when("w"), milliseconds(1000));
  clock.advance(seconds(10));  // refills to the burst, no more
  EXPECT_EQ(bucket.when("x"), Clock::Duration::zero());
  EXPECT_EQ(bucket.when("x"), Clock::Duration::zero());
  EXPECT_EQ(bucket.when("x"), milliseconds(500));
}

TEST(MaxOfRateLimiter, TakesTheLongestDelay) {
  FakeClock clock;
  std::vector<std::unique_ptr<RateLimiter>> limiters;
  limiters.push_back(std::make_unique<ItemExponentialRateLimiter>(milliseconds(100), seconds(5)));
  limiters.push_back(std::make_unique<TokenBucketRateLimiter>(clock, 1.0, 1));
  MaxOfRateLimiter limiter(std::move(limiters));
  EXPECT_EQ(limiter.when("a"), milliseconds(100));
  EXPECT_EQ(limiter.when("b"), seconds(1)) << "the bucket is empty";
  EXPECT_EQ(limiter.retries("a"), 1);
  limiter.forget("a");
  EXPECT_EQ(limiter.retries("a"), 0);
}

TEST(Backoff, GrowsWithJitterWithinBounds) {
  Backoff backoff{milliseconds(100), seconds(1)};
  std::mt19937_64 random(42);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const auto nominal = std::min<Clock::Duration>(milliseconds(100) * (1 << attempt), seconds(1));
    for (int i = 0; i < 20; ++i) {
      const auto delay = backoff.delay(attempt, random);
      EXPECT_GE(delay, nominal / 2);
      EXPECT_LE(delay, nominal);
    }
  }
}

}  // namespace
}  // namespace kubefn::kube
