// The runtime's side of the stats plugin: the counters it hands over, and a plugin that
// cannot be loaded.
#include "stats_plugin.hpp"

#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <unistd.h>

#include <string>

namespace kubefn::runtime {
namespace {

TEST(StatsCounters, ReadFromTheRuntimeMetricsByName) {
  prometheus::Registry registry;
  auto& calls = prometheus::BuildCounter().Name("function_calls_total").Register(registry);
  calls.Add({{"method", "GET"}}).Increment(3);
  calls.Add({{"method", "POST"}}).Increment(4);
  prometheus::BuildGauge()
      .Name("kubefn_runtime_inflight_requests")
      .Register(registry)
      .Add({})
      .Set(2);
  prometheus::BuildCounter()
      .Name("kubefn_runtime_busy_seconds_total")
      .Register(registry)
      .Add({})
      .Increment(1.25);
  kubefn_stats_counters c = read_runtime_counters(registry);
  EXPECT_EQ(c.requests, 7u);
  EXPECT_DOUBLE_EQ(c.inflight, 2);
  EXPECT_DOUBLE_EQ(c.busy_seconds, 1.25);
}

TEST(StatsPlugin, AMissingPluginTurnsReportsOffWithAReason) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  bool started = true;
  {
    RuntimeMetrics metrics;
    telemetry::LineWriter log(fds[1], 0);
    RuntimeConfig config;
    config.stats_address = "127.0.0.1:9";
    config.stats_plugin = "/nonexistent/stats.so";
    StatsPlugin plugin(metrics, log);
    started = plugin.start(config);
    plugin.stop();  // nothing to stop
  }
  EXPECT_FALSE(started);
  char buf[1024];
  ssize_t n = read(fds[0], buf, sizeof buf);
  ASSERT_GT(n, 0);
  const std::string line(buf, static_cast<std::size_t>(n));
  EXPECT_NE(line.find("\"level\":\"error\""), std::string::npos) << line;
  EXPECT_NE(line.find("load reports are off: cannot load /nonexistent/stats.so"), std::string::npos)
      << line;
  close(fds[0]);
  close(fds[1]);
}

}  // namespace
}  // namespace kubefn::runtime
