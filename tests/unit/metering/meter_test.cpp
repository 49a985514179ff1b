#include "kubefn/metering/meter.hpp"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <atomic>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "kubefn/testing/metrics_text.hpp"

namespace kubefn::metering::test {
void count_allocations(bool on);  // allocation_counter.cpp
int allocations();
}  // namespace kubefn::metering::test

namespace kubefn::metering {
namespace {

std::string text(const Meter& m) {
  prometheus::TextSerializer s;
  return s.Serialize(m.Collect());
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    out.push_back(line);
  return out;
}

bool has_line(const std::string& text, const std::string& line) {
  for (const auto& l : lines(text))
    if (l == line) return true;
  return false;
}

CallRecord call(Outcome outcome, double execution, double latency = 0.002) {
  CallRecord c;
  c.outcome = outcome;
  c.execution_seconds = execution;
  c.latency_seconds = latency;
  return c;
}

Totals only(const Meter& m) {
  auto all = m.totals();
  EXPECT_EQ(all.size(), 1u);
  return all.empty() ? Totals{} : all.front();
}

TEST(Meter, CountsOutcomes) {
  Meter m;
  auto& f = m.function("default", "hello");
  f.record(call(Outcome::kSuccess, 0.001));
  f.record(call(Outcome::kSuccess, 0.001));
  f.record(call(Outcome::kError, 0.001));
  f.record(call(Outcome::kTimeout, 0.001));
  f.record(call(Outcome::kThrottled, 0));
  const auto t = only(m);
  EXPECT_EQ(t.ns, "default");
  EXPECT_EQ(t.name, "hello");
  EXPECT_EQ(t.invocations, (std::array<std::uint64_t, 4>{2, 1, 1, 1}));
  EXPECT_EQ(t.invocations_total(), 5u);
  EXPECT_EQ(t.latency_buckets.back(), 5u);  // every call, throttled included
  EXPECT_DOUBLE_EQ(t.latency_sum, 5 * 0.002);
}

TEST(Meter, CallsOfEventTriggersAreSplitOutByTrigger) {
  Meter m;
  auto& f = m.function("default", "report");
  auto event = [](Outcome o, double seconds, const char* trigger) {
    CallRecord c = call(o, seconds);
    c.trigger = trigger;
    return c;
  };
  f.record(event(Outcome::kSuccess, 0.0011, "nightly"));  // billed 0.002 s
  f.record(event(Outcome::kError, 0.0004, "nightly"));    // 0.001 s
  f.record(event(Outcome::kSuccess, 0.0004, "async"));
  f.record(event(Outcome::kThrottled, 0, "async"));  // counted, never billed
  f.record(call(Outcome::kSuccess, 0.0004));         // an HTTP call: in the totals only
  const auto t = only(m);
  EXPECT_EQ(t.invocations_total(), 5u);
  ASSERT_EQ(t.by_trigger.size(), 2u);
  EXPECT_EQ(t.by_trigger.at("nightly").invocations, (std::array<std::uint64_t, 4>{1, 1, 0, 0}));
  EXPECT_DOUBLE_EQ(t.by_trigger.at("nightly").billed_seconds, 0.003);
  EXPECT_DOUBLE_EQ(t.by_trigger.at("nightly").gb_seconds, 0.003 * 0.125);
  EXPECT_EQ(t.by_trigger.at("async").invocations, (std::array<std::uint64_t, 4>{1, 0, 0, 1}));
  EXPECT_DOUBLE_EQ(t.by_trigger.at("async").billed_seconds, 0.001);
  EXPECT_DOUBLE_EQ(t.billed_seconds, 0.005);

  const std::string out = text(m);
  EXPECT_EQ(testing::metric_value(out,
                                  "kubefn_function_trigger_invocations_total{namespace=\"default\","
                                  "function=\"report\",trigger=\"nightly\",outcome=\"success\"}"),
            1.0)
      << out;
  EXPECT_EQ(testing::metric_value(out,
                                  "kubefn_function_trigger_invocations_total{namespace=\"default\","
                                  "function=\"report\",trigger=\"async\",outcome=\"throttled\"}"),
            1.0);
  EXPECT_EQ(
      testing::metric_value(out,
                            "kubefn_function_trigger_billed_seconds_total{namespace=\"default\","
                            "function=\"report\",trigger=\"nightly\"}"),
      0.003);
  // No event trigger called: no trigger families at all.
  Meter quiet;
  quiet.function("default", "hello").record(call(Outcome::kSuccess, 0.001));
  EXPECT_EQ(text(quiet).find("kubefn_function_trigger_"), std::string::npos);
}

TEST(Meter, FunctionIsOnePerName) {
  Meter m;
  auto& a = m.function("default", "hello");
  EXPECT_EQ(&a, &m.function("default", "hello"));
  EXPECT_NE(&a, &m.function("other", "hello"));
  EXPECT_NE(&a, &m.function("default", "world"));
  const auto all = m.totals();
  ASSERT_EQ(all.size(), 3u);  // by namespace, then name
  EXPECT_EQ(all[0].name, "hello");
  EXPECT_EQ(all[1].name, "world");
  EXPECT_EQ(all[2].ns, "other");
}

TEST(Meter, BillsRoundedUpTimesMemory) {
  Meter m;
  auto& f = m.function("default", "hello");
  auto c = call(Outcome::kSuccess, 0.0011);
  c.memory_bytes = 256LL << 20;
  f.record(c);  // 0.002 s x 0.25 GB
  auto t = only(m);
  EXPECT_DOUBLE_EQ(t.billed_seconds, 0.002);
  EXPECT_DOUBLE_EQ(t.gb_seconds, 0.002 * 0.25);

  f.record(call(Outcome::kSuccess, 0.0004));  // the default 128 MiB: 0.001 s x 0.125 GB
  t = only(m);
  EXPECT_DOUBLE_EQ(t.billed_seconds, 0.003);
  EXPECT_DOUBLE_EQ(t.gb_seconds, 0.002 * 0.25 + 0.001 * 0.125);

  PriceSheet p;
  p.default_memory_bytes = 1LL << 30;
  p.granularity_seconds = 0.1;
  Meter n(p);
  n.function("default", "hello").record(call(Outcome::kError, 0.05));  // errors are billed
  t = only(n);
  EXPECT_DOUBLE_EQ(t.billed_seconds, 0.1);
  EXPECT_DOUBLE_EQ(t.gb_seconds, 0.1);
}

TEST(Meter, ThrottledCallsAreNeverBilled) {
  PriceSheet p;
  p.requests_per_million = 1;
  Meter m(p);
  auto& f = m.function("default", "hello");
  f.record(call(Outcome::kThrottled, 0.5, 0.0001));
  const auto t = only(m);
  EXPECT_EQ(t.invocations[3], 1u);
  EXPECT_EQ(t.billed_seconds, 0);
  EXPECT_EQ(t.gb_seconds, 0);
  EXPECT_EQ(t.cost_requests, 0);
  EXPECT_EQ(t.latency_buckets[0], 1u);  // in the latency histogram all the same
}

TEST(Meter, ColdStartsAndWaits) {
  Meter m;
  auto& f = m.function("default", "hello");
  auto c = call(Outcome::kSuccess, 0.001, 1.2);
  c.replica_wait_seconds = 1.1;
  f.record(c);
  c.replica_wait_seconds = 0;  // waited, if not long
  f.record(c);
  f.record(call(Outcome::kSuccess, 0.001));  // did not wait
  const auto t = only(m);
  EXPECT_EQ(t.cold_starts, 2u);
  EXPECT_EQ(t.wait_buckets.back(), 2u);
  EXPECT_EQ(t.wait_buckets[0], 1u);   // 0 <= 0.0005
  EXPECT_EQ(t.wait_buckets[9], 1u);   // <= 0.5
  EXPECT_EQ(t.wait_buckets[11], 2u);  // <= 2.5
  EXPECT_DOUBLE_EQ(t.wait_sum, 1.1);
  EXPECT_EQ(t.latency_buckets.back(), 3u);
  EXPECT_EQ(t.latency_buckets[2], 1u);  // 0.002 <= 0.0025
}

TEST(Meter, LatencyOnABoundIsInThatBucket) {
  Meter m;
  auto& f = m.function("default", "hello");
  f.record(call(Outcome::kSuccess, 0.001, 0.001));
  f.record(call(Outcome::kSuccess, 0.001, 1000));  // past the last bound: +Inf only
  const auto t = only(m);
  EXPECT_EQ(t.latency_buckets[0], 0u);
  EXPECT_EQ(t.latency_buckets[1], 1u);
  EXPECT_EQ(t.latency_buckets[kLatencyBuckets.size() - 1], 1u);
  EXPECT_EQ(t.latency_buckets.back(), 2u);
}

TEST(Meter, PriceChangesApplyFromThenOn) {
  PriceSheet a;
  a.requests_per_million = 2;
  PriceSheet b = a;
  b.requests_per_million = 5;
  b.granularity_seconds = 0.1;
  Meter m(a);
  auto& f = m.function("default", "hello");
  for (int i = 0; i < 3; ++i)
    f.record(call(Outcome::kSuccess, 0.05));
  m.set_prices(b);
  EXPECT_EQ(m.prices(), b);
  for (int i = 0; i < 2; ++i)
    f.record(call(Outcome::kSuccess, 0.05));
  const auto t = only(m);
  EXPECT_DOUBLE_EQ(t.cost_requests, 3 * 2e-6 + 2 * 5e-6);
  EXPECT_DOUBLE_EQ(t.billed_seconds, 3 * 0.05 + 2 * 0.1);
  EXPECT_DOUBLE_EQ(t.gb_seconds, (3 * 0.05 + 2 * 0.1) * 0.125);
}

TEST(Meter, ReplicaUsageIsSplitBetweenActiveAndIdle) {
  PriceSheet p;
  p.cpu_core_hour = 3.6;   // 0.001 a core-second
  p.memory_gb_hour = 7.2;  // 0.002 a GB-second
  Meter m(p);
  auto& f = m.function("default", "hello");
  ReplicaUsage u;
  u.starting_seconds = 1;
  u.busy_seconds = 2;
  u.idle_seconds = 1;
  u.cpu_core_seconds = 8;
  u.memory_gb_seconds = 4;
  f.add_replica_usage(u);
  auto t = only(m);
  EXPECT_DOUBLE_EQ(t.replicas.starting_seconds, 1);
  EXPECT_DOUBLE_EQ(t.replicas.busy_seconds, 2);
  EXPECT_DOUBLE_EQ(t.replicas.idle_seconds, 1);
  EXPECT_DOUBLE_EQ(t.replicas.cpu_core_seconds, 8);
  EXPECT_DOUBLE_EQ(t.replicas.memory_gb_seconds, 4);
  EXPECT_DOUBLE_EQ(t.cost_cpu, 8 * 0.75 * 0.001);
  EXPECT_DOUBLE_EQ(t.cost_memory, 4 * 0.75 * 0.002);
  EXPECT_DOUBLE_EQ(t.cost_idle, 8 * 0.25 * 0.001 + 4 * 0.25 * 0.002);
  EXPECT_EQ(t.cost_requests, 0);

  ReplicaUsage idle_only;  // all idle: all of it is the idle cost
  idle_only.idle_seconds = 10;
  idle_only.cpu_core_seconds = 10;
  f.add_replica_usage(idle_only);
  t = only(m);
  EXPECT_DOUBLE_EQ(t.cost_cpu, 8 * 0.75 * 0.001);
  EXPECT_DOUBLE_EQ(t.cost_idle, 0.004 + 10 * 0.001);
  EXPECT_DOUBLE_EQ(t.replicas.idle_seconds, 11);

  f.set_replicas(1, 2);
  t = only(m);
  EXPECT_EQ(t.replicas_starting, 1);
  EXPECT_EQ(t.replicas_ready, 2);
}

TEST(Meter, CollectIsPrometheusText) {
  Meter m;
  auto& f = m.function("default", "hello");
  for (int i = 0; i < 3; ++i)
    f.record(call(Outcome::kSuccess, 0.001, 0.00390625));  // 2^-8: an exact sum
  f.set_replicas(0, 1);
  const std::string t = text(m);
  const std::string fn = R"(namespace="default",function="hello")";
  const std::vector<std::string> expected = {
      "# TYPE kubefn_function_invocations_total counter",
      "kubefn_function_invocations_total{" + fn + R"(,outcome="success"} 3)",
      "kubefn_function_invocations_total{" + fn + R"(,outcome="error"} 0)",
      "kubefn_function_invocations_total{" + fn + R"(,outcome="timeout"} 0)",
      "kubefn_function_invocations_total{" + fn + R"(,outcome="throttled"} 0)",
      "# TYPE kubefn_function_billed_seconds_total counter",
      "kubefn_function_billed_seconds_total{" + fn + "} 0.003",
      "kubefn_function_cold_starts_total{" + fn + "} 0",
      "# TYPE kubefn_function_latency_seconds histogram",
      "kubefn_function_latency_seconds_count{" + fn + "} 3",
      "kubefn_function_latency_seconds_sum{" + fn + "} 0.01171875",
      "kubefn_function_latency_seconds_bucket{" + fn + R"(,le="0.0025"} 0)",
      "kubefn_function_latency_seconds_bucket{" + fn + R"(,le="0.005"} 3)",
      "kubefn_function_latency_seconds_bucket{" + fn + R"(,le="900"} 3)",
      "kubefn_function_latency_seconds_bucket{" + fn + R"(,le="+Inf"} 3)",
      "kubefn_function_replica_wait_seconds_count{" + fn + "} 0",
      "kubefn_function_replica_wait_seconds_bucket{" + fn + R"(,le="+Inf"} 0)",
      "kubefn_function_replica_seconds_total{" + fn + R"(,state="starting"} 0)",
      "kubefn_function_replica_seconds_total{" + fn + R"(,state="busy"} 0)",
      "kubefn_function_replica_seconds_total{" + fn + R"(,state="idle"} 0)",
      "kubefn_function_cpu_core_seconds_total{" + fn + "} 0",
      "kubefn_function_memory_gb_seconds_total{" + fn + "} 0",
      "kubefn_function_cost_total{" + fn + R"(,component="requests",currency="USD"} 0)",
      "kubefn_function_cost_total{" + fn + R"(,component="cpu",currency="USD"} 0)",
      "kubefn_function_cost_total{" + fn + R"(,component="memory",currency="USD"} 0)",
      "kubefn_function_cost_total{" + fn + R"(,component="idle",currency="USD"} 0)",
      "# TYPE kubefn_function_replicas gauge",
      "kubefn_function_replicas{" + fn + R"(,state="starting"} 0)",
      "kubefn_function_replicas{" + fn + R"(,state="ready"} 1)",
      "# TYPE kubefn_price_cpu_core_hour gauge",
      R"(kubefn_price_cpu_core_hour{currency="USD"} 0.031611)",
      R"(kubefn_price_memory_gb_hour{currency="USD"} 0.004237)",
      R"(kubefn_price_requests_per_million{currency="USD"} 0)",
      R"(kubefn_price_lambda_requests_per_million{currency="USD"} 0.2)",
      R"(kubefn_price_lambda_gb_second{currency="USD"} 1.66667e-05)",
      R"(kubefn_price_granularity_seconds{currency="USD"} 0.001)",
      R"(kubefn_price_default_memory_bytes{currency="USD"} 134217728)",
  };
  for (const std::string& line : expected) {
    EXPECT_TRUE(has_line(t, line)) << "missing: " << line << "\nin:\n" << t;
  }
  auto gb = testing::metric_value(t, "kubefn_function_gb_seconds_total{" + fn + "}");
  ASSERT_TRUE(gb.has_value());
  EXPECT_DOUBLE_EQ(*gb, 0.003 * 0.125);
}

TEST(Meter, CollectWithNoFunctionsHasThePrices) {
  Meter m;
  const auto families = m.Collect();
  std::set<std::string> names;
  for (const auto& f : families)
    names.insert(f.name);
  EXPECT_EQ(names, (std::set<std::string>{
                       "kubefn_price_cpu_core_hour", "kubefn_price_memory_gb_hour",
                       "kubefn_price_requests_per_million",
                       "kubefn_price_lambda_requests_per_million", "kubefn_price_lambda_gb_second",
                       "kubefn_price_granularity_seconds", "kubefn_price_default_memory_bytes"}));
}

TEST(Meter, CollectHasEveryFamilyOfTheContract) {
  Meter m;
  m.function("default", "hello");
  std::set<std::string> names;
  for (const auto& f : m.Collect())
    names.insert(f.name);
  for (const char* name :
       {"kubefn_function_invocations_total", "kubefn_function_billed_seconds_total",
        "kubefn_function_gb_seconds_total", "kubefn_function_cold_starts_total",
        "kubefn_function_replica_wait_seconds", "kubefn_function_latency_seconds",
        "kubefn_function_replica_seconds_total", "kubefn_function_cpu_core_seconds_total",
        "kubefn_function_memory_gb_seconds_total", "kubefn_function_cost_total",
        "kubefn_function_replicas"})
    EXPECT_EQ(names.count(name), 1u) << name;
  EXPECT_EQ(names.size(), 11u + 7u);
}

TEST(Meter, RestoreAddsTotalsAndStaysMonotonic) {
  PriceSheet p;
  p.requests_per_million = 1;
  Meter before(p);
  auto& f = before.function("default", "hello");
  auto c = call(Outcome::kSuccess, 0.001, 0.3);
  c.replica_wait_seconds = 0.2;
  f.record(c);
  f.record(call(Outcome::kTimeout, 0.002, 0.004));
  ReplicaUsage u{1, 2, 3, 6, 3};
  f.add_replica_usage(u);
  f.set_replicas(0, 1);
  const auto saved = before.totals();

  Meter after(p);
  after.restore(saved);
  auto t = only(after);
  EXPECT_EQ(to_json(t)["invocations"], to_json(saved[0])["invocations"]);
  EXPECT_EQ(t.latency_buckets, saved[0].latency_buckets);
  EXPECT_EQ(t.wait_buckets, saved[0].wait_buckets);
  EXPECT_DOUBLE_EQ(t.cost_idle, saved[0].cost_idle);
  EXPECT_DOUBLE_EQ(t.cost_cpu, saved[0].cost_cpu);
  EXPECT_DOUBLE_EQ(t.cost_requests, saved[0].cost_requests);
  EXPECT_DOUBLE_EQ(t.replicas.memory_gb_seconds, 3);
  EXPECT_EQ(t.replicas_ready, 0);  // a gauge of this run's replicas

  after.function("default", "hello").record(call(Outcome::kSuccess, 0.001, 0.3));
  t = only(after);
  EXPECT_EQ(t.invocations[0], saved[0].invocations[0] + 1);
  EXPECT_EQ(t.invocations_total(), saved[0].invocations_total() + 1);
  for (std::size_t i = 0; i < t.latency_buckets.size(); ++i)
    EXPECT_GE(t.latency_buckets[i], saved[0].latency_buckets[i]);
  EXPECT_EQ(t.latency_buckets.back(), 3u);
  EXPECT_GT(t.billed_seconds, saved[0].billed_seconds);
  EXPECT_DOUBLE_EQ(t.cost_requests, 3e-6);
}

TEST(Meter, TotalsJsonRoundTrips) {
  Meter m;
  auto& f = m.function("ns", "fn");
  auto c = call(Outcome::kError, 0.0123, 0.05);
  c.replica_wait_seconds = 0.7;
  f.record(c);
  f.add_replica_usage({0.5, 1.25, 2, 1.5, 0.75});
  f.set_replicas(1, 3);
  const Totals t = only(m);
  const auto j = to_json(t);
  EXPECT_EQ(to_json(totals_from_json(j)), j);
  EXPECT_EQ(to_json(totals_from_json(nlohmann::json::parse(j.dump()))), j);
  for (const char* key : {"namespace", "name", "invocations", "billed_seconds", "gb_seconds",
                          "cold_starts", "latency", "wait", "replica_seconds", "cpu_core_seconds",
                          "memory_gb_seconds", "cost", "replicas"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j.size(), 13u);
  EXPECT_EQ(j["latency"]["buckets"].size(), kLatencyBuckets.size() + 1);
  EXPECT_EQ(j["invocations"]["error"], 1);
  EXPECT_EQ(j["replicas"]["ready"], 3);

  auto bad = j;
  bad["latency"]["buckets"].erase(0);
  EXPECT_THROW(totals_from_json(bad), nlohmann::json::exception);
  EXPECT_THROW(totals_from_json(nlohmann::json::object()), nlohmann::json::exception);
}

TEST(Meter, RecordDoesNotAllocateAfterTheFunctionsFirstCall) {
  Meter m;
  auto& f = m.function("default", "hello");
  auto c = call(Outcome::kSuccess, 0.01, 0.02);
  c.replica_wait_seconds = 0.5;
  f.record(c);
  test::count_allocations(true);
  for (int i = 0; i < 1000; ++i) {
    f.record(c);
    f.record(call(Outcome::kThrottled, 0, 0.001));
    f.add_replica_usage({0, 1, 1, 0.5, 0.25});
    f.set_replicas(0, 1);
  }
  const int allocated = test::allocations();
  test::count_allocations(false);
  EXPECT_EQ(allocated, 0);
  EXPECT_EQ(only(m).invocations_total(), 2001u);
}

TEST(Meter, ConcurrentRecordsAreExact) {
  PriceSheet p;
  p.granularity_seconds = 0.5;
  p.requests_per_million = 250000;  // 0.25 a call
  Meter m(p);
  auto& f = m.function("default", "hello");
  constexpr int kThreads = 4, kCalls = 100000;
  std::atomic<bool> done{false};
  std::thread reader([&] {
    while (!done.load())
      (void)m.Collect();
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      auto c = call(t == 0 ? Outcome::kError : Outcome::kSuccess, 0.25, 0.25);
      c.memory_bytes = 1LL << 30;
      if (t == 1) c.replica_wait_seconds = 0.5;
      for (int i = 0; i < kCalls; ++i)
        f.record(c);
    });
  }
  for (auto& w : writers)
    w.join();
  done = true;
  reader.join();
  const auto t = only(m);
  constexpr std::uint64_t kAll = std::uint64_t{kThreads} * kCalls;
  EXPECT_EQ(t.invocations_total(), kAll);
  EXPECT_EQ(t.invocations[1], std::uint64_t{kCalls});
  EXPECT_EQ(t.cold_starts, std::uint64_t{kCalls});
  EXPECT_EQ(t.latency_buckets.back(), kAll);
  EXPECT_EQ(t.latency_buckets[8], kAll);  // 0.25 <= 0.25
  EXPECT_EQ(t.latency_sum, 0.25 * kAll);
  EXPECT_EQ(t.billed_seconds, 0.5 * kAll);
  EXPECT_EQ(t.gb_seconds, 0.5 * kAll);
  EXPECT_EQ(t.cost_requests, 0.25 * kAll);
  EXPECT_EQ(t.wait_sum, 0.5 * kCalls);
}

}  // namespace
}  // namespace kubefn::metering
