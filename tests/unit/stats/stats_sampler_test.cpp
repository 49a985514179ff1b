// The per-second sampling, driven by readings at chosen times; the gateway's samples.
#include <gtest/gtest.h>

#include "kubefn/stats/sampler.hpp"
#include "src/stats_reporter.hpp"  // the gateway's

namespace kubefn::stats {
namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000;  // a whole second, in unix ms

TEST(StatsSampler, OneSamplePerSecondWithDeltasAverageAndPeak) {
  StatsSampler s({"ns", "fn", "fn-abc"});
  EXPECT_FALSE(s.observe(kT0 + 10, {100, 0, 2.0}));
  EXPECT_FALSE(s.observe(kT0 + 300, {103, 2, 2.5}));
  EXPECT_FALSE(s.observe(kT0 + 600, {105, 4, 3.0}));
  EXPECT_FALSE(s.observe(kT0 + 900, {110, 2, 3.5}));
  auto out = s.observe(kT0 + 1005, {112, 0, 4.0});
  ASSERT_TRUE(out);
  EXPECT_EQ(out->namespace_(), "ns");
  EXPECT_EQ(out->function(), "fn");
  EXPECT_EQ(out->replica(), "fn-abc");
  EXPECT_EQ(out->second_start_unix_ms(), kT0);
  // The first sample counts from zero: calls before the first reading are not lost.
  EXPECT_EQ(out->requests(), 112u);
  EXPECT_DOUBLE_EQ(out->inflight_average(), 2.0);
  EXPECT_DOUBLE_EQ(out->inflight_peak(), 4.0);
  EXPECT_DOUBLE_EQ(out->busy_seconds(), 4.0);

  // The next second starts at the reading that closed the previous one.
  auto next = s.observe(kT0 + 2001, {120, 6, 4.5});
  ASSERT_TRUE(next);
  EXPECT_EQ(next->second_start_unix_ms(), kT0 + 1000);
  EXPECT_EQ(next->requests(), 8u);
  EXPECT_DOUBLE_EQ(next->inflight_average(), 0.0);
  EXPECT_DOUBLE_EQ(next->inflight_peak(), 0.0);
}

TEST(StatsSampler, SilentSecondsGiveNoSampleAndClockStepsBackAreIgnored) {
  StatsSampler s({"ns", "fn", "r"});
  EXPECT_FALSE(s.observe(kT0 + 100, {0, 1, 0}));
  // The sampler thread stalled for three seconds: one sample, for the second it had filled.
  auto out = s.observe(kT0 + 3500, {7, 1, 1});
  ASSERT_TRUE(out);
  EXPECT_EQ(out->second_start_unix_ms(), kT0);
  EXPECT_EQ(out->requests(), 7u);
  // A reading from an earlier second (the wall clock stepped back) neither emits nor resets.
  EXPECT_FALSE(s.observe(kT0 + 2500, {9, 5, 1}));
  auto after = s.observe(kT0 + 4000, {10, 1, 1});
  ASSERT_TRUE(after);
  EXPECT_EQ(after->second_start_unix_ms(), kT0 + 3000);
  EXPECT_EQ(after->requests(), 3u);
  EXPECT_DOUBLE_EQ(after->inflight_peak(), 1.0);
}

TEST(StatsSampler, CountersGoingBackwardsRestartTheBaseline) {
  StatsSampler s({"ns", "fn", "r"});
  EXPECT_FALSE(s.observe(kT0, {50, 0, 5}));
  EXPECT_FALSE(s.observe(kT0 + 1000, {2, 0, 0.1}));  // restarted counters: no bogus sample
  auto out = s.observe(kT0 + 2000, {6, 0, 0.3});
  ASSERT_TRUE(out);
  EXPECT_EQ(out->requests(), 4u);
  EXPECT_NEAR(out->busy_seconds(), 0.2, 1e-9);
}

// What metering reads from a replica's seconds: the time it had a call in flight and the CPU
// it used (deltas, like the other counters), and its resident memory at the second's end.
TEST(StatsSampler, BusyUnionAndCpuAreDeltasAndRssIsTheClosingReading) {
  StatsSampler s({"ns", "fn", "r"});
  auto at = [](double busy_union, double cpu, double rss) {
    StatsCounters c;
    c.busy_union_seconds = busy_union;
    c.cpu_seconds = cpu;
    c.rss_bytes = rss;
    return c;
  };
  // Counted from zero in the first sample: the process used them before the first reading.
  EXPECT_FALSE(s.observe(kT0 + 10, at(0.25, 0.5, 10e6)));
  EXPECT_FALSE(s.observe(kT0 + 500, at(0.5, 0.6, 30e6)));
  auto first = s.observe(kT0 + 1010, at(0.75, 0.7, 20e6));
  ASSERT_TRUE(first);
  EXPECT_DOUBLE_EQ(first->busy_union_seconds(), 0.75);
  EXPECT_DOUBLE_EQ(first->cpu_seconds(), 0.7);
  EXPECT_DOUBLE_EQ(first->rss_bytes(), 20e6);
  auto second = s.observe(kT0 + 2010, at(1.5, 0.9, 25e6));
  ASSERT_TRUE(second);
  EXPECT_EQ(second->second_start_unix_ms(), kT0 + 1000);
  EXPECT_DOUBLE_EQ(second->busy_union_seconds(), 0.75);
  EXPECT_NEAR(second->cpu_seconds(), 0.2, 1e-12);
  EXPECT_DOUBLE_EQ(second->rss_bytes(), 25e6);
  // A process that started again (its CPU went backwards) gives no bogus sample.
  EXPECT_FALSE(s.observe(kT0 + 3010, at(1.5, 0.1, 5e6)));
  auto after = s.observe(kT0 + 4010, at(2.0, 0.4, 6e6));
  ASSERT_TRUE(after);
  EXPECT_DOUBLE_EQ(after->busy_union_seconds(), 0.5);
  EXPECT_NEAR(after->cpu_seconds(), 0.3, 1e-12);
  EXPECT_DOUBLE_EQ(after->rss_bytes(), 6e6);
}

TEST(GatewaySample, LeavesOutIdleFunctions) {
  std::vector<gateway::FunctionLoad> loads(2);
  loads[0].ns = "a";
  loads[0].name = "busy";
  loads[0].requests = 5;
  loads[0].queued = 2;
  loads[0].peak_inflight = 3;
  loads[1].ns = "a";
  loads[1].name = "idle";
  auto sample = gateway::gateway_sample("gw-1", kT0, loads);
  ASSERT_TRUE(sample.has_gateway());
  EXPECT_EQ(sample.gateway().gateway(), "gw-1");
  EXPECT_EQ(sample.gateway().second_start_unix_ms(), kT0);
  ASSERT_EQ(sample.gateway().functions_size(), 1);
  EXPECT_EQ(sample.gateway().functions(0).function(), "busy");
  EXPECT_EQ(sample.gateway().functions(0).requests(), 5u);
  EXPECT_EQ(sample.gateway().functions(0).queued(), 2);
  EXPECT_EQ(sample.gateway().functions(0).peak_inflight(), 3);
}

}  // namespace
}  // namespace kubefn::stats
