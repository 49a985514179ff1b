// The runtime's busy clock (time with at least one call in flight, what metering splits a
// replica's time by) on a clock the test moves, and what the stats plugin reads of it.
#include "busy_clock.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "kubefn/telemetry/process_collector.hpp"
#include "metrics.hpp"
#include "stats_plugin.hpp"

namespace kubefn::runtime {
namespace {

std::atomic<std::int64_t> g_now_ns{0};
std::int64_t fake_now() {
  return g_now_ns.load();
}
void at_ms(std::int64_t ms) {
  g_now_ns = ms * 1'000'000;
}

TEST(BusyClock, CountsTheUnionOfOverlappingCallsNotTheirSum) {
  // Each row: at (ms), calls beginning (+) or ending (-); then the clock's reading.
  struct Step {
    std::int64_t at_ms;
    int delta;
    double busy_after;
  };
  const std::vector<Step> steps = {
      {100, +1, 0.0},   // idle until 100 ms
      {150, +1, 0.05},  // a second call overlaps the first
      {300, -1, 0.2},   // one still runs
      {400, -1, 0.3},   // idle from 400 ms: 300 ms busy
      {900, +3, 0.3},   // three at once
      {1000, -3, 0.4},  // all end at once
      {1500, +1, 0.4},
  };
  BusyClock clock(&fake_now);
  at_ms(0);
  EXPECT_DOUBLE_EQ(clock.seconds(), 0);
  for (const Step& s : steps) {
    at_ms(s.at_ms);
    clock.add(s.delta);
    EXPECT_NEAR(clock.seconds(), s.busy_after, 1e-9) << "at " << s.at_ms << " ms";
  }
  // The running stretch counts up to now.
  at_ms(1750);
  EXPECT_NEAR(clock.seconds(), 0.65, 1e-9);
  EXPECT_EQ(clock.inflight(), 1);
}

TEST(BusyClock, RacingTransitionsLeaveTheStateTheCountSays) {
  BusyClock clock;  // the real clock
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        clock.add(+1);
        clock.add(-1);
      }
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(clock.inflight(), 0);
  const double settled = clock.seconds();
  // Idle now: the clock stands still.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_DOUBLE_EQ(clock.seconds(), settled);
}

TEST(BusyClock, MovesWithTheRuntimesInFlightCountAndReachesThePlugin) {
  RuntimeMetrics metrics(&fake_now);
  at_ms(10'000);
  metrics.inflight_add(1);
  at_ms(10'250);
  metrics.inflight_add(1);
  at_ms(10'500);
  metrics.inflight_add(-1);
  metrics.inflight_add(-1);
  at_ms(12'000);
  EXPECT_NEAR(metrics.busy_union_seconds(), 0.5, 1e-9);
  kubefn_stats_counters c = read_runtime_counters(metrics);
  EXPECT_NEAR(c.busy_union_seconds, 0.5, 1e-9);
  EXPECT_DOUBLE_EQ(c.inflight, 0);
  // This process's own CPU and resident memory.
  const auto usage = telemetry::read_process_usage();
  ASSERT_TRUE(usage);
  EXPECT_NEAR(c.cpu_seconds, usage->cpu_seconds, 0.1);
  EXPECT_GT(c.rss_bytes, 1 << 20);
}

}  // namespace
}  // namespace kubefn::runtime
