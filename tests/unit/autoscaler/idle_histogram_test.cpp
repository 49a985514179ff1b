#include "kubefn/autoscaler/idle_histogram.hpp"

#include <gtest/gtest.h>

namespace kubefn::autoscaler {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

TEST(IdleHistogram, TooFewSamplesIsNotRepresentative) {
  IdleHistogram h;
  for (int i = 0; i < 4; ++i)
    h.record(minutes(10));
  const KeepAlivePlan p = h.plan();
  EXPECT_FALSE(p.representative);
  EXPECT_NE(p.why.find("needed"), std::string::npos) << p.why;
}

TEST(IdleHistogram, RegularIdleTimesGiveKeepAliveAndPrewarm) {
  IdleHistogram h;
  // A timer-like function: idle for 10 minutes and some seconds between calls.
  for (int i = 0; i < 40; ++i)
    h.record(minutes(10) + seconds(i % 50));
  EXPECT_EQ(h.percentile_bin(5), 10);
  EXPECT_EQ(h.percentile_bin(99), 10);
  const KeepAlivePlan p = h.plan();
  ASSERT_TRUE(p.representative) << p.why;
  // From the idle times themselves, not their bins: pre-warm at the 5th percentile (601 s) less
  // 2% and 10 s, keep-alive at the 99th (639 s) plus 10%.
  EXPECT_EQ(h.recent_percentile(5), Duration(seconds(601)));
  EXPECT_EQ(h.recent_percentile(99), Duration(seconds(639)));
  EXPECT_EQ(p.prewarm, Duration(seconds(578)));
  EXPECT_EQ(p.keep_alive, Duration(seconds(703)));
}

TEST(IdleHistogram, ShortIdleTimesKeepWarmWithoutPrewarm) {
  IdleHistogram h;
  for (int i = 0; i < 100; ++i)
    h.record(seconds(5 + i % 40));
  for (int i = 0; i < 3; ++i)
    h.record(seconds(90));
  const KeepAlivePlan p = h.plan();
  ASSERT_TRUE(p.representative) << p.why;
  EXPECT_EQ(p.prewarm, Duration::zero());
  EXPECT_EQ(p.keep_alive, Duration(seconds(99)));  // 99th percentile 90 s + 10%
}

TEST(IdleHistogram, PercentilesFollowTheRecentIdleTimes) {
  KeepAliveSettings settings;
  settings.recent = 8;
  IdleHistogram h(settings);
  for (int i = 0; i < 8; ++i)
    h.record(minutes(30));
  for (int i = 0; i < 8; ++i)
    h.record(minutes(10));  // the function's schedule changed: only these are recent now
  EXPECT_EQ(h.samples(), 16u);
  EXPECT_EQ(h.recent_percentile(99), Duration(minutes(10)));
  h.record(std::chrono::hours(9));  // beyond the range: counted at the range's end
  EXPECT_EQ(h.recent_percentile(100), Duration(std::chrono::hours(4)));
}

TEST(IdleHistogram, SpreadIdleTimesFallBack) {
  IdleHistogram h;
  for (int m = 0; m < 240; ++m)
    h.record(minutes(m));  // one per bin: flat
  EXPECT_LT(h.bin_cv(), 0.01);
  const KeepAlivePlan p = h.plan();
  EXPECT_FALSE(p.representative);
  EXPECT_NE(p.why.find("spread"), std::string::npos) << p.why;
}

TEST(IdleHistogram, MostlyOutOfRangeFallsBack) {
  IdleHistogram h;
  for (int i = 0; i < 10; ++i)
    h.record(std::chrono::hours(5));
  for (int i = 0; i < 5; ++i)
    h.record(minutes(3));
  EXPECT_EQ(h.out_of_range(), 10u);
  EXPECT_FALSE(h.plan().representative);
}

}  // namespace
}  // namespace kubefn::autoscaler
