// `kubefn cost`'s parts: windows, the Prometheus queries, and the report from their answers.
#include "kubefn/cli/cost.hpp"

#include <gtest/gtest.h>

namespace kubefn::cli {
namespace {

using nlohmann::json;

TEST(CostWindow, DurationsInSecondsMinutesHoursAndDays) {
  EXPECT_EQ(parse_duration_seconds("90s"), 90);
  EXPECT_EQ(parse_duration_seconds("15m"), 900);
  EXPECT_EQ(parse_duration_seconds("6h"), 21600);
  EXPECT_EQ(parse_duration_seconds("7d"), 604800);
  EXPECT_EQ(parse_duration_seconds("1h30m"), 5400);
  EXPECT_EQ(parse_duration_seconds("3600"), 3600);
  EXPECT_EQ(parse_duration_seconds("1.5h"), 5400);
  for (const char* bad : {"", "h", "1x", "-5m", "0s", "1h30", "soon", "5m "}) {
    EXPECT_EQ(parse_duration_seconds(bad), std::nullopt) << bad;
  }
}

TEST(CostQueries, IncreasesOverTheWindowByFunction) {
  const auto queries = cost_queries(3600);
  std::map<std::string, std::string> by_name(queries.begin(), queries.end());
  EXPECT_EQ(by_name["invocations"],
            "sum by (namespace, function, outcome) "
            "(increase(kubefn_function_invocations_total[3600s]))");
  EXPECT_EQ(by_name["latency"],
            "sum by (namespace, function, le) "
            "(increase(kubefn_function_latency_seconds_bucket[3600s]))");
  EXPECT_EQ(by_name["price_cpu"], "max by (currency) (kubefn_price_cpu_core_hour)");
}

json vector_answer(std::vector<std::pair<json, double>> samples) {
  json result = json::array();
  for (const auto& [labels, v] : samples) {
    result.push_back(
        {{"metric", labels}, {"value", json::array({1796210000.0, std::to_string(v)})}});
  }
  return {{"status", "success"}, {"data", {{"resultType", "vector"}, {"result", result}}}};
}

std::map<std::string, json> empty_answers() {
  std::map<std::string, json> answers;
  for (const auto& [name, q] : cost_queries(3600))
    answers[name] = vector_answer({});
  return answers;
}

TEST(CostFromPrometheus, BuildsEachFunctionsReportFromTheIncreases) {
  auto answers = empty_answers();
  const json hello = {{"namespace", "default"}, {"function", "hello"}};
  auto with = [&](std::initializer_list<std::pair<const char*, const char*>> extra) {
    json l = hello;
    for (const auto& [k, v] : extra)
      l[k] = v;
    return l;
  };
  answers["invocations"] = vector_answer({{with({{"outcome", "success"}}), 999.6},
                                          {with({{"outcome", "error"}}), 1},
                                          {with({{"outcome", "throttled"}}), 2}});
  answers["billed"] = vector_answer({{hello, 20}});
  answers["gb"] = vector_answer({{hello, 2.5}});
  answers["cold"] = vector_answer({{hello, 3}});
  answers["latency"] = vector_answer({{with({{"le", "0.005"}}), 600},
                                      {with({{"le", "0.01"}}), 995},
                                      {with({{"le", "+Inf"}}), 1003}});
  answers["replica"] = vector_answer({{with({{"state", "starting"}}), 10},
                                      {with({{"state", "busy"}}), 20},
                                      {with({{"state", "idle"}}), 3570}});
  answers["cpu"] = vector_answer({{hello, 360}});
  answers["memory"] = vector_answer({{hello, 450}});
  answers["cost"] = vector_answer({{with({{"component", "cpu"}, {"currency", "EUR"}}), 0.001},
                                   {with({{"component", "idle"}, {"currency", "EUR"}}), 0.004}});
  answers["price_cpu"] = vector_answer({{{{"currency", "EUR"}}, 0.05}});
  // A gateway's series without a function (unrouted calls) is not a function.
  answers["billed"]["data"]["result"].push_back(
      {{"metric", {{"namespace", ""}, {"function", ""}}}, {"value", {1.0, "7"}}});

  auto report = report_from_prometheus(answers, 3600, 1796210000);
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->currency, "EUR");
  EXPECT_DOUBLE_EQ(report->prices.cpu_core_hour, 0.05);
  EXPECT_DOUBLE_EQ(report->prices.memory_gb_hour, metering::PriceSheet{}.memory_gb_hour);
  ASSERT_EQ(report->functions.size(), 1u);
  const auto& f = report->functions[0];
  EXPECT_EQ(f.ns, "default");
  EXPECT_EQ(f.name, "hello");
  EXPECT_EQ(f.invocations_total, 1003u);
  EXPECT_EQ(f.invocations[static_cast<int>(metering::Outcome::kThrottled)], 2u);
  EXPECT_DOUBLE_EQ(f.gb_seconds, 2.5);
  EXPECT_EQ(f.cold_starts, 3u);
  EXPECT_GT(f.latency_p50, 0.0025);
  EXPECT_LE(f.latency_p50, 0.005);
  EXPECT_GT(f.latency_p99, 0.005);
  EXPECT_LE(f.latency_p99, 0.01);
  EXPECT_DOUBLE_EQ(f.replicas.idle_seconds, 3570);
  EXPECT_DOUBLE_EQ(f.cost_total, 0.005);
  EXPECT_DOUBLE_EQ(f.idle_share, 0.8);
  EXPECT_DOUBLE_EQ(f.window_seconds, 3600);
}

TEST(CostFromPrometheus, AFailedQueryIsAnErrorNamingIt) {
  auto answers = empty_answers();
  answers["gb"] = {{"status", "error"}, {"error", "parse error at char 3"}};
  auto report = report_from_prometheus(answers, 3600, 0);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("gb"), std::string::npos);
  EXPECT_NE(report.status().message().find("parse error"), std::string::npos);
  answers = empty_answers();
  answers.erase("cost");
  EXPECT_FALSE(report_from_prometheus(answers, 3600, 0).ok());
  answers = empty_answers();
  answers["cpu"]["data"]["resultType"] = "matrix";
  EXPECT_FALSE(report_from_prometheus(answers, 3600, 0).ok());
}

TEST(CostFromPrometheus, NothingMeteredIsAnEmptyReportAtTheDefaultPrices) {
  auto report = report_from_prometheus(empty_answers(), 60, 100);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->functions.empty());
  EXPECT_EQ(report->currency, "USD");
  EXPECT_EQ(report->since_unix, 40);
}

}  // namespace
}  // namespace kubefn::cli
