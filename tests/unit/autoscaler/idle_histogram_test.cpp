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
  EXPECT_FALSE(p.learned);
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
  // Idle times of 5 to 44 s, and three of 90 s: whether the replica waits for the 90-s ones
  // depends on what a cold start is worth.
  struct Row {
    double cost;
    int keep_s;
  };
  for (const Row row : {Row{60, 99}, Row{30, 49}}) {
    KeepAliveSettings settings;
    settings.cold_start_cost = row.cost;
    IdleHistogram h(settings);
    for (int i = 0; i < 100; ++i)
      h.record(seconds(5 + i % 40));
    for (int i = 0; i < 3; ++i)
      h.record(seconds(90));
    const KeepAlivePlan p = h.plan();
    ASSERT_TRUE(p.learned) << p.why;
    ASSERT_TRUE(p.representative) << p.why;
    EXPECT_EQ(p.prewarm, Duration::zero());
    // 60: up to the 90-s idle times + 10%; 30: up to the 44-s ones + 10%.
    EXPECT_EQ(p.keep_alive, Duration(seconds(row.keep_s))) << "cost " << row.cost;
  }
}

TEST(IdleHistogram, PricedKeepAliveWeighsIdleSecondsAgainstColdStartsSpared) {
  // Idle times of 50 and 100 s, ten each, held from a 30-s grace period: keeping the replica
  // past 50 s spares ten cold starts for 10 x 20 + 10 x 21 replica-seconds (410); past 100 s,
  // twenty for 10 x 20 + 10 x 70 (900).
  struct Row {
    double cost;
    int keep_s;   // what priced_keep_alive returns
    double gain;  // the best value, replica-seconds
  };
  for (const Row row :
       {Row{0, 30, 0}, Row{40, 30, 0}, Row{45, 55, 40}, Row{60, 110, 300}, Row{300, 110, 5100}}) {
    KeepAliveSettings settings;
    settings.cold_start_cost = row.cost;
    IdleHistogram h(settings);
    for (int i = 0; i < 10; ++i) {
      h.record(seconds(50));
      h.record(seconds(100));
    }
    double gain = -1;
    EXPECT_EQ(h.priced_keep_alive(seconds(30), &gain), Duration(seconds(row.keep_s)))
        << "cost " << row.cost;
    EXPECT_DOUBLE_EQ(gain, row.gain) << "cost " << row.cost;
  }
}

TEST(IdleHistogram, BelowTheBreakEvenTheKeepAliveIsTheColdStartsWorth) {
  // All idle times short: the idle times price a short keep-alive, but beyond the longest one
  // seen nothing is known, so the replica stays as long as one cold start is worth.
  KeepAliveSettings settings;
  settings.cold_start_cost = 120;
  IdleHistogram h(settings);
  for (int i = 0; i < 20; ++i)
    h.record(seconds(8));
  const KeepAlivePlan p = h.plan(seconds(30));
  ASSERT_TRUE(p.learned) << p.why;
  EXPECT_EQ(h.priced_keep_alive(seconds(30)), Duration(seconds(30)));
  EXPECT_EQ(p.keep_alive, Duration(seconds(120)));
  settings.cold_start_cost = 0;
  h.retune(settings);
  EXPECT_EQ(h.plan(seconds(30)).keep_alive, Duration(seconds(30)));  // just the grace period
}

TEST(IdleHistogram, APrewarmIsPlannedOnlyWhenItsWindowIsWorthItsPrice) {
  // A timer: idle 600 s +- 20 s. A pre-warm window starts about 40 s before the mean call.
  auto plan_at = [](double cost) {
    KeepAliveSettings settings;
    settings.cold_start_cost = cost;
    IdleHistogram h(settings);
    for (int i = 0; i < 40; ++i)
      h.record(seconds(580 + i));
    return h.plan(seconds(30));
  };
  const KeepAlivePlan worth = plan_at(300);
  ASSERT_TRUE(worth.representative) << worth.why;
  EXPECT_GT(worth.prewarm, Duration(seconds(30)));
  EXPECT_GE(worth.keep_alive, Duration(seconds(619)));
  const KeepAlivePlan cheap = plan_at(10);
  ASSERT_TRUE(cheap.representative) << cheap.why;
  EXPECT_EQ(cheap.prewarm, Duration::zero());
  EXPECT_EQ(cheap.keep_alive, Duration(seconds(30)));  // gone after the grace period
  EXPECT_NE(cheap.why.find("not worth its price"), std::string::npos) << cheap.why;
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

TEST(IdleHistogram, SpreadIdleTimesPlanNoPrewarm) {
  IdleHistogram h;
  for (int m = 0; m < 240; ++m)
    h.record(minutes(m));  // one per bin: flat
  EXPECT_LT(h.bin_cv(), 0.01);
  const KeepAlivePlan p = h.plan();
  EXPECT_FALSE(p.representative);
  EXPECT_EQ(p.prewarm, Duration::zero());
  EXPECT_NE(p.why.find("spread"), std::string::npos) << p.why;
  EXPECT_TRUE(p.learned);  // the keep-alive is still priced from them
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
