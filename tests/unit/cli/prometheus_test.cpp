#include "kubefn/cli/prometheus.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "kubefn/cli/top.hpp"

namespace kubefn::cli {
namespace {

TEST(Prometheus, ParsesSamplesLabelsAndEscapes) {
  const auto samples = parse_prometheus(
      "# HELP x help text\n"
      "# TYPE x counter\n"
      "x 3\n"
      "y{a=\"1\",b=\"q\\\"uote\\\\d\\nl\"} 2.5e1 1700000000000\n"
      "\n"
      "  z{le=\"+Inf\",} +Inf\r\n"
      "broken{a=\"1\" 4\n"
      "w{} NaN\n"
      "not a sample line\n");
  ASSERT_EQ(samples.size(), 4u);
  EXPECT_EQ(samples[0].name, "x");
  EXPECT_EQ(samples[0].value, 3);
  EXPECT_EQ(samples[1].name, "y");
  EXPECT_EQ(samples[1].labels.at("a"), "1");
  EXPECT_EQ(samples[1].labels.at("b"), "q\"uote\\d\nl");
  EXPECT_EQ(samples[1].value, 25);
  EXPECT_EQ(samples[2].labels.at("le"), "+Inf");
  EXPECT_TRUE(std::isinf(samples[2].value));
  EXPECT_TRUE(std::isnan(samples[3].value));
}

TEST(Prometheus, QuantileInterpolatesInsideTheBucket) {
  // 100 observations: 50 up to 0.1, 40 in (0.1, 0.5], 10 in (0.5, 1].
  std::vector<Bucket> buckets = {{0.1, 50}, {0.5, 90}, {1, 100}, {INFINITY, 100}};
  EXPECT_NEAR(*histogram_quantile(0.5, buckets), 0.1, 1e-9);
  EXPECT_NEAR(*histogram_quantile(0.25, buckets), 0.05, 1e-9);
  EXPECT_NEAR(*histogram_quantile(0.7, buckets), 0.3, 1e-9);
  EXPECT_NEAR(*histogram_quantile(0.99, buckets), 0.95, 1e-9);
  EXPECT_NEAR(*histogram_quantile(1.0, buckets), 1.0, 1e-9);
}

TEST(Prometheus, QuantileEdgeCases) {
  EXPECT_FALSE(histogram_quantile(0.5, {}).has_value());
  EXPECT_FALSE(histogram_quantile(0.5, {{0.1, 0}, {INFINITY, 0}}).has_value());
  // Everything above the highest finite bound: that bound is the best answer.
  EXPECT_NEAR(*histogram_quantile(0.5, {{0.1, 0}, {1, 0}, {INFINITY, 7}}), 1.0, 1e-9);
  // Unsorted input and a racing scrape (non-monotonic counts) are tolerated.
  EXPECT_NEAR(*histogram_quantile(0.5, {{1, 10}, {0.5, 11}, {INFINITY, 10}}), 0.25, 1e-9);
}

std::string gateway_metrics(double hello_ok, double hello_5xx, double echo_ok, double inflight,
                            double b01, double b1, double inf) {
  auto num = [](double v) { return std::to_string(v); };
  return "# TYPE kubefn_gateway_requests_total counter\n"
         "kubefn_gateway_requests_total{namespace=\"default\",function=\"hello\",code=\"200\"} " +
         num(hello_ok) +
         "\n"
         "kubefn_gateway_requests_total{namespace=\"default\",function=\"hello\",code=\"503\"} " +
         num(hello_5xx) +
         "\n"
         "kubefn_gateway_requests_total{namespace=\"team\",function=\"echo\",code=\"200\"} " +
         num(echo_ok) +
         "\n"
         "kubefn_gateway_requests_total{namespace=\"\",function=\"\",code=\"404\"} 1\n"
         "kubefn_gateway_inflight_requests{namespace=\"default\",function=\"hello\"} " +
         num(inflight) +
         "\n"
         "kubefn_gateway_upstream_duration_seconds_bucket{namespace=\"default\",function=\"hello\","
         "le=\"0.01\"} " +
         num(b01) +
         "\n"
         "kubefn_gateway_upstream_duration_seconds_bucket{namespace=\"default\",function=\"hello\","
         "le=\"0.1\"} " +
         num(b1) +
         "\n"
         "kubefn_gateway_upstream_duration_seconds_bucket{namespace=\"default\",function=\"hello\","
         "le=\"+Inf\"} " +
         num(inf) + "\n";
}

TEST(Top, RatesAndQuantilesFromTwoScrapes) {
  auto before = parse_prometheus(gateway_metrics(100, 0, 10, 0, 100, 100, 100));
  // 2 s later: 40 more hello calls (4 failed), 10 more echo calls, 3 in flight; of the 40 new
  // hello observations 20 took <= 10 ms and 20 took (10 ms, 100 ms].
  auto after = parse_prometheus(gateway_metrics(136, 4, 20, 3, 120, 140, 140));
  auto loads = compute_top(before, after, 2.0);
  ASSERT_EQ(loads.size(), 3u);
  EXPECT_EQ(loads[0].name, "");  // the gateway as a whole comes first
  EXPECT_NEAR(loads[0].rps, 25, 1e-9);
  const FunctionLoad* hello = nullptr;
  const FunctionLoad* echo = nullptr;
  for (const auto& l : loads) {
    if (l.name == "hello") hello = &l;
    if (l.name == "echo") echo = &l;
  }
  ASSERT_NE(hello, nullptr);
  ASSERT_NE(echo, nullptr);
  EXPECT_EQ(hello->ns, "default");
  EXPECT_NEAR(hello->rps, 20, 1e-9);
  EXPECT_NEAR(hello->error_rps, 2, 1e-9);
  EXPECT_NEAR(hello->inflight, 3, 1e-9);
  // Only the new observations count: the median sits at the 10 ms bound.
  ASSERT_TRUE(hello->p50.has_value());
  EXPECT_NEAR(*hello->p50, 0.01, 1e-9);
  EXPECT_NEAR(*hello->p99, 0.01 + 0.09 * (39.6 - 20) / 20, 1e-9);
  EXPECT_EQ(echo->ns, "team");
  EXPECT_NEAR(echo->rps, 5, 1e-9);
  EXPECT_FALSE(echo->p50.has_value());
}

TEST(Top, NoNewObservationsFallsBackToAllOfThem) {
  auto scrape = parse_prometheus(gateway_metrics(10, 0, 0, 0, 10, 10, 10));
  auto loads = compute_top(scrape, scrape, 1.0);
  for (const auto& l : loads) {
    if (l.name != "hello") continue;
    EXPECT_EQ(l.rps, 0);
    ASSERT_TRUE(l.p50.has_value());
    EXPECT_NEAR(*l.p50, 0.005, 1e-9);
    return;
  }
  FAIL() << "hello missing";
}

TEST(Top, GatewayWithoutPerFunctionLatencyStillShowsTotals) {
  auto samples = parse_prometheus(
      "kubefn_gateway_inflight_requests 2\n"
      "kubefn_gateway_upstream_duration_seconds_bucket{le=\"0.5\"} 4\n"
      "kubefn_gateway_upstream_duration_seconds_bucket{le=\"+Inf\"} 4\n");
  auto loads = compute_top(samples, samples, 1.0);
  ASSERT_EQ(loads.size(), 1u);
  EXPECT_EQ(loads[0].name, "");
  EXPECT_EQ(loads[0].inflight, 2);
  EXPECT_NEAR(*loads[0].p50, 0.25, 1e-9);
}

TEST(Top, FormatsSeconds) {
  EXPECT_EQ(format_seconds(std::nullopt), "-");
  EXPECT_EQ(format_seconds(0.00042), "420us");
  EXPECT_EQ(format_seconds(0.0125), "12.5ms");
  EXPECT_EQ(format_seconds(1.2), "1.20s");
}

}  // namespace
}  // namespace kubefn::cli
