// What `kubefn cost` and the console show: one function's use over a window, priced, beside the
// same load on the hosted comparison and on one replica kept running all the time.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kubefn/metering/meter.hpp"
#include "kubefn/metering/price_sheet.hpp"

namespace kubefn::metering {

// Totals at the end of the window minus totals at its start (a counter that went backwards,
// a restart without history, counts from zero).
Totals delta(const Totals& end, const Totals* start);

// The q-quantile (0..1) of a cumulative bucket array over kLatencyBuckets (+Inf last), by
// linear interpolation inside the bucket as Prometheus's histogram_quantile does; 0 when empty.
double quantile(const std::array<std::uint64_t, kLatencyBuckets.size() + 1>& buckets, double q);

struct FunctionCost {
  std::string ns, name;
  double window_seconds = 0;
  std::array<std::uint64_t, 4> invocations{};  // by Outcome
  std::uint64_t invocations_total = 0;
  double latency_p50 = 0, latency_p99 = 0;  // seconds, caller-visible
  double billed_seconds = 0, gb_seconds = 0;
  std::uint64_t cold_starts = 0;
  ReplicaUsage replicas;
  double utilisation = 0;  // busy / (starting + busy + idle); 0 without replica time
  double cost_requests = 0, cost_cpu = 0, cost_memory = 0, cost_idle = 0, cost_total = 0;
  double idle_share = 0;  // cost_idle / cost_total; 0 when nothing cost anything
  // The same invocations and GB-seconds at the hosted list prices (throttled calls excluded).
  double lambda_cost = 0;
  // One replica of the average size this function's replicas had (cores and GB per
  // replica-second; the default memory size and no CPU when it had no replica time) running
  // for the whole window.
  double always_on_cost = 0;
};

FunctionCost price(const Totals& window, double window_seconds, const PriceSheet& prices);

struct CostReport {
  std::string currency;
  double window_seconds = 0;
  std::int64_t since_unix = 0, until_unix = 0;
  PriceSheet prices;
  std::vector<FunctionCost> functions;  // by namespace, then name
};

nlohmann::json to_json(const CostReport& r);
CostReport report_from_json(const nlohmann::json& j);  // throws nlohmann::json::exception

// The report as an aligned table (one row per function, then a total row), the idle share
// called out in words under it.
std::string to_table(const CostReport& r);

}  // namespace kubefn::metering
