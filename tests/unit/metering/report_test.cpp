#include "kubefn/metering/report.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace kubefn::metering {
namespace {

using Buckets = std::array<std::uint64_t, kLatencyBuckets.size() + 1>;

// Cumulative buckets from per-bucket counts.
Buckets cumulative(std::initializer_list<std::pair<std::size_t, std::uint64_t>> counts) {
  Buckets per{};
  for (auto [i, n] : counts)
    per[i] += n;
  Buckets out{};
  std::uint64_t running = 0;
  for (std::size_t i = 0; i < per.size(); ++i)
    out[i] = running += per[i];
  return out;
}

TEST(Quantile, InterpolatesInsideTheBucket) {
  // 4 in (0, 0.0005], 4 in (0.001, 0.0025], 2 in (0.0025, 0.005].
  const auto b = cumulative({{0, 4}, {2, 4}, {3, 2}});
  EXPECT_DOUBLE_EQ(quantile(b, 0.5), 0.001 + 0.0015 * (1.0 / 4));    // rank 5
  EXPECT_DOUBLE_EQ(quantile(b, 0.99), 0.0025 + 0.0025 * (1.9 / 2));  // rank 9.9
  EXPECT_DOUBLE_EQ(quantile(b, 0.2), 0.0005 * (2.0 / 4));            // rank 2, first bucket
  EXPECT_DOUBLE_EQ(quantile(b, 0.4), 0.0005);                        // rank 4: its top
  EXPECT_DOUBLE_EQ(quantile(b, 1), 0.005);
  EXPECT_DOUBLE_EQ(quantile(b, 0), 0);
}

TEST(Quantile, EmptyIsZeroAndInfIsTheLastFiniteBound) {
  EXPECT_EQ(quantile(Buckets{}, 0.5), 0);
  const auto inf = cumulative({{kLatencyBuckets.size(), 5}});
  EXPECT_EQ(quantile(inf, 0.5), 900);
  const auto mixed = cumulative({{10, 9}, {kLatencyBuckets.size(), 1}});  // 9 in (0.5, 1]
  EXPECT_DOUBLE_EQ(quantile(mixed, 0.5), 0.5 + 0.5 * (5.0 / 9));
  EXPECT_EQ(quantile(mixed, 0.95), 900);
}

TEST(Delta, SubtractsAndCountsFromZeroAfterAReset) {
  Totals start;
  start.ns = "default";
  start.name = "hello";
  start.invocations = {10, 1, 0, 2};
  start.billed_seconds = 1;
  start.latency_buckets = cumulative({{1, 10}});
  start.latency_sum = 0.01;
  start.cost_cpu = 0.5;
  start.replicas.idle_seconds = 100;
  start.replicas_ready = 3;

  Totals end = start;
  end.invocations = {15, 1, 0, 2};
  end.billed_seconds = 1.5;
  end.latency_buckets = cumulative({{1, 12}, {3, 3}});
  end.latency_sum = 0.03;
  end.cost_cpu = 0.75;
  end.replicas.idle_seconds = 160;
  end.replicas_ready = 1;

  auto d = delta(end, &start);
  EXPECT_EQ(d.name, "hello");
  EXPECT_EQ(d.invocations, (std::array<std::uint64_t, 4>{5, 0, 0, 0}));
  EXPECT_DOUBLE_EQ(d.billed_seconds, 0.5);
  EXPECT_EQ(d.latency_buckets, cumulative({{1, 2}, {3, 3}}));
  EXPECT_DOUBLE_EQ(d.latency_sum, 0.02);
  EXPECT_DOUBLE_EQ(d.cost_cpu, 0.25);
  EXPECT_DOUBLE_EQ(d.replicas.idle_seconds, 60);
  EXPECT_EQ(d.replicas_ready, 1);  // a gauge: the end's

  // A restart without history: what went backwards counts from zero.
  Totals restarted;
  restarted.invocations = {3, 0, 0, 0};
  restarted.latency_buckets = cumulative({{1, 3}});
  restarted.billed_seconds = 0.2;
  d = delta(restarted, &start);
  EXPECT_EQ(d.invocations[0], 3u);
  EXPECT_EQ(d.latency_buckets, restarted.latency_buckets);
  EXPECT_DOUBLE_EQ(d.billed_seconds, 0.2);

  EXPECT_EQ(to_json(delta(end, nullptr)), to_json(end));
}

Totals sample_window() {
  Totals w;
  w.ns = "default";
  w.name = "hello";
  w.invocations = {900, 50, 0, 50};
  w.gb_seconds = 10;
  w.billed_seconds = 80;
  w.cold_starts = 2;
  w.latency_buckets = cumulative({{0, 4}, {2, 4}, {3, 2}});
  w.replicas = {10, 90, 260, 180, 90};  // 360 replica-seconds, 0.5 cores and 0.25 GB on average
  w.cost_cpu = 0.001;
  w.cost_memory = 0.0005;
  w.cost_idle = 0.0045;
  return w;
}

TEST(Price, ComparesWithLambdaAndAlwaysOn) {
  const PriceSheet p;
  const auto f = price(sample_window(), 3600, p);
  EXPECT_EQ(f.ns, "default");
  EXPECT_EQ(f.name, "hello");
  EXPECT_EQ(f.window_seconds, 3600);
  EXPECT_EQ(f.invocations_total, 1000u);
  EXPECT_EQ(f.cold_starts, 2u);
  EXPECT_DOUBLE_EQ(f.latency_p50, 0.001375);
  EXPECT_DOUBLE_EQ(f.latency_p99, 0.004875);
  EXPECT_DOUBLE_EQ(f.utilisation, 0.25);
  EXPECT_DOUBLE_EQ(f.cost_total, 0.006);
  EXPECT_DOUBLE_EQ(f.idle_share, 0.75);
  // 950 calls (throttled ones excluded) and 10 GB-seconds at the hosted list prices.
  EXPECT_DOUBLE_EQ(f.lambda_cost, 950 * 0.20 / 1e6 + 10 * 0.0000166667);
  // One replica of 0.5 cores and 0.25 GB for the hour.
  EXPECT_DOUBLE_EQ(f.always_on_cost, 0.5 * 0.031611 + 0.25 * 0.004237);
}

TEST(Price, WithoutReplicaTimeAlwaysOnIsTheDefaultMemory) {
  Totals w;
  w.invocations = {10, 0, 0, 0};
  const auto f = price(w, 3600, PriceSheet{});
  EXPECT_EQ(f.utilisation, 0);
  EXPECT_EQ(f.idle_share, 0);
  EXPECT_EQ(f.cost_total, 0);
  EXPECT_DOUBLE_EQ(f.always_on_cost, 0.125 * 0.004237);
  EXPECT_DOUBLE_EQ(f.lambda_cost, 10 * 0.20 / 1e6);
}

CostReport sample_report() {
  CostReport r;
  r.currency = "USD";
  r.window_seconds = 3600;
  r.since_unix = 1700000000;
  r.until_unix = 1700003600;
  r.functions.push_back(price(sample_window(), 3600, r.prices));
  Totals other;
  other.ns = "team";
  other.name = "resize";
  other.invocations = {3, 0, 1, 0};
  other.latency_buckets = cumulative({{12, 4}});
  other.gb_seconds = 1.5;
  other.replicas = {2, 20, 0, 10, 5};
  other.cost_cpu = 0.002;
  other.cost_memory = 0.001;
  r.functions.push_back(price(other, 3600, r.prices));
  return r;
}

TEST(CostReportJson, HasTheContractsShapeAndRoundTrips) {
  const auto r = sample_report();
  const auto j = to_json(r);
  EXPECT_EQ(j["currency"], "USD");
  EXPECT_EQ(j["window_seconds"], 3600);
  EXPECT_EQ(j["since"], 1700000000);
  EXPECT_EQ(j["until"], 1700003600);
  EXPECT_EQ(j["prices"], to_json(PriceSheet{}));
  ASSERT_EQ(j["functions"].size(), 2u);
  const auto& f = j["functions"][0];
  std::set<std::string> keys;
  for (const auto& [k, v] : f.items())
    keys.insert(k);
  EXPECT_EQ(keys, (std::set<std::string>{
                      "namespace", "name", "window_seconds", "invocations", "latency_p50_seconds",
                      "latency_p99_seconds", "billed_seconds", "gb_seconds", "cold_starts",
                      "replica_seconds", "cpu_core_seconds", "memory_gb_seconds", "utilisation",
                      "cost", "idle_share", "lambda_cost", "always_on_cost"}));
  EXPECT_EQ(f["invocations"],
            nlohmann::json::parse(
                R"({"success":900,"error":50,"timeout":0,"throttled":50,"total":1000})"));
  EXPECT_EQ(f["replica_seconds"], nlohmann::json::parse(R"({"starting":10,"busy":90,"idle":260})"));
  EXPECT_EQ(f["cost"]["total"], 0.006);
  EXPECT_EQ(f["cost"].size(), 5u);

  const auto back = report_from_json(nlohmann::json::parse(j.dump()));
  EXPECT_EQ(to_json(back), j);
  EXPECT_EQ(back.prices, r.prices);
  EXPECT_EQ(back.functions[1].name, "resize");
  EXPECT_EQ(back.functions[0].latency_p99, r.functions[0].latency_p99);

  auto bad = j;
  bad["prices"]["granularity"] = "soon";
  EXPECT_THROW(report_from_json(bad), nlohmann::json::exception);
  bad = j;
  bad["functions"][0].erase("cost");
  EXPECT_THROW(report_from_json(bad), nlohmann::json::exception);
}

TEST(CostTable, RowsTotalAndTheIdleShare) {
  const std::string t = to_table(sample_report());
  EXPECT_NE(t.find("USD"), std::string::npos) << t;
  EXPECT_NE(t.find("last 1h"), std::string::npos) << t;
  for (const char* column : {"NAMESPACE", "NAME", "CALLS", "P50", "P99", "GB-S", "BUSY", "IDLE",
                             "START", "UTIL", "COST", "IDLE%", "LAMBDA", "24x7"})
    EXPECT_NE(t.find(column), std::string::npos) << column;
  // default/hello: 1000 calls, p50 1.375 ms, p99 4.875 ms, 10 GB-s, 90 s busy, 260 idle, 10
  // starting, 25% utilised, 0.006 USD, 75% of it idle, ...
  std::istringstream in(t);
  std::vector<std::string> rows;
  for (std::string line; std::getline(in, line);)
    rows.push_back(line);
  ASSERT_EQ(rows.size(), 6u) << t;  // title, header, 2 functions, TOTAL, the idle line
  EXPECT_EQ(rows[1].rfind("NAMESPACE", 0), 0u);
  std::istringstream hello(rows[2]);
  std::vector<std::string> cells;
  for (std::string c; hello >> c;)
    cells.push_back(c);
  const std::vector<std::string> expected = {
      "default", "hello", "1000", "1.4ms",      "4.9ms", "10.000",      "90.0s",
      "260.0s",  "10.0s", "25%",  "0.00600000", "75%",   "0.000356667", "0.0168648"};
  EXPECT_EQ(cells, expected) << t;
  EXPECT_EQ(rows[4].rfind("TOTAL", 0), 0u) << t;
  EXPECT_NE(rows[4].find(" 1004 "), std::string::npos) << t;
  EXPECT_NE(rows[4].find("0.00900000"), std::string::npos) << t;  // 0.006 + 0.003
  EXPECT_NE(rows[4].find("50%"), std::string::npos) << t;         // 0.0045 / 0.009 idle
  EXPECT_EQ(rows[5].rfind("idle replicas are 50% of the cost (keep-alive): ", 0), 0u) << t;
  EXPECT_NE(rows[5].find("default/hello"), std::string::npos) << t;
  // Columns line up: every row's cells end at the header's right edges.
  EXPECT_EQ(rows[1].size(), rows[2].size()) << t;
}

TEST(CostTable, NoIdleLineWithoutIdleCost) {
  auto r = sample_report();
  r.functions.erase(r.functions.begin());
  const std::string t = to_table(r);
  EXPECT_EQ(t.find("idle replicas are"), std::string::npos) << t;
  EXPECT_NE(t.find(" - "), std::string::npos) << t;  // TOTAL's quantiles
}

TEST(CostTable, EmptyReport) {
  CostReport r;
  r.currency = "USD";
  r.window_seconds = 3600;
  EXPECT_EQ(to_table(r), "no functions metered in the last 1h\n");
  r.window_seconds = 90;
  EXPECT_EQ(to_table(r), "no functions metered in the last 1m30s\n");
}

}  // namespace
}  // namespace kubefn::metering
